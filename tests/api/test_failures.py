"""Failures as AWS reports them, through boto3 over HTTP: a client error is not retried, a
tuning job whose training jobs all fail ends Failed, and no reason shows a path of ours."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.api.test_tuning_jobs import children
from tests.requests import tuning_request

pytestmark = pytest.mark.slow

NO_SUCCESS = (
    "No training job succeeded after {} attempts. Please take a look at the training job "
    "failures to get more details."
)


def assert_no_local_path(server, texts):
    data_dir = str(server.process.data_dir.resolve())
    for text in texts:
        assert data_dir not in text and str(server.process.data_dir) not in text, text


def test_missing_output_bucket_fails_once_as_a_client_error(server, unique):
    name = unique("no-bucket")[:32]
    request = tuning_request(
        name,
        HyperParameterTuningJobConfig={
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 1, "MaxParallelTrainingJobs": 1}
        },
        TrainingJobDefinition={
            "StaticHyperParameters": {"epochs": "1"},
            "OutputDataConfig": {"S3OutputPath": "s3://no-such-bucket/out"},
        },
    )
    server.sagemaker.create_hyper_parameter_tuning_job(**request)
    desc = server.wait_tuning(name, timeout=60)
    [job] = children(server, name)  # never relaunched
    assert job["FailureReason"] == (
        "ClientError: Artifact upload failed:Unable to upload file to "
        f"s3://no-such-bucket/out/{job['TrainingJobName']}/output/model.tar.gz "
        "(NoSuchBucket: The specified bucket does not exist)"
    )
    counters = desc["TrainingJobStatusCounters"]
    assert (counters["NonRetryableError"], counters["RetryableError"]) == (1, 0)
    assert desc["HyperParameterTuningJobStatus"] == "Failed"
    assert desc["FailureReason"] == NO_SUCCESS.format(1)
    assert_no_local_path(server, [job["FailureReason"], desc["FailureReason"]])


def test_no_success_in_five_attempts_fails_the_tuning_job(server, unique):
    name = unique("all-fail")[:32]
    request = tuning_request(
        name,
        HyperParameterTuningJobConfig={
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 10, "MaxParallelTrainingJobs": 3}
        },
        TrainingJobDefinition={"StaticHyperParameters": {"epochs": "1", "fail": "true"}},
    )
    server.sagemaker.create_hyper_parameter_tuning_job(**request)
    desc = server.wait_tuning(name, timeout=90)
    assert desc["HyperParameterTuningJobStatus"] == "Failed"
    assert desc["FailureReason"] == NO_SUCCESS.format(5)
    assert desc["HyperParameterTuningEndTime"] >= desc["CreationTime"]
    assert "BestTrainingJob" not in desc
    counters = desc["TrainingJobStatusCounters"]
    jobs = children(server, name)
    # the fifth failure ends launching; up to two jobs still running then finish (not stopped)
    assert 5 <= counters["NonRetryableError"] == len(jobs) <= 7
    assert counters["InProgress"] == counters["Stopped"] == 0
    assert desc["ObjectiveStatusCounters"]["Failed"] == len(jobs)
    reasons = [j["FailureReason"] for j in jobs]
    assert all("Requested failure" in r for r in reasons), reasons
    assert_no_local_path(server, reasons)
    listed = server.sagemaker.list_hyper_parameter_tuning_jobs(
        StatusEquals="Failed", NameContains=name
    )
    assert [
        s["HyperParameterTuningJobName"] for s in listed["HyperParameterTuningJobSummaries"]
    ] == [name]

    watch = [sys.executable, "-m", "emulator.cli", "watch", name, "--endpoint", server.endpoint]
    shown = subprocess.run(watch, check=False, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 1  # amt watch tells a script the tuning job failed
    assert f"{name}  Failed" in shown.stdout
    assert f"reason   {NO_SUCCESS.format(5)}" in shown.stdout


def test_an_objective_never_printed_fails_the_objective_not_the_job(server, unique):
    name = unique("no-metric")[:32]
    silent = [{"Name": "validation:accuracy", "Regex": r"never-printed=([0-9\.]+)"}]
    request = tuning_request(
        name,
        HyperParameterTuningJobConfig={
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 2}
        },
        TrainingJobDefinition={
            "StaticHyperParameters": {"epochs": "1"},
            "AlgorithmSpecification": {"MetricDefinitions": silent},
        },
    )
    server.sagemaker.create_hyper_parameter_tuning_job(**request)
    desc = server.wait_tuning(name, timeout=60)
    assert desc["HyperParameterTuningJobStatus"] == "Completed"
    assert desc["TrainingJobStatusCounters"]["Completed"] == 2
    assert desc["ObjectiveStatusCounters"] == {"Succeeded": 0, "Pending": 0, "Failed": 2}
    assert "BestTrainingJob" not in desc and "FailureReason" not in desc
    for job in children(server, name):
        assert job["ObjectiveStatus"] == "Failed"
        assert "FinalHyperParameterTuningJobObjectiveMetric" not in job
