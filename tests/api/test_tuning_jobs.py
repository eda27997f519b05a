"""Tuning jobs end to end: real training jobs launched, measured, stopped and summarised."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from tests.conftest import wait_for
from tests.requests import tuning_request

pytestmark = pytest.mark.slow


def children(server, name):
    pages = server.sagemaker.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job")
    return [
        s
        for page in pages.paginate(HyperParameterTuningJobName=name)
        for s in page["TrainingJobSummaries"]
    ]


def test_tuning_job_completes_with_true_counters_and_best_job(server, unique):
    name = unique("tune-ok")[:32]
    request = tuning_request(
        name,
        HyperParameterTuningJobConfig={
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 3},
            "RandomSeed": 7,
        },
        Tags=[{"Key": "project", "Value": "amt"}],
    )
    arn = server.sagemaker.create_hyper_parameter_tuning_job(**request)[
        "HyperParameterTuningJobArn"
    ]
    first = server.sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert first["HyperParameterTuningJobStatus"] == "InProgress"
    assert "BestTrainingJob" not in first
    statics = first["TrainingJobDefinition"]["StaticHyperParameters"]
    assert statics["_tuning_objective_metric"] == "validation:accuracy"
    assert first["TrainingJobDefinition"]["ResourceConfig"]["InstanceType"] == "ml.m5.large"

    running_peak = 0
    deadline = time.monotonic() + 240
    while True:
        desc = server.sagemaker.describe_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name
        )
        running_peak = max(running_peak, desc["TrainingJobStatusCounters"]["InProgress"])
        if desc["HyperParameterTuningJobStatus"] != "InProgress":
            break
        assert time.monotonic() < deadline, desc
        time.sleep(0.2)
    assert desc["HyperParameterTuningJobStatus"] == "Completed"
    assert running_peak <= 3
    assert desc["TrainingJobStatusCounters"] == {
        "Completed": 6,
        "InProgress": 0,
        "RetryableError": 0,
        "NonRetryableError": 0,
        "Stopped": 0,
    }
    assert desc["ObjectiveStatusCounters"] == {"Succeeded": 6, "Pending": 0, "Failed": 0}
    assert desc["HyperParameterTuningEndTime"] >= desc["CreationTime"]

    jobs = children(server, name)
    assert len(jobs) == 6
    values = {
        j["TrainingJobName"]: j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        for j in jobs
    }
    best = desc["BestTrainingJob"]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == max(values.values())
    assert values[best["TrainingJobName"]] == max(values.values())
    for job in jobs:
        assert job["TrainingJobName"].startswith(f"{name}-")
        lr = float(job["TunedHyperParameters"]["learning_rate"])
        assert 0.001 <= lr <= 0.5
        assert job["TunedHyperParameters"]["loss"] in ("log_loss", "hinge", "modified_huber")

    child = server.sagemaker.describe_training_job(TrainingJobName=best["TrainingJobName"])
    assert child["TuningJobArn"] == arn
    assert child["HyperParameters"]["_tuning_objective_metric"] == "validation:accuracy"
    assert child["HyperParameters"]["epochs"] == "4"
    assert child["ResourceConfig"] == {
        "InstanceType": "ml.m5.large",
        "InstanceCount": 1,
        "VolumeSizeInGB": 10,
    }
    finals = {m["MetricName"]: m["Value"] for m in child["FinalMetricDataList"]}
    assert finals["validation:accuracy"] == values[best["TrainingJobName"]]
    tags = server.sagemaker.list_tags(ResourceArn=child["TrainingJobArn"])["Tags"]
    assert {"Key": "project", "Value": "amt"} in tags

    by_value = server.sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        SortBy="FinalObjectiveMetricValue",
        SortOrder="Descending",
    )["TrainingJobSummaries"]
    got = [s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in by_value]
    assert got == sorted(got, reverse=True)

    summaries = server.sagemaker.list_hyper_parameter_tuning_jobs(NameContains=name)
    assert [
        s["HyperParameterTuningJobName"] for s in summaries["HyperParameterTuningJobSummaries"]
    ] == [name]
    server.sagemaker.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    with pytest.raises(ClientError) as exc:
        server.sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert exc.value.response["Error"]["Code"] == "ResourceNotFound"


def test_random_seed_makes_suggestions_reproducible(server, unique):
    configs = []
    for _ in range(2):
        name = unique("tune-seed")[:32]
        request = tuning_request(
            name,
            HyperParameterTuningJobConfig={
                "ResourceLimits": {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 3},
                "RandomSeed": 1234,
            },
            TrainingJobDefinition={"StaticHyperParameters": {"epochs": "1"}},
        )
        server.sagemaker.create_hyper_parameter_tuning_job(**request)
        server.wait_tuning(name)
        jobs = sorted(children(server, name), key=lambda j: j["TrainingJobName"])
        configs.append([j["TunedHyperParameters"] for j in jobs])
    assert configs[0] == configs[1]


def test_stop_tuning_job_stops_running_children(server, unique):
    name = unique("tune-stop")[:32]
    request = tuning_request(
        name,
        HyperParameterTuningJobConfig={
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 2}
        },
        TrainingJobDefinition={
            "StaticHyperParameters": {"epochs": "200", "sleep_per_epoch": "0.2"}
        },
    )
    server.sagemaker.create_hyper_parameter_tuning_job(**request)
    wait_for(
        lambda: server.sagemaker.describe_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name
        ),
        lambda d: d["TrainingJobStatusCounters"]["InProgress"] == 2,
        60,
    )
    server.sagemaker.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    now = server.sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert now["HyperParameterTuningJobStatus"] in ("Stopping", "Stopped")
    desc = server.wait_tuning(name, timeout=60)
    assert desc["HyperParameterTuningJobStatus"] == "Stopped"
    assert desc["TrainingJobStatusCounters"]["Stopped"] == 2
    assert desc["TrainingJobStatusCounters"]["InProgress"] == 0
    assert all(j["TrainingJobStatus"] == "Stopped" for j in children(server, name))
    with pytest.raises(ClientError) as exc:
        server.sagemaker.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert exc.value.response["Error"]["Code"] == "ValidationException"


def test_delete_refused_while_running(server, unique):
    name = unique("tune-del")[:32]
    request = tuning_request(
        name,
        TrainingJobDefinition={
            "StaticHyperParameters": {"epochs": "100", "sleep_per_epoch": "0.2"}
        },
    )
    server.sagemaker.create_hyper_parameter_tuning_job(**request)
    with pytest.raises(ClientError) as exc:
        server.sagemaker.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert exc.value.response["Error"]["Code"] == "ValidationException"
    running = wait_for(lambda: {"jobs": children(server, name)}, lambda d: d["jobs"], 30)["jobs"]
    with pytest.raises(ClientError) as exc:  # "You cannot delete a job that is InProgress"
        server.sagemaker.delete_training_job(TrainingJobName=running[0]["TrainingJobName"])
    assert exc.value.response["Error"]["Code"] == "ResourceInUse"
    server.sagemaker.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    server.wait_tuning(name, timeout=60)
    server.sagemaker.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    # only the tuning job's entry goes; its training jobs stay, as AWS documents
    kept = server.sagemaker.describe_training_job(TrainingJobName=running[0]["TrainingJobName"])
    assert kept["TrainingJobStatus"] == "Stopped"
