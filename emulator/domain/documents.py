"""Building the documents Describe operations return, from the requests that create jobs.

The echoed structures keep the request's shape and add the defaults a real client relies on
(e.g. `OutputDataConfig.KmsKeyId` is always present, `ResourceConfig` is derived from
`HyperParameterTuningResourceConfig`, `_tuning_objective_metric` is injected).
"""

from __future__ import annotations

import copy
from typing import Any

TUNING_OBJECTIVE_HP = "_tuning_objective_metric"
DEFAULT_MAX_RUNTIME = 86400

_TRAINING_ECHO = (
    "TuningJobArn",
    "HyperParameters",
    "AlgorithmSpecification",
    "RoleArn",
    "InputDataConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "VpcConfig",
    "StoppingCondition",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "DebugHookConfig",
    "DebugRuleConfigurations",
    "TensorBoardOutputConfig",
    "ExperimentConfig",
    "ProfilerConfig",
    "ProfilerRuleConfigurations",
    "Environment",
    "RetryStrategy",
    "RemoteDebugConfig",
    "InfraCheckConfig",
)


def new_training_doc(params: dict[str, Any], arn: str, now: float) -> dict[str, Any]:
    """A training job as DescribeTrainingJob shows it when created (before its first status)."""
    doc: dict[str, Any] = {
        "TrainingJobName": params["TrainingJobName"],
        "TrainingJobArn": arn,
        "CreationTime": now,
        "LastModifiedTime": now,
        "SecondaryStatusTransitions": [],
    }
    for key in _TRAINING_ECHO:
        if key in params:
            doc[key] = copy.deepcopy(params[key])
    doc.setdefault("HyperParameters", {})
    doc.setdefault("StoppingCondition", {"MaxRuntimeInSeconds": DEFAULT_MAX_RUNTIME})
    doc["StoppingCondition"].setdefault("MaxRuntimeInSeconds", DEFAULT_MAX_RUNTIME)
    for flag in (
        "EnableNetworkIsolation",
        "EnableInterContainerTrafficEncryption",
        "EnableManagedSpotTraining",
    ):
        doc.setdefault(flag, False)
    output = doc.setdefault("OutputDataConfig", {})
    output.setdefault("KmsKeyId", "")
    doc["ModelArtifacts"] = {"S3ModelArtifacts": model_artifact_uri(doc)}
    return doc


def model_artifact_uri(doc: dict[str, Any]) -> str:
    base = doc["OutputDataConfig"].get("S3OutputPath", "").rstrip("/")
    return f"{base}/{doc['TrainingJobName']}/output/model.tar.gz"


def resource_config_of(definition: dict[str, Any]) -> dict[str, Any]:
    """The ResourceConfig a tuning definition implies (the SDK sends only the tuning variant)."""
    if "ResourceConfig" in definition:
        return copy.deepcopy(definition["ResourceConfig"])
    tuning = definition.get("HyperParameterTuningResourceConfig", {})
    if tuning.get("InstanceConfigs"):
        first = tuning["InstanceConfigs"][0]
        return {
            "InstanceType": first["InstanceType"],
            "InstanceCount": first["InstanceCount"],
            "VolumeSizeInGB": first["VolumeSizeInGB"],
        }
    config = {
        "InstanceType": tuning.get("InstanceType", "ml.m5.large"),
        "InstanceCount": tuning.get("InstanceCount", 1),
        "VolumeSizeInGB": tuning.get("VolumeSizeInGB", 30),
    }
    if "VolumeKmsKeyId" in tuning:
        config["VolumeKmsKeyId"] = tuning["VolumeKmsKeyId"]
    return config


def definitions_of(tuning_params: dict[str, Any]) -> list[dict[str, Any]]:
    """The training job definitions of a tuning job: one or several."""
    if "TrainingJobDefinitions" in tuning_params:
        return list(tuning_params["TrainingJobDefinitions"])
    return [tuning_params["TrainingJobDefinition"]]


def objective_of(tuning_params: dict[str, Any], definition: dict[str, Any]) -> dict[str, Any]:
    """The objective a definition is tuned for (its own, or the job-level one)."""
    objective = definition.get("TuningObjective") or tuning_params[
        "HyperParameterTuningJobConfig"
    ].get("HyperParameterTuningJobObjective")
    return dict(objective or {})


