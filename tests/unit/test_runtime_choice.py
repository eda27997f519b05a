"""`--runtime process | container | auto`: which jobs run in a container, and what happens
where no engine answers."""

from __future__ import annotations

import pytest

from agents.runtime import container as container_module
from agents.runtime.choice import engine_for, runs_in_container
from agents.runtime.container import Engine
from emulator.clock import SystemClock

CLOCK = SystemClock()
# A stand-in CLI: `image inspect --format {{.Id}} IMAGE` succeeds only for present:1.
HOLDS_PRESENT = Engine(("sh", "-c", 'test "$5" = present:1', "sh"))


def job(image: str) -> dict[str, object]:
    return {"TrainingJobName": "j", "AlgorithmSpecification": {"TrainingImage": image}}


@pytest.mark.parametrize(
    ("kind", "image", "expected"),
    [
        ("process", "present:1", False),
        ("container", "absent:1", True),
        ("auto", "present:1", True),
        ("auto", "absent:1", False),
    ],
)
async def test_which_jobs_run_in_a_container(kind: str, image: str, expected: bool) -> None:
    assert await runs_in_container(kind, HOLDS_PRESENT, job(image), CLOCK) is expected


async def test_without_an_engine_every_job_is_a_process() -> None:
    assert not await runs_in_container("auto", None, job("present:1"), CLOCK)


async def test_auto_never_runs_an_algorithm_resource_in_a_container() -> None:
    spec = {"TrainingJobName": "j", "AlgorithmSpecification": {"AlgorithmName": "algo"}}
    assert not await runs_in_container("auto", HOLDS_PRESENT, spec, CLOCK)


def test_container_without_an_engine_is_refused_with_the_reason() -> None:
    container_module._probe.cache_clear()
    with pytest.raises(SystemExit, match="--runtime container: no container engine here: no"):
        engine_for("container", "no-such-cli")


def test_auto_without_an_engine_runs_processes(caplog: pytest.LogCaptureFixture) -> None:
    assert engine_for("auto", "no-such-cli") is None
    assert "jobs run as processes" in caplog.text
    assert engine_for("process", "no-such-cli") is None
