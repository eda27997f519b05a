"""Faults: SIGKILL of the server at random moments of repeated tuning runs, and a full disk.

After every fault the store must be consistent: counters equal the jobs' actual statuses, no
training job counted twice, no training process left behind. `AMT_FAULT_RUNS` (default 3)
sets how many killed runs the first test makes; 20 is the long variant.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server, start_server, wait_for
from tests.requests import training_request, tuning_request

pytestmark = pytest.mark.slow

RUNS = int(os.environ.get("AMT_FAULT_RUNS", "3"))


def processes_of(prefix: str) -> list[int]:
    """Training processes whose TRAINING_JOB_NAME starts with `prefix`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(v.startswith(f"TRAINING_JOB_NAME={prefix}".encode()) for v in environ):
            found.append(int(proc.name))
    return found


def check_consistent(server: Server, name: str) -> dict:
    desc = server.sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    jobs = server.sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, MaxResults=100
    )["TrainingJobSummaries"]
    actual = {
        "Completed": 0,
        "InProgress": 0,
        "RetryableError": 0,
        "NonRetryableError": 0,
        "Stopped": 0,
    }
    for job in jobs:
        status = job["TrainingJobStatus"]
        if status == "Failed":
            internal = job.get("FailureReason", "").startswith("InternalServerError")
            actual["RetryableError" if internal else "NonRetryableError"] += 1
        else:
            actual["InProgress" if status == "Stopping" else status] += 1
    assert desc["TrainingJobStatusCounters"] == actual
    configs = [
        tuple(sorted(j["TunedHyperParameters"].items()))
        for j in jobs
        if j["TrainingJobStatus"] != "Failed"
    ]
    assert len(configs) == len(set(configs)), "a configuration ran twice to completion"
    return desc


@pytest.mark.parametrize("run", range(RUNS))
def test_sigkill_at_a_random_moment_then_restart(tmp_path, run):
    rng = random.Random(run)
    data = tmp_path / "data"
    name = f"fault-{run}"
    server = start_server(data, extra_args=["--stop-grace", "1"])
    request = tuning_request(
        name,
        HyperParameterTuningJobConfig={
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
            "RandomSeed": run,
        },
        TrainingJobDefinition={"StaticHyperParameters": {"epochs": "3", "sleep_per_epoch": "0.2"}},
    )
    try:
        server.sagemaker.create_hyper_parameter_tuning_job(**request)
        time.sleep(rng.uniform(0.2, 5.0))
    finally:
        server.process.kill()
    wait_for(lambda: {"left": processes_of(name)}, lambda d: not d["left"], 10)
    server = start_server(data, extra_args=["--stop-grace", "1"])
    try:
        desc = server.wait_tuning(name, timeout=180)
        assert desc["HyperParameterTuningJobStatus"] == "Completed"
        check_consistent(server, name)
        assert desc["TrainingJobStatusCounters"]["Completed"] == 4
    finally:
        server.process.stop()
    assert not processes_of(name)


def test_disk_full_fails_requests_cleanly_and_loses_nothing(tmp_path):
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a small tmpfs as the data directory")
    data = tmp_path / "small"
    data.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(data)], check=False
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        server = start_server(data)
        try:
            server.sagemaker.create_training_job(
                **training_request("before-full", HyperParameters={"epochs": "1"})
            )
            server.wait_training("before-full")
            before = server.snapshot()
            filler = data / "filler"
            subprocess.run(
                ["dd", "if=/dev/zero", f"of={filler}", "bs=1M", "count=100"],
                capture_output=True,
                check=False,
            )
            with pytest.raises(ClientError) as exc:
                server.sagemaker.create_training_job(**training_request("while-full"))
            assert exc.value.response["Error"]["Code"] == "ServiceUnavailable"
            assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
            described = server.sagemaker.describe_training_job(TrainingJobName="before-full")
            assert described["TrainingJobStatus"] == "Completed"
            filler.unlink()
            assert server.snapshot() == before
            server.sagemaker.create_training_job(
                **training_request("after-full", HyperParameters={"epochs": "1"})
            )
            assert server.wait_training("after-full")["TrainingJobStatus"] == "Completed"
        finally:
            server.process.stop()
    finally:
        subprocess.run(["umount", "-l", str(data)], check=False)
