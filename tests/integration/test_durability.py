"""SIGKILL of the server mid-tuning: after a restart nothing is lost and the job finishes."""

from __future__ import annotations

import pytest

from tests.conftest import start_server, wait_for
from tests.requests import tuning_request

pytestmark = pytest.mark.slow


def test_sigkill_mid_tuning_then_restart_finishes_the_job(tmp_path):
    data = tmp_path / "data"
    server = start_server(data, extra_args=["--stop-grace", "2"])
    name = "durable-tuning"
    request = tuning_request(
        name,
        HyperParameterTuningJobConfig={
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 2},
            "RandomSeed": 3,
        },
        TrainingJobDefinition={"StaticHyperParameters": {"epochs": "6", "sleep_per_epoch": "0.3"}},
    )
    try:
        server.sagemaker.create_hyper_parameter_tuning_job(**request)
        before = wait_for(
            lambda: server.sagemaker.describe_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=name
            ),
            lambda d: (
                d["TrainingJobStatusCounters"]["Completed"] >= 2
                and d["TrainingJobStatusCounters"]["InProgress"] >= 1
            ),
            120,
        )
        done_before = {
            s["TrainingJobName"]: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
            for s in server.sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=name, StatusEquals="Completed"
            )["TrainingJobSummaries"]
        }
        points_before = {
            row[:3] for row in server.snapshot()["metric_points"] if row[0] in done_before
        }
        server.process.kill()
    finally:
        server.process.kill()

    server = start_server(data, extra_args=["--stop-grace", "2"])
    try:
        after = server.wait_tuning(name, timeout=180)
        assert after["HyperParameterTuningJobStatus"] == "Completed"
        counters = after["TrainingJobStatusCounters"]
        assert counters["Completed"] == 6
        assert counters["InProgress"] == 0
        assert counters["RetryableError"] == before["TrainingJobStatusCounters"]["InProgress"]
        summaries = server.sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name, MaxResults=100
        )["TrainingJobSummaries"]
        assert len(summaries) == 6 + counters["RetryableError"]
        for s in summaries:
            if s["TrainingJobName"] in done_before:
                value = s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
                assert value == done_before[s["TrainingJobName"]]
            if s["TrainingJobStatus"] == "Failed":
                assert s["FailureReason"].startswith("InternalServerError")
        points_after = {row[:3] for row in server.snapshot()["metric_points"]}
        assert points_before <= points_after
        assert after["ObjectiveStatusCounters"]["Succeeded"] == 6
    finally:
        server.process.stop()
