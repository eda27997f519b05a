"""A second copy of an assignment reaches an agent after the job has ended (the broker
redelivers what was not acknowledged; a bus replays what it sent just before it lost the
broker): the job must not run again."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from agents.agent import Agent
from agents.runner import AgentContext
from emulator.bus.memory import InProcessBus
from emulator.clock import SystemClock
from emulator.domain.events import Assignment, TrainingStatus, agent_topic, training_topic
from tests.requests import training_request

IMAGE = "local/counter:1"
ENDS = {"Completed", "Failed", "Stopped", "MaxRuntimeExceeded"}


def job_spec(name: str, tmp_path: Path) -> dict[str, Any]:
    spec: dict[str, Any] = training_request(name)
    spec["AlgorithmSpecification"]["TrainingImage"] = IMAGE
    spec["OutputDataConfig"]["S3OutputPath"] = (tmp_path / "out").as_uri()
    return spec


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
    ctx = AgentContext(
        work_dir=tmp_path / "jobs",
        clock=SystemClock(),
        images={IMAGE: f"{sys.executable} {program}"},
        use_mount_namespace=False,
        stop_grace_seconds=1.0,
    )
    agent = Agent("agent-test", bus, ctx, slots=1, host="h")
    topic = agent_topic("agent-test", "assignments")
    first = Assignment(ts=1.0, agent="agent-test", job="once", spec=job_spec("once", tmp_path))
    later = Assignment(ts=2.0, agent="agent-test", job="later", spec=job_spec("later", tmp_path))
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