def ranges_of(tuning_params: dict[str, Any], definition: dict[str, Any]) -> dict[str, Any]:
    """The ParameterRanges a definition is searched over (its own, or the job-level ones)."""
    ranges = definition.get("HyperParameterRanges") or tuning_params[
        "HyperParameterTuningJobConfig"
    ].get("ParameterRanges")
    return dict(ranges or {})


def echo_definition(definition: dict[str, Any], objective_metric: str) -> dict[str, Any]:
    """A definition as Describe echoes it: KmsKeyId, derived ResourceConfig, objective hp."""
    echoed = copy.deepcopy(definition)
    statics = echoed.setdefault("StaticHyperParameters", {})
    statics[TUNING_OBJECTIVE_HP] = objective_metric
    echoed.setdefault("OutputDataConfig", {}).setdefault("KmsKeyId", "")
    echoed["ResourceConfig"] = resource_config_of(definition)
    echoed.setdefault("EnableNetworkIsolation", False)
    echoed.setdefault("EnableInterContainerTrafficEncryption", False)
    echoed.setdefault("EnableManagedSpotTraining", False)
    return echoed


def new_tuning_doc(params: dict[str, Any], arn: str, now: float) -> dict[str, Any]:
    """A tuning job as DescribeHyperParameterTuningJob shows it the moment it is created."""
    config = copy.deepcopy(params["HyperParameterTuningJobConfig"])
    config.setdefault("TrainingJobEarlyStoppingType", "Off")
    ranges = config.setdefault("ParameterRanges", {})
    for kind in (
        "IntegerParameterRanges",
        "ContinuousParameterRanges",
        "CategoricalParameterRanges",
    ):
        ranges.setdefault(kind, [])
    doc: dict[str, Any] = {
        "HyperParameterTuningJobName": params["HyperParameterTuningJobName"],
        "HyperParameterTuningJobArn": arn,
        "HyperParameterTuningJobConfig": config,
        "HyperParameterTuningJobStatus": "InProgress",
        "CreationTime": now,
        "LastModifiedTime": now,
        "TrainingJobStatusCounters": zero_training_counters(),
        "ObjectiveStatusCounters": zero_objective_counters(),
    }
    if "TrainingJobDefinition" in params:
        definition = params["TrainingJobDefinition"]
        metric = objective_of(params, definition).get("MetricName", "")
        doc["TrainingJobDefinition"] = echo_definition(definition, metric)
    if "TrainingJobDefinitions" in params:
        doc["TrainingJobDefinitions"] = [
            echo_definition(d, objective_of(params, d).get("MetricName", ""))
            for d in params["TrainingJobDefinitions"]
        ]
    for key in ("WarmStartConfig", "Autotune"):
        if key in params:
            doc[key] = copy.deepcopy(params[key])
    return doc


def zero_training_counters() -> dict[str, int]:
    return {
        "Completed": 0,
        "InProgress": 0,
        "RetryableError": 0,
        "NonRetryableError": 0,
        "Stopped": 0,
    }


def zero_objective_counters() -> dict[str, int]:
    return {"Succeeded": 0, "Pending": 0, "Failed": 0}


def static_hyperparameters(definition: dict[str, Any]) -> dict[str, str]:
    """A definition's StaticHyperParameters without the one the emulator adds (the objective
    metric's name, which Describe echoes): the ones the user set."""
    statics = definition.get("StaticHyperParameters", {})
    return {k: v for k, v in statics.items() if k != TUNING_OBJECTIVE_HP}


def child_training_params(
    tuning_doc: dict[str, Any],
    definition: dict[str, Any],
    tuned: dict[str, str],
    name: str,
) -> dict[str, Any]:
    """The CreateTrainingJob-shaped request a tuning job issues for one configuration."""
    hyperparameters = dict(definition.get("StaticHyperParameters", {}))
    hyperparameters.update(tuned)
    params: dict[str, Any] = {
        "TrainingJobName": name,
        "HyperParameters": hyperparameters,
        "ResourceConfig": resource_config_of(definition),
    }
    for key in (
        "AlgorithmSpecification",
        "RoleArn",
        "InputDataConfig",
        "OutputDataConfig",
        "VpcConfig",
        "StoppingCondition",
        "EnableNetworkIsolation",
        "EnableInterContainerTrafficEncryption",
        "EnableManagedSpotTraining",
        "CheckpointConfig",
        "Environment",
        "RetryStrategy",
    ):
        if key in definition:
            params[key] = copy.deepcopy(definition[key])
    return params
