"""Several `amt agent` processes on one host, as a user starts them: no `--agent-id`, no
`--endpoint`, one `--work-dir` each. Each gets its own stable id, learns the control plane's
S3 endpoint from its assignments, and a tuning job survives one of them killed mid-job. A
second agent on a work dir in use, or a second process under an id already online, refuses
to run with a clear message instead of fighting over the broker."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agents.main import DUPLICATE_EXIT, default_agent_id
from tests.conftest import Server, start_server, wait_for
from tests.integration.test_distributed import (
    AgentProcess,
    agents_of,
    request,
    training_jobs,
)

pytestmark = pytest.mark.slow


def health_agents(server: Server) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{server.endpoint}/health", timeout=10) as response:
        return list(json.load(response)["agents"])


@pytest.fixture
def control(broker, tmp_path: Path) -> Iterator[Server]:
    server = start_server(tmp_path / "control", extra_args=["--bus", broker.url, "--agents", "0"])
    yield server
    server.process.stop()


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[AgentProcess]]:
    agents: list[AgentProcess] = []
    yield agents
    for agent in agents:
        agent.stop()


def test_three_agents_on_one_host_without_ids_one_killed_mid_job(
    broker, control: Server, started: list[AgentProcess], tmp_path: Path
) -> None:
    for i in (1, 2, 3):
        work = tmp_path / f"agent-{i}" / "jobs"
        started.append(AgentProcess(None, broker.url, None, work, log_name=f"agent-{i}"))
    ids = [a.agent_id for a in started]
    assert len(set(ids)) == 3
    assert ids[0] == default_agent_id(ids[0].rsplit("-", 1)[0], tmp_path / "agent-1" / "jobs")
    listed = wait_for(
        lambda: {"agents": health_agents(control)},
        lambda d: sorted(a["agent"] for a in d["agents"] if a["online"]) == sorted(ids),
        30,
    )["agents"]
    assert sorted(a["agent"] for a in listed) == sorted(ids)  # each listed once
    assert not any(a["duplicate"] for a in listed)

    job = request("one-host", jobs=6, epochs=20)  # ~6 s a job: the victim is still running
    job["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxParallelTrainingJobs"] = 3
    control.sagemaker.create_hyper_parameter_tuning_job(**job)
    training = wait_for(
        lambda: {"jobs": training_jobs(control, "one-host")}, lambda d: len(d["jobs"]) >= 1, 120
    )["jobs"]
    victim = agents_of(control)[training[0]]
    next(a for a in started if a.agent_id == victim).kill()
    desc = control.wait_tuning("one-host", timeout=300)
    counters = desc["TrainingJobStatusCounters"]
    assert desc["HyperParameterTuningJobStatus"] == "Completed"
    assert counters["Completed"] == 6
    assert counters["RetryableError"] >= 1
    assert counters["InProgress"] == 0
    # the data came from the endpoint the control plane sent (the agents were given none)
    assert set(agents_of(control).values()) <= set(ids)


def test_a_second_agent_on_a_work_dir_in_use_is_refused(
    broker, started: list[AgentProcess], tmp_path: Path
) -> None:
    work = tmp_path / "shared" / "jobs"
    started.append(AgentProcess(None, broker.url, None, work, log_name="first"))
    second = AgentProcess(None, broker.url, None, work, log_name="second", wait=False)
    started.append(second)
    assert second.proc.wait(60) != 0
    said = second.log.read_text()
    assert f"work directory {work} is in use by agent {started[0].agent_id}" in said
    assert started[0].proc.poll() is None


def test_a_second_process_under_an_online_id_stops_and_says_why(
    broker, control: Server, started: list[AgentProcess], tmp_path: Path
) -> None:
    first = AgentProcess("twin", broker.url, None, tmp_path / "a" / "jobs", log_name="a")
    started.append(first)
    wait_for(
        lambda: {"agents": health_agents(control)},
        lambda d: any(a["agent"] == "twin" and a["online"] for a in d["agents"]),
        30,
    )
    second = AgentProcess(
        "twin", broker.url, None, tmp_path / "b" / "jobs", log_name="b", wait=False
    )
    started.append(second)
    assert second.proc.wait(60) == DUPLICATE_EXIT
    assert "agent id 'twin' is already online on host" in second.log.read_text()
    assert first.proc.poll() is None
    assert "connection lost" not in first.log.read_text()  # its broker session was left alone
    listed = wait_for(
        lambda: {"agents": health_agents(control)},
        lambda d: [a["online"] for a in d["agents"] if a["agent"] == "twin"] == [True],
        30,
    )["agents"]
    assert [a["agent"] for a in listed] == ["twin"]
