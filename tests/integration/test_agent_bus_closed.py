"""An agent whose bus closes while a job runs: the job's program is stopped, the job ends
with a clear, retryable reason (which the control plane, hearing nothing more, reaches as a
lost job), and no task is left with an exception nobody retrieved."""

from __future__ import annotations

import asyncio
import gc
import logging
from pathlib import Path

import pytest

from agents.agent import BUS_LOST_REASON
from emulator.bus.base import BusClosed
from emulator.bus.memory import InProcessBus
from emulator.domain.events import Assignment, Event, agent_topic, training_topic
from tests.program_agent import AGENT, program_agent, program_job

PROGRAM = "import time\nwhile True:\n    print('tick', flush=True)\n    time.sleep(0.05)\n"


def running(program: Path) -> bool:
    """Whether a process runs `program`."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(program).encode() in cmdline.read_bytes():
                return True
        except OSError:
            continue
    return False


class ClosingBus(InProcessBus):
    """The in-process bus, closed on demand as an MQTT bus closes: publishing then raises."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = False

    async def publish(self, topic: str, event: Event, *, retain: bool = False) -> None:
        if self.closed:
            raise BusClosed("bus 'amt-agent-test' is closed")
        await super().publish(topic, event, retain=retain)


async def test_a_closed_bus_ends_the_job_with_a_retryable_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    program = tmp_path / "printer.py"
    program.write_text(PROGRAM)
    bus = ClosingBus()
    agent = program_agent(bus, program, tmp_path)
    job = program_job("closing-job", tmp_path)
    caplog.set_level(logging.INFO)
    logs_topic = training_topic("closing-job", "logs")
    async with bus.subscribe(logs_topic) as logs, agent.running_context():
        assignment = Assignment(ts=0.0, agent=AGENT, job="closing-job", spec=job)
        await bus.publish(agent_topic(AGENT, "assignments"), assignment)
        await asyncio.wait_for(logs.__anext__(), 30)  # the program runs
        task, _stop = agent.running["closing-job"]
        bus.closed = True
        await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 30)
        assert task.exception() is None
        assert agent.running == {}
    assert not running(program)
    said = caplog.text
    assert "training job closing-job ended unreported" in said
    assert BUS_LOST_REASON in said
    gc.collect()
    assert "never retrieved" not in said
