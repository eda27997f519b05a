"""`amt tuner` workers answering a control plane's suggestions through a real Mosquitto broker
(shared subscription), one of them killed mid-run."""

from __future__ import annotations

import signal

import pytest

from tests.conftest import start_server, wait_for
from tests.processes import running
from tests.requests import tuning_request
from tests.tuner_worker import TunerWorker

pytestmark = pytest.mark.slow


def test_remote_tuners_answer_and_a_killed_one_changes_nothing(broker, tmp_path):
    config = tmp_path / "remote.toml"
    config.write_text("remote_tuners = true\nsuggestion_timeout_seconds = 4\n")
    server = start_server(
        tmp_path / "control",
        extra_args=["--bus", broker.url, "--config", str(config), "--stop-grace", "2"],
    )
    first = TunerWorker(broker.url, "tuner-1", tmp_path / "tuner-1.log")
    second = TunerWorker(broker.url, "tuner-2", tmp_path / "tuner-2.log")
    try:
        request = tuning_request(
            "remote-tuned",
            HyperParameterTuningJobConfig={
                "Strategy": "Bayesian",
                "RandomSeed": 3,
                "ResourceLimits": {"MaxNumberOfTrainingJobs": 8, "MaxParallelTrainingJobs": 2},
            },
        )
        server.sagemaker.create_hyper_parameter_tuning_job(**request)
        wait_for(lambda: {"n": first.answered() + second.answered()}, lambda d: d["n"] >= 2, 120)
        left_behind = first.processes()
        first.stop(signal.SIGKILL)
        described = server.wait_tuning("remote-tuned", timeout=300)
        assert described["HyperParameterTuningJobStatus"] == "Completed", described.get(
            "FailureReason"
        )
        summaries = server.sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="remote-tuned", MaxResults=100
        )["TrainingJobSummaries"]
        numbers = sorted(s["TrainingJobName"].rsplit("-", 2)[1] for s in summaries)
        assert numbers == [f"{n:03d}" for n in range(1, 9)]  # each answer applied once
        assert second.answered() >= 1
        left_behind += second.processes()
        second.stop()  # SIGTERM: it stops its processes
        assert left_behind  # each computed in a pool of its own
        wait_for(
            lambda: {"alive": [p for p in left_behind if running(p)]}, lambda d: not d["alive"], 30
        )
    finally:
        second.stop()
        first.stop()
        server.process.stop()
