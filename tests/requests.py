"""Valid requests to build test cases from: each test overrides only what it is about."""

from __future__ import annotations

import copy
from typing import Any

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
IMAGE = "local/sklearn-sgd:latest"
BUCKET = "amt-test-bucket"

METRICS = [
    {"Name": "validation:accuracy", "Regex": r"validation:accuracy=([0-9\.]+)"},
    {"Name": "validation:loss", "Regex": r"validation:loss=([0-9\.]+)"},
    {"Name": "train:loss", "Regex": r"train_loss=([0-9\.]+)"},
]


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge overrides into a copy of base; a value of None deletes the key."""
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def training_request(name: str = "train-job", **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": METRICS,
        },
        "RoleArn": ROLE,
        "HyperParameters": {"epochs": "3", "learning_rate": "0.05"},
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }
    return merge(base, overrides)


def tuning_definition(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "StaticHyperParameters": {"epochs": "4"},
        "AlgorithmSpecification": {
            "TrainingImage": IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": METRICS,
        },
        "RoleArn": ROLE,
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/output"},
        "HyperParameterTuningResourceConfig": {
            "InstanceType": "ml.m5.large",
            "InstanceCount": 1,
            "VolumeSizeInGB": 10,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }
    return merge(base, overrides)


def tuning_request(name: str = "tune-job", **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {
                "Type": "Maximize",
                "MetricName": "validation:accuracy",
            },
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    {
                        "Name": "learning_rate",
                        "MinValue": "0.001",
                        "MaxValue": "0.5",
                        "ScalingType": "Logarithmic",
                    }
                ],
                "IntegerParameterRanges": [],
                "CategoricalParameterRanges": [
                    {"Name": "loss", "Values": ["log_loss", "hinge", "modified_huber"]}
                ],
            },
            "TrainingJobEarlyStoppingType": "Off",
        },
        "TrainingJobDefinition": tuning_definition(),
    }
    return merge(base, overrides)


def short_tuning_request(name: str) -> dict[str, Any]:
    """Three short jobs, two at a time, each epoch long enough for its own CloudWatch point
    (1 s periods): a tuning job whose curves an import reads back."""
    return tuning_request(
        name,
        HyperParameterTuningJobConfig={
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 2},
        },
        TrainingJobDefinition={"StaticHyperParameters": {"epochs": "3", "sleep_per_epoch": "1.2"}},
    )
