"""A second copy of an assignment reaches an agent after the job has ended (the broker
redelivers what was not acknowledged; a bus replays what it sent just before it lost the
broker): the job must not run again."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from emulator.bus.memory import InProcessBus
from emulator.domain.events import Assignment, TrainingStatus, agent_topic, training_topic
from tests.program_agent import AGENT, program_agent, program_job

ENDS = {"Completed", "Failed", "Stopped", "MaxRuntimeExceeded"}


async def ended(statuses: Any, job: str) -> None:
    async for _topic, event in statuses:
        if isinstance(event, TrainingStatus) and event.job == job and event.secondary in ENDS:
            return


async def test_a_copy_of_a_carried_out_assignment_does_not_run_the_job_again(
    tmp_path: Path,
) -> None:
    runs = tmp_path / "runs.txt"
    program = tmp_path / "count.py"
    program.write_text(
        "import os\n"
        f"with open({str(runs)!r}, 'a') as out:\n"
        "    out.write(os.environ.get('TRAINING_JOB_NAME', '?') + '\\n')\n"
    )
    bus = InProcessBus()
    agent = program_agent(bus, program, tmp_path)
    topic = agent_topic(AGENT, "assignments")
    first = Assignment(ts=1.0, agent=AGENT, job="once", spec=program_job("once", tmp_path))
    later = Assignment(ts=2.0, agent=AGENT, job="later", spec=program_job("later", tmp_path))
    async with (
        bus.subscribe(training_topic("+", "status")) as statuses,
        agent.running_context(),
    ):
        await bus.publish(topic, first)
        await asyncio.wait_for(ended(statuses, "once"), 60)
        await bus.publish(topic, first)  # the same event again, after its job ended
        await bus.publish(topic, later)  # taken after the copy: when it ends, the copy was seen
        await asyncio.wait_for(ended(statuses, "later"), 60)
    assert runs.read_text().split() == ["once", "later"]
