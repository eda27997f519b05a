"""Strategies and stopping rules through the API: Grid, early stopping Auto, Hyperband."""

from __future__ import annotations

import itertools

import pytest

from tests.api.test_tuning_jobs import children
from tests.requests import tuning_request

pytestmark = pytest.mark.slow


def test_grid_runs_every_combination_once(server, unique):
    name = unique("grid")[:32]
    losses, alphas = ["log_loss", "hinge", "modified_huber"], ["0.0001", "0.01"]
    request = tuning_request(
        name,
        HyperParameterTuningJobConfig={
            "Strategy": "Grid",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": None, "MaxParallelTrainingJobs": 3},
            "ParameterRanges": {
                "ContinuousParameterRanges": [],
                "CategoricalParameterRanges": [
                    {"Name": "loss", "Values": losses},
                    {"Name": "alpha", "Values": alphas},
                ],
            },
        },
        TrainingJobDefinition={"StaticHyperParameters": {"epochs": "1"}},
    )
    server.sagemaker.create_hyper_parameter_tuning_job(**request)
    desc = server.wait_tuning(name)
    assert desc["HyperParameterTuningJobStatus"] == "Completed"
    assert desc["TrainingJobStatusCounters"]["Completed"] == 6
    seen = sorted(
        (j["TunedHyperParameters"]["loss"], j["TunedHyperParameters"]["alpha"])
        for j in children(server, name)
    )
    assert seen == sorted(itertools.product(losses, alphas))


def test_early_stopping_auto_stops_losing_jobs(server, unique):
    name = unique("early")[:32]
    request = tuning_request(
        name,
        HyperParameterTuningJobConfig={
            "Strategy": "Bayesian",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 10, "MaxParallelTrainingJobs": 1},
            "TrainingJobEarlyStoppingType": "Auto",
            "RandomSeed": 11,
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    {
                        "Name": "learning_rate",
                        "MinValue": "0.00001",
                        "MaxValue": "1",
                        "ScalingType": "Logarithmic",
                    },
                    {
                        "Name": "alpha",
                        "MinValue": "0.000001",
                        "MaxValue": "1",
                        "ScalingType": "Logarithmic",
                    },
                ],
                "CategoricalParameterRanges": [],
            },
        },
        TrainingJobDefinition={"StaticHyperParameters": {"epochs": "6"}},
    )
    server.sagemaker.create_hyper_parameter_tuning_job(**request)
    desc = server.wait_tuning(name, timeout=300)
    counters = desc["TrainingJobStatusCounters"]
    assert desc["HyperParameterTuningJobStatus"] == "Completed"
    assert counters["Stopped"] >= 1
    assert counters["Completed"] + counters["Stopped"] == 10
    assert desc["ObjectiveStatusCounters"]["Succeeded"] == 10
    jobs = children(server, name)
    best = max(j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for j in jobs)
    assert desc["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == best
    stopped = [j for j in jobs if j["TrainingJobStatus"] == "Stopped"]
    detail = server.sagemaker.describe_training_job(TrainingJobName=stopped[0]["TrainingJobName"])
    assert detail["SecondaryStatus"] == "Stopped"
    messages = " ".join(t["StatusMessage"] for t in detail["SecondaryStatusTransitions"])
    assert "early stopping" in messages


def test_hyperband_stops_jobs_at_rungs(server, unique):
    name = unique("hyperband")[:32]
    request = tuning_request(
        name,
        HyperParameterTuningJobConfig={
            "Strategy": "Hyperband",
            "StrategyConfig": {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 9, "MaxParallelTrainingJobs": 3},
            "RandomSeed": 5,
        },
        TrainingJobDefinition={"StaticHyperParameters": {"epochs": "9", "sleep_per_epoch": "0.05"}},
    )
    server.sagemaker.create_hyper_parameter_tuning_job(**request)
    desc = server.wait_tuning(name, timeout=300)
    counters = desc["TrainingJobStatusCounters"]
    assert desc["HyperParameterTuningJobStatus"] == "Completed"
    assert counters["Completed"] + counters["Stopped"] == 9
    assert counters["Stopped"] >= 1


def test_several_training_job_definitions(server, unique):
    name = unique("multi")[:32]
    objective = {"Type": "Maximize", "MetricName": "validation:accuracy"}
    definitions = []
    for definition, loss in (("hinge-model", "hinge"), ("logistic-model", "log_loss")):
        d = tuning_request(name)["TrainingJobDefinition"]
        d["DefinitionName"] = definition
        d["TuningObjective"] = objective
        d["StaticHyperParameters"] = {"epochs": "1", "loss": loss}
        d["HyperParameterRanges"] = {
            "ContinuousParameterRanges": [
                {"Name": "learning_rate", "MinValue": "0.001", "MaxValue": "0.5"}
            ]
        }
        definitions.append(d)
    request = tuning_request(
        name,
        HyperParameterTuningJobConfig={
            "HyperParameterTuningJobObjective": None,
            "ParameterRanges": None,
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 3},
            "RandomSeed": 2,
        },
        TrainingJobDefinition=None,
        TrainingJobDefinitions=definitions,
    )
    server.sagemaker.create_hyper_parameter_tuning_job(**request)
    desc = server.wait_tuning(name)
    assert desc["HyperParameterTuningJobStatus"] == "Completed"
    assert desc["TrainingJobStatusCounters"]["Completed"] == 6
    jobs = children(server, name)
    used = {j["TrainingJobDefinitionName"] for j in jobs}
    assert used <= {"hinge-model", "logistic-model"} and used
    for job in jobs:
        detail = server.sagemaker.describe_training_job(TrainingJobName=job["TrainingJobName"])
        expected = "hinge" if job["TrainingJobDefinitionName"] == "hinge-model" else "log_loss"
        assert detail["HyperParameters"]["loss"] == expected
        assert set(job["TunedHyperParameters"]) == {"learning_rate"}
    assert "TrainingJobDefinitionName" in desc["BestTrainingJob"]


def test_target_objective_value_completes_the_tuning_job(server, unique):
    name = unique("target")[:32]
    request = tuning_request(
        name,
        HyperParameterTuningJobConfig={
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 20, "MaxParallelTrainingJobs": 2},
            "TuningJobCompletionCriteria": {"TargetObjectiveMetricValue": 0.5},
            "RandomSeed": 4,
        },
        TrainingJobDefinition={"StaticHyperParameters": {"epochs": "3", "sleep_per_epoch": "0.3"}},
    )
    server.sagemaker.create_hyper_parameter_tuning_job(**request)
    desc = server.wait_tuning(name, timeout=120)
    assert desc["HyperParameterTuningJobStatus"] == "Completed"
    counters = desc["TrainingJobStatusCounters"]
    assert counters["InProgress"] == 0
    assert counters["Completed"] + counters["Stopped"] < 20
    assert desc["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] >= 0.5
    assert "NumberOfTrainingJobsObjectiveNotImproving" in desc["TuningJobCompletionDetails"]
