"""Warm start through the API: parents' jobs inform the child, OverallBestTrainingJob spans all."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.api.test_tuning_jobs import children
from tests.requests import tuning_request

pytestmark = pytest.mark.slow


def small_tuning(name: str, jobs: int, **overrides):
    return tuning_request(
        name,
        HyperParameterTuningJobConfig={
            "ResourceLimits": {"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": 2},
            "RandomSeed": 21,
        },
        TrainingJobDefinition={"StaticHyperParameters": {"epochs": "2"}},
        **overrides,
    )


def test_identical_data_child_reports_overall_best(server, unique):
    parent = unique("ws-parent")[:32]
    server.sagemaker.create_hyper_parameter_tuning_job(**small_tuning(parent, 3))
    with pytest.raises(ClientError) as running:
        server.sagemaker.create_hyper_parameter_tuning_job(
            **small_tuning(
                unique("ws-early")[:32],
                2,
                WarmStartConfig={
                    "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": parent}],
                    "WarmStartType": "IdenticalDataAndAlgorithm",
                },
            )
        )
    assert running.value.response["Error"]["Code"] == "ValidationException"
    server.wait_tuning(parent)

    child = unique("ws-child")[:32]
    warm = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": parent}],
        "WarmStartType": "IdenticalDataAndAlgorithm",
    }
    server.sagemaker.create_hyper_parameter_tuning_job(
        **small_tuning(child, 2, WarmStartConfig=warm)
    )
    desc = server.wait_tuning(child)
    assert desc["HyperParameterTuningJobStatus"] == "Completed"
    assert desc["WarmStartConfig"] == warm
    assert desc["TrainingJobStatusCounters"]["Completed"] == 2
    family = children(server, parent) + children(server, child)
    best = max(j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for j in family)
    overall = desc["OverallBestTrainingJob"]
    assert overall["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == best
    own = max(
        j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for j in children(server, child)
    )
    assert desc["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == own


def test_transfer_learning_child_runs_with_changed_ranges(server, unique):
    parent = unique("tl-parent")[:32]
    server.sagemaker.create_hyper_parameter_tuning_job(**small_tuning(parent, 2))
    server.wait_tuning(parent)
    child = unique("tl-child")[:32]
    request = small_tuning(
        child,
        2,
        WarmStartConfig={
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": parent}],
            "WarmStartType": "TransferLearning",
        },
    )
    request["HyperParameterTuningJobConfig"]["ParameterRanges"]["ContinuousParameterRanges"][0][
        "MaxValue"
    ] = "0.1"
    server.sagemaker.create_hyper_parameter_tuning_job(**request)
    desc = server.wait_tuning(child)
    assert desc["HyperParameterTuningJobStatus"] == "Completed"
    assert "OverallBestTrainingJob" not in desc
    for job in children(server, child):
        assert float(job["TunedHyperParameters"]["learning_rate"]) <= 0.1
