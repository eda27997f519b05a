"""A clean shutdown (SIGTERM) stops running training processes, records them, and leaves
no process behind; the next start replaces the lost job."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import start_server, wait_for
from tests.requests import training_request

pytestmark = pytest.mark.slow


def training_processes(job: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True)
    return [line for line in out.stdout.splitlines() if "sklearn_sgd.py" in line and job in line]


def start_slow_job(server, name: str) -> None:
    """A training job that would run for minutes, once its process is running."""
    request = training_request(name, HyperParameters={"epochs": "500", "sleep_per_epoch": "0.2"})
    server.sagemaker.create_training_job(**request)
    wait_for(
        lambda: server.sagemaker.describe_training_job(TrainingJobName=name),
        lambda d: d["SecondaryStatus"] == "Training",
        60,
    )


def test_sigterm_stops_jobs_and_records_them(tmp_path):
    data = tmp_path / "data"
    server = start_server(data, extra_args=["--stop-grace", "2"])
    name = "shutdown-job"
    try:
        start_slow_job(server, name)
        assert server.process.stop(timeout=60) == 0
        assert not training_processes(name)
    finally:
        server.process.kill()
    server = start_server(data)
    try:
        job = server.sagemaker.describe_training_job(TrainingJobName=name)
        assert job["TrainingJobStatus"] == "Failed"
        assert job["FailureReason"].startswith("InternalServerError")
    finally:
        server.process.stop()


def test_sigkill_leaves_no_training_process(tmp_path):
    server = start_server(tmp_path / "data")
    name = "orphan-check"
    try:
        start_slow_job(server, name)
    finally:
        server.process.kill()
    wait_for(lambda: {"left": training_processes(name)}, lambda d: not d["left"], 10)
