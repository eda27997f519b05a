"""Training jobs through boto3 over HTTP: real processes, real metrics, real failures."""

from __future__ import annotations

import io
import tarfile

import pytest
from botocore.exceptions import ClientError

from tests.requests import BUCKET, training_request

pytestmark = pytest.mark.slow


def test_training_job_runs_to_completion(server, unique):
    name = unique("train-ok")
    arn = server.sagemaker.create_training_job(**training_request(name))["TrainingJobArn"]
    assert arn.endswith(f"training-job/{name}")
    job = server.wait_training(name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["SecondaryStatus"] == "Completed"
    steps = [t["Status"] for t in job["SecondaryStatusTransitions"]]
    assert steps == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert all(t["StatusMessage"] for t in job["SecondaryStatusTransitions"])
    finals = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert 0.0 < finals["validation:accuracy"] <= 1.0
    assert job["TrainingTimeInSeconds"] >= 1
    assert job["BillableTimeInSeconds"] == job["TrainingTimeInSeconds"]
    assert job["OutputDataConfig"]["KmsKeyId"] == ""
    uri = job["ModelArtifacts"]["S3ModelArtifacts"]
    assert uri == f"s3://{BUCKET}/output/{name}/output/model.tar.gz"
    body = server.s3.get_object(Bucket=BUCKET, Key=f"output/{name}/output/model.tar.gz")["Body"]
    with tarfile.open(fileobj=io.BytesIO(body.read()), mode="r:gz") as tar:
        assert tar.getnames(), "the model directory was uploaded empty"


def test_failure_reason_comes_from_output_failure(server, unique):
    name = unique("train-fail")
    request = training_request(name, HyperParameters={"epochs": "2", "fail": "true"})
    server.sagemaker.create_training_job(**request)
    job = server.wait_training(name)
    assert job["TrainingJobStatus"] == "Failed"
    assert job["SecondaryStatus"] == "Failed"
    assert "requested failure" in job["FailureReason"].lower()
    assert len(job["FailureReason"]) <= 1024


def test_max_runtime_exceeded_stops_the_job(server, unique):
    name = unique("train-slow")
    request = training_request(
        name,
        HyperParameters={"epochs": "50", "sleep_per_epoch": "0.5"},
        StoppingCondition={"MaxRuntimeInSeconds": 2},
    )
    server.sagemaker.create_training_job(**request)
    job = server.wait_training(name, timeout=60)
    assert job["TrainingJobStatus"] == "Stopped"
    assert job["SecondaryStatus"] == "MaxRuntimeExceeded"


def test_stop_training_job(server, unique):
    name = unique("train-stop")
    request = training_request(name, HyperParameters={"epochs": "100", "sleep_per_epoch": "0.3"})
    server.sagemaker.create_training_job(**request)
    wait = server.sagemaker
    for _ in range(100):
        if wait.describe_training_job(TrainingJobName=name)["SecondaryStatus"] == "Training":
            break
        __import__("time").sleep(0.1)
    server.sagemaker.stop_training_job(TrainingJobName=name)
    assert wait.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] in (
        "Stopping",
        "Stopped",
    )
    job = server.wait_training(name, timeout=30)
    assert job["TrainingJobStatus"] == "Stopped"
    with pytest.raises(ClientError) as exc:
        server.sagemaker.stop_training_job(TrainingJobName=name)
    assert exc.value.response["Error"]["Code"] == "ValidationException"
    assert "is in status Stopped" in exc.value.response["Error"]["Message"]


def test_unmapped_image_fails_with_a_reason_naming_the_flag(server, unique):
    name = unique("train-noimage")
    request = training_request(
        name, AlgorithmSpecification={"TrainingImage": "example.com/unknown:1"}
    )
    server.sagemaker.create_training_job(**request)
    job = server.wait_training(name)
    assert job["TrainingJobStatus"] == "Failed"
    assert "--image" in job["FailureReason"]


def test_list_training_jobs_filters_sorts_and_pages(server, unique):
    """Filters apply to the pages taken (see test_listing): a paginator sees every match."""
    prefix = unique("lst")
    names = [f"{prefix}-{i}" for i in range(5)]
    for name in names:
        request = training_request(name, HyperParameters={"epochs": "1"})
        server.sagemaker.create_training_job(**request)
    paginator = server.sagemaker.get_paginator("list_training_jobs")

    def listed(**kwargs):
        pages = paginator.paginate(NameContains=prefix, **kwargs)
        return [s["TrainingJobName"] for page in pages for s in page["TrainingJobSummaries"]]

    assert listed(SortBy="Name", PaginationConfig={"PageSize": 2}) == sorted(names)
    assert listed(SortBy="Name", SortOrder="Descending") == sorted(names)[::-1]
    for name in names:
        server.wait_training(name)
    assert len(listed(StatusEquals="Completed")) == 5


def test_tags_on_training_jobs(server, unique):
    name = unique("train-tags")
    request = training_request(
        name, HyperParameters={"epochs": "1"}, Tags=[{"Key": "team", "Value": "ml"}]
    )
    arn = server.sagemaker.create_training_job(**request)["TrainingJobArn"]
    assert server.sagemaker.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    server.sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "stage", "Value": "dev"}])
    server.sagemaker.delete_tags(ResourceArn=arn, TagKeys=["team"])
    assert server.sagemaker.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "stage", "Value": "dev"}]
    server.wait_training(name)
    server.sagemaker.delete_training_job(TrainingJobName=name)
    with pytest.raises(ClientError) as exc:
        server.sagemaker.describe_training_job(TrainingJobName=name)
    assert exc.value.response["Error"]["Message"] == "Requested resource not found."
