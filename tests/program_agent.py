"""An `Agent` on an in-process bus whose one image runs a Python program of the test's: the
agent's own behaviour under test, with no control plane, broker or container engine."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from agents.agent import Agent
from agents.runner import AgentContext
from emulator.bus.base import Bus
from emulator.clock import SystemClock
from tests.requests import training_request

AGENT = "agent-test"
IMAGE = "local/program:1"


def program_agent(bus: Bus, program: Path, work: Path) -> Agent:
    """Agent `AGENT` (one slot) running `program` for `IMAGE`, its jobs under `work`."""
    ctx = AgentContext(
        work_dir=work / "jobs",
        clock=SystemClock(),
        images={IMAGE: f"{sys.executable} {program}"},
        use_mount_namespace=False,
        stop_grace_seconds=1.0,
    )
    return Agent(AGENT, bus, ctx, slots=1, host="h")


def program_job(name: str, work: Path) -> dict[str, Any]:
    """A training job's document that runs `IMAGE`, writing its output under `work`."""
    spec: dict[str, Any] = training_request(name)
    spec["AlgorithmSpecification"]["TrainingImage"] = IMAGE
    spec["OutputDataConfig"]["S3OutputPath"] = (work / "out").as_uri()
    return spec
