"""Accounts and regions: each request acts in the region it was signed for and the account its
credentials belong to (as moto decides it); ARNs, lookups, listings and CloudWatch follow."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.api.test_client_cli import amt
from tests.conftest import wait_for
from tests.requests import BUCKET, training_request, tuning_request

pytestmark = pytest.mark.slow

GROUP = "/aws/sagemaker/TrainingJobs"


def client(server: Any, service: str, region: str, **credentials: str) -> Any:
    keys = credentials or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return boto3.client(service, endpoint_url=server.endpoint, region_name=region, **keys)


def names(page: dict[str, Any], key: str = "TrainingJobSummaries") -> list[str]:
    field = "TrainingJobName" if key == "TrainingJobSummaries" else "HyperParameterTuningJobName"
    return [s[field] for s in page[key]]


def error_of(call: Any, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]


def test_a_job_lives_in_the_region_its_request_was_signed_for(server, unique):
    east2 = client(server, "sagemaker", "us-east-2")
    east1 = server.sagemaker
    name = unique("region")
    arn = east2.create_training_job(**training_request(name))["TrainingJobArn"]
    assert arn == f"arn:aws:sagemaker:us-east-2:123456789012:training-job/{name}"
    assert east2.describe_training_job(TrainingJobName=name)["TrainingJobArn"] == arn

    missing = error_of(east1.describe_training_job, TrainingJobName=name)
    assert missing == {"Code": "ValidationException", "Message": "Requested resource not found."}
    assert name not in names(east1.list_training_jobs(NameContains=name))
    assert names(east2.list_training_jobs(NameContains=name)) == [name]
    assert error_of(east1.list_tags, ResourceArn=arn)["Code"] == "ValidationException"
    assert error_of(east1.stop_training_job, TrainingJobName=name)["Code"] == (
        "ValidationException"
    )
    # the emulator keeps names unique across regions: a clear refusal, not a second job
    taken = error_of(east1.create_training_job, **training_request(name))
    assert taken["Code"] == "ResourceInUse" and "another account or region" in taken["Message"]

    done = east2.get_waiter("training_job_completed_or_stopped")
    done.wait(TrainingJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    logs2, logs1 = client(server, "logs", "us-east-2"), client(server, "logs", "us-east-1")
    streams = logs2.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=f"{name}/")
    assert len(streams["logStreams"]) == 1
    try:  # the group may not even exist there
        elsewhere = logs1.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=name)
        assert elsewhere["logStreams"] == []
    except logs1.exceptions.ResourceNotFoundException:
        pass
    dimension = [{"Name": "TrainingJobName", "Value": name}]
    metrics2 = client(server, "cloudwatch", "us-east-2").list_metrics(Dimensions=dimension)
    assert {m["MetricName"] for m in metrics2["Metrics"]} >= {"validation:accuracy"}
    metrics1 = client(server, "cloudwatch", "us-east-1").list_metrics(Dimensions=dimension)
    assert metrics1["Metrics"] == []


def test_a_tuning_job_and_its_training_jobs_share_its_region(server, unique):
    west = client(server, "sagemaker", "eu-west-1")
    name = unique("tune-region")[:32]
    config = {"ResourceLimits": {"MaxNumberOfTrainingJobs": 1, "MaxParallelTrainingJobs": 1}}
    request = tuning_request(name, HyperParameterTuningJobConfig=config)
    arn = west.create_hyper_parameter_tuning_job(**request)["HyperParameterTuningJobArn"]
    assert arn.startswith("arn:aws:sagemaker:eu-west-1:123456789012:hyper-parameter-tuning-job/")
    assert names(
        west.list_hyper_parameter_tuning_jobs(NameContains=name),
        "HyperParameterTuningJobSummaries",
    ) == [name]
    east = server.sagemaker
    assert (
        names(
            east.list_hyper_parameter_tuning_jobs(NameContains=name),
            "HyperParameterTuningJobSummaries",
        )
        == []
    )
    missing = error_of(east.describe_hyper_parameter_tuning_job, HyperParameterTuningJobName=name)
    assert missing["Code"] == "ResourceNotFound"
    children = error_of(
        east.list_training_jobs_for_hyper_parameter_tuning_job, HyperParameterTuningJobName=name
    )
    assert children["Code"] == "ResourceNotFound"
    wait_for(
        lambda: west.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name),
        lambda d: d["HyperParameterTuningJobStatus"] in ("Completed", "Failed", "Stopped"),
        180,
    )
    (child,) = west.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name
    )["TrainingJobSummaries"]
    assert child["TrainingJobArn"].startswith("arn:aws:sagemaker:eu-west-1:123456789012:")
    described = west.describe_training_job(TrainingJobName=child["TrainingJobName"])
    assert described["TuningJobArn"] == arn
    listed = amt(server, "jobs", "--region", "eu-west-1")
    assert any(line.startswith(name) for line in listed.splitlines())
    assert not any(line.startswith(name) for line in amt(server, "jobs").splitlines())


def test_the_account_is_the_one_whose_credentials_signed(server, unique):
    """moto's rule: credentials issued for a role of another account act in that account."""
    sts = client(server, "sts", "us-east-1")
    other = "111122223333"
    assumed = sts.assume_role(RoleArn=f"arn:aws:iam::{other}:role/ci", RoleSessionName="suite")[
        "Credentials"
    ]
    keys = {
        "aws_access_key_id": assumed["AccessKeyId"],
        "aws_secret_access_key": assumed["SecretAccessKey"],
        "aws_session_token": assumed["SessionToken"],
    }
    assert client(server, "sts", "us-east-1", **keys).get_caller_identity()["Account"] == other
    theirs = client(server, "sagemaker", "us-east-1", **keys)
    their_s3 = client(server, "s3", "us-east-1", **keys)
    bucket = unique("their-bucket")
    their_s3.create_bucket(Bucket=bucket)
    assert bucket not in {b["Name"] for b in server.s3.list_buckets()["Buckets"]}
    name = unique("account")
    request = training_request(name, OutputDataConfig={"S3OutputPath": f"s3://{bucket}/out"})
    arn = theirs.create_training_job(**request)["TrainingJobArn"]
    assert arn == f"arn:aws:sagemaker:us-east-1:{other}:training-job/{name}"
    assert names(server.sagemaker.list_training_jobs(NameContains=name)) == []
    assert names(theirs.list_training_jobs(NameContains=name)) == [name]
    done = theirs.get_waiter("training_job_completed_or_stopped")
    done.wait(TrainingJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    job = theirs.describe_training_job(TrainingJobName=name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    # the agent wrote the model into the job's account's bucket
    their_s3.head_object(Bucket=bucket, Key=f"out/{name}/output/model.tar.gz")


def test_s3_buckets_are_per_account_as_in_moto(server):
    """Buckets are global by name on AWS; moto keeps them per account, and so do we."""
    assert BUCKET in {b["Name"] for b in server.s3.list_buckets()["Buckets"]}
    elsewhere = client(server, "s3", "us-west-2")
    assert BUCKET in {b["Name"] for b in elsewhere.list_buckets()["Buckets"]}
