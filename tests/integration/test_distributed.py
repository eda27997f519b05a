"""Tuning across processes: a control plane and separate `amt agent` processes over a real
Mosquitto broker, with agents, the broker and the control plane killed mid-tuning."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import IMAGES, Server, start_server, wait_for
from tests.requests import IMAGE, tuning_request

pytestmark = pytest.mark.slow
VERBOSE = ["--log-level", "INFO"]
"""The processes say what they do, for `cluster_state` to show when a test hangs."""


class AgentProcess:
    """`amt agent` in a process of its own; without `agent_id` or `endpoint` it finds them
    itself (its default id; the endpoint the control plane sends)."""

    def __init__(
        self,
        agent_id: str | None,
        broker_url: str,
        endpoint: str | None,
        work: Path,
        *,
        log_name: str | None = None,
        wait: bool = True,
        extra: list[str] | None = None,
    ) -> None:
        cmd = [sys.executable, "-m", "emulator.cli", "agent", "--bus", broker_url, "--slots", "1"]
        cmd += (extra or []) + VERBOSE
        cmd += ["--agent-id", agent_id] if agent_id else []
        cmd += ["--endpoint", endpoint] if endpoint else []
        cmd += ["--work-dir", str(work), "--stop-grace", "2", "--image", f"{IMAGE}={IMAGES[IMAGE]}"]
        self.log = work.parent / f"{log_name or agent_id}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        if wait:
            banner = wait_for(
                lambda: {"text": self.log.read_text()},
                lambda d: re.search(r"^amt agent (\S+) ", d["text"], re.M) is not None,
                60,
            )
            found = re.search(r"^amt agent (\S+) ", banner["text"], re.M)
            assert found is not None
            agent_id = found.group(1)
        self.agent_id = agent_id or ""

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def cluster(broker, tmp_path) -> Iterator[dict]:
    data = tmp_path / "control"
    server = start_server(data, extra_args=["--bus", broker.url, "--agents", "0", *VERBOSE])
    agents = [
        AgentProcess(f"agent-{i}", broker.url, server.endpoint, tmp_path / f"agent-{i}" / "jobs")
        for i in (1, 2)
    ]
    # Every session saved before a test kills the broker: a session a broker never wrote down
    # is lost with it, and what was published to it before its agent subscribed again
    # (tracked as a bug of its own: a job then stays InProgress).
    broker.save()
    state = {"server": server, "agents": agents, "broker": broker, "data": data}
    yield state
    for agent in agents:
        agent.stop()
    state["server"].process.stop()


def request(name: str, jobs: int = 6, epochs: int = 4, sleep: float = 0.3) -> dict:
    return tuning_request(
        name,
        HyperParameterTuningJobConfig={
            "ResourceLimits": {"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": 2},
            "RandomSeed": 9,
        },
        TrainingJobDefinition={
            "StaticHyperParameters": {"epochs": str(epochs), "sleep_per_epoch": str(sleep)}
        },
    )


def agents_of(server: Server) -> dict[str, str]:
    """Training job -> the agent it was placed on, from the store."""
    return {
        row[1]: json.loads(row[9]).get("agent", "") for row in server.snapshot()["training_jobs"]
    }


def training_jobs(server: Server, tuning: str) -> list[str]:
    """Children of `tuning` whose program is running on an agent right now."""
    return [
        s["TrainingJobName"]
        for s in server.sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=tuning, StatusEquals="InProgress"
        )["TrainingJobSummaries"]
        if server.sagemaker.describe_training_job(TrainingJobName=s["TrainingJobName"])[
            "SecondaryStatus"
        ]
        == "Training"
    ]


def printed_vs_stored(data: Path, server: Server, job: str) -> tuple[list[float], list[float]]:
    log = (data / "logs" / f"{job}.log").read_text()
    printed = [float(v) for v in re.findall(r"validation:accuracy=([0-9.]+)", log)]
    stored = [
        row[4]
        for row in sorted(server.snapshot()["metric_points"])
        if row[0] == job and row[1] == "validation:accuracy"
    ]
    return printed, stored


def cluster_state(cluster: dict, tuning: str) -> str:
    """What a hung test needs to be understood: every child's status, the server's and the
    agents' output, and the broker's log."""
    server = cluster["server"]
    children = server.sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=tuning
    )["TrainingJobSummaries"]
    lines = [f"{c['TrainingJobName']}: {c['TrainingJobStatus']}" for c in children]
    lines += ["--- server", *list(server.process.output)[-150:]]
    for agent in cluster["agents"]:
        lines += [f"--- {agent.agent_id}", *agent.log.read_text().splitlines()[-80:]]
    lines += ["--- broker", cluster["broker"].diagnostics()[-4000:]]
    return "\n".join(lines)


def tuning_ended(cluster: dict, tuning: str) -> dict:
    """The tuning job's Describe once it has ended; if it has not within 200 s (before the
    test's own timeout), the cluster's state, to see why."""
    try:
        return cluster["server"].wait_tuning(tuning, timeout=200)
    except TimeoutError as exc:
        raise AssertionError(cluster_state(cluster, tuning)) from exc


def test_tuning_job_spreads_over_two_agents(cluster):
    server = cluster["server"]
    server.sagemaker.create_hyper_parameter_tuning_job(**request("spread"))
    desc = tuning_ended(cluster, "spread")
    assert desc["HyperParameterTuningJobStatus"] == "Completed"
    assert desc["TrainingJobStatusCounters"]["Completed"] == 6
    assert set(agents_of(server).values()) == {"agent-1", "agent-2"}
    health = server.sagemaker.meta.endpoint_url
    out = subprocess.run(
        [sys.executable, "-m", "emulator.cli", "agents", "--endpoint", health],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "agent-1" in out and "agent-2" in out


def test_agent_killed_mid_job_is_replaced(cluster):
    server = cluster["server"]
    server.sagemaker.create_hyper_parameter_tuning_job(**request("lost-agent", epochs=20))
    training = wait_for(
        lambda: {"jobs": training_jobs(server, "lost-agent")},
        lambda d: len(d["jobs"]) == 2,
        120,
    )["jobs"]
    victim = agents_of(server)[training[0]]
    next(a for a in cluster["agents"] if a.agent_id == victim).kill()
    desc = tuning_ended(cluster, "lost-agent")
    counters = desc["TrainingJobStatusCounters"]
    assert desc["HyperParameterTuningJobStatus"] == "Completed"
    assert counters["Completed"] == 6
    assert counters["RetryableError"] >= 1
    assert counters["InProgress"] == 0


def test_broker_restart_loses_no_metric_or_status(cluster):
    server, broker = cluster["server"], cluster["broker"]
    server.sagemaker.create_hyper_parameter_tuning_job(**request("broker-cut", epochs=8))
    wait_for(
        lambda: server.sagemaker.describe_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="broker-cut"
        ),
        lambda d: d["TrainingJobStatusCounters"]["InProgress"] >= 1,
        120,
    )
    broker.kill()
    broker.restart()
    desc = tuning_ended(cluster, "broker-cut")
    assert desc["HyperParameterTuningJobStatus"] == "Completed"
    counters = desc["TrainingJobStatusCounters"]
    assert counters["Completed"] + counters["RetryableError"] >= 6
    for summary in server.sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="broker-cut", StatusEquals="Completed"
    )["TrainingJobSummaries"]:
        printed, stored = printed_vs_stored(cluster["data"], server, summary["TrainingJobName"])
        assert stored == printed[: len(stored)] and len(stored) == 8


def test_control_plane_restart_reattaches_running_jobs(cluster):
    server = cluster["server"]
    server.sagemaker.create_hyper_parameter_tuning_job(**request("cp-restart", jobs=4, epochs=10))
    wait_for(
        lambda: {"jobs": training_jobs(server, "cp-restart")},
        lambda d: len(d["jobs"]) == 2,
        120,
    )
    port = server.process.port
    server.process.kill()
    server = start_server(
        cluster["data"], port=port, extra_args=["--bus", cluster["broker"].url, "--agents", "0"]
    )
    cluster["server"] = server
    desc = tuning_ended(cluster, "cp-restart")
    counters = desc["TrainingJobStatusCounters"]
    assert desc["HyperParameterTuningJobStatus"] == "Completed"
    assert counters["Completed"] == 4
    assert counters["RetryableError"] == 0
    jobs = server.sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="cp-restart"
    )["TrainingJobSummaries"]
    assert len(jobs) == 4
