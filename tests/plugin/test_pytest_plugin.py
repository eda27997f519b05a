"""The pytest plugin used the way a user's suite uses it: a separate pytest run whose tests
ask for `amt_emulator` and run a real tuning job through boto3."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import FIXTURE_PROGRAM

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.slow

USER_SUITE = r"""
import time

ROLE = "arn:aws:iam::123456789012:role/Role"


def test_a_tuning_job_runs(amt_emulator):
    sm, s3 = amt_emulator.client("sagemaker"), amt_emulator.client("s3")
    s3.create_bucket(Bucket="user-bucket")
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="user-tuning",
        HyperParameterTuningJobConfig={
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "acc"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {"ContinuousParameterRanges": [
                {"Name": "learning_rate", "MinValue": "0.01", "MaxValue": "0.1"}]},
        },
        TrainingJobDefinition={
            "StaticHyperParameters": {"epochs": "1"},
            "AlgorithmSpecification": {"TrainingImage": "user/sgd:1", "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "acc", "Regex": r"validation:accuracy=([0-9.]+)"}]},
            "RoleArn": ROLE,
            "OutputDataConfig": {"S3OutputPath": "s3://user-bucket/out"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                               "VolumeSizeInGB": 5},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        },
    )
    for _ in range(300):
        d = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="user-tuning")
        if d["HyperParameterTuningJobStatus"] != "InProgress":
            break
        time.sleep(0.2)
    assert d["HyperParameterTuningJobStatus"] == "Completed"
    assert d["TrainingJobStatusCounters"]["Completed"] == 2
    assert 0 < d["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] <= 1


def test_the_session_shares_one_emulator(amt_emulator):
    names = amt_emulator.client("sagemaker").list_hyper_parameter_tuning_jobs()
    assert [s["HyperParameterTuningJobName"]
            for s in names["HyperParameterTuningJobSummaries"]] == ["user-tuning"]
"""


def test_a_user_suite_runs_tuning_jobs_through_the_fixture(pytester):
    pytester.makepyfile(test_user=USER_SUITE)
    image = f"user/sgd:1={sys.executable} {FIXTURE_PROGRAM}"
    result = pytester.runpytest_subprocess("--amt-image", image, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_images_can_come_from_the_ini_file(pytester):
    pytester.makepyfile(test_user=USER_SUITE)
    pytester.makeini(f"[pytest]\namt_images =\n    user/sgd:1={sys.executable} {FIXTURE_PROGRAM}\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


CLEAN_SUITE = r"""
ROLE = "arn:aws:iam::123456789012:role/Role"


def test_leaves_a_running_job_and_a_bucket(amt_emulator):
    amt_emulator.client("s3").create_bucket(Bucket="left-over")
    amt_emulator.client("sagemaker").create_training_job(
        TrainingJobName="left-running",
        AlgorithmSpecification={"TrainingImage": "user/sgd:1", "TrainingInputMode": "File"},
        HyperParameters={"epochs": "500", "sleep_per_epoch": "0.2"},
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": "s3://left-over/out"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )


def test_list_training_jobs_none(amt_clean_emulator):
    sm = amt_clean_emulator.client("sagemaker")
    assert sm.list_training_jobs()["TrainingJobSummaries"] == []
    assert amt_clean_emulator.client("s3").list_buckets()["Buckets"] == []
"""


def test_a_clean_emulator_per_test(pytester):
    """A suite sharing one server: the fixture gives a test none of the earlier tests' state."""
    pytester.makepyfile(test_user=CLEAN_SUITE)
    image = f"user/sgd:1={sys.executable} {FIXTURE_PROGRAM}"
    result = pytester.runpytest_subprocess("--amt-image", image, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
