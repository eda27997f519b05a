"""Built-in algorithm images need no --image flag and no MetricDefinitions, as in the seeds."""

from __future__ import annotations

import importlib.util

import pytest

from tests.api.test_tuning_jobs import children
from tests.requests import merge, tuning_request

pytestmark = pytest.mark.slow

XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
IMAGE_CLASSIFICATION = "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1"


def builtin_request(name: str, image: str, objective: str, statics: dict, ranges: dict) -> dict:
    request = tuning_request(
        name,
        HyperParameterTuningJobConfig={
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": objective},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": ranges,
            "RandomSeed": 1,
        },
    )
    request["HyperParameterTuningJobConfig"]["ParameterRanges"] = ranges
    definition = request["TrainingJobDefinition"]
    definition["AlgorithmSpecification"] = {"TrainingImage": image, "TrainingInputMode": "File"}
    definition["StaticHyperParameters"] = statics
    definition["HyperParameterTuningResourceConfig"] = merge(
        definition["HyperParameterTuningResourceConfig"], {"InstanceType": "ml.p3.2xlarge"}
    )
    return request


def test_builtin_xgboost_image_runs_without_a_mapping_or_metric_definitions(server, unique):
    name = unique("xgb")[:32]
    request = builtin_request(
        name,
        XGBOOST,
        "validation:auc",
        {"num_round": "5", "objective": "binary:logistic"},
        {
            "ContinuousParameterRanges": [
                {"Name": "eta", "MinValue": "0.05", "MaxValue": "0.5", "ScalingType": "Auto"}
            ],
            "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "2", "MaxValue": "6"}],
        },
    )
    server.sagemaker.create_hyper_parameter_tuning_job(**request)
    desc = server.wait_tuning(name, timeout=240)
    assert desc["HyperParameterTuningJobStatus"] == "Completed", children(server, name)
    assert desc["ObjectiveStatusCounters"]["Succeeded"] == 2
    best = desc["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]
    assert best["MetricName"] == "validation:auc" and 0.5 < best["Value"] <= 1.0


@pytest.mark.skipif(
    importlib.util.find_spec("torch") is None, reason="the torch extra is not installed"
)
def test_builtin_image_classification_as_in_the_seed_notebook(server, unique):
    name = unique("ic")[:32]
    request = builtin_request(
        name,
        IMAGE_CLASSIFICATION,
        "validation:accuracy",
        {
            "num_layers": "18",
            "image_shape": "3,224,224",
            "num_classes": "10",
            "num_training_samples": "1347",
            "epochs": "2",
            "top_k": "2",
        },
        {
            "ContinuousParameterRanges": [
                {"Name": "learning_rate", "MinValue": "0.0001", "MaxValue": "0.05"}
            ],
            "IntegerParameterRanges": [
                {"Name": "mini_batch_size", "MinValue": "16", "MaxValue": "64"}
            ],
            "CategoricalParameterRanges": [{"Name": "optimizer", "Values": ["sgd", "adam"]}],
        },
    )
    server.sagemaker.create_hyper_parameter_tuning_job(**request)
    desc = server.wait_tuning(name, timeout=300)
    assert desc["HyperParameterTuningJobStatus"] == "Completed", children(server, name)
    assert desc["ObjectiveStatusCounters"]["Succeeded"] == 2
