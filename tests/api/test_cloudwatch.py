"""Training logs and metrics read back through CloudWatch Logs and CloudWatch."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from tests.requests import training_request

pytestmark = pytest.mark.slow


def test_logs_and_metrics_of_a_training_job(server, unique):
    name = unique("cw")
    server.sagemaker.create_training_job(**training_request(name))
    job = server.wait_training(name)
    assert job["TrainingJobStatus"] == "Completed"

    logs = server.process.client("logs")
    streams = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs",
        logStreamNamePrefix=f"{name}/",
        orderBy="LogStreamName",
    )["logStreams"]
    assert len(streams) == 1
    assert streams[0]["logStreamName"].startswith(f"{name}/algo-1-")
    events = logs.get_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs",
        logStreamName=streams[0]["logStreamName"],
        startFromHead=True,
    )["events"]
    lines = [e["message"] for e in events]
    assert sum("validation:accuracy=" in line for line in lines) == 3

    cloudwatch = server.process.client("cloudwatch")
    stats = cloudwatch.get_metric_statistics(
        Namespace="/aws/sagemaker/TrainingJobs",
        MetricName="validation:accuracy",
        Dimensions=[{"Name": "TrainingJobName", "Value": name}],
        StartTime=job["TrainingStartTime"] - dt.timedelta(minutes=1),
        EndTime=job["TrainingEndTime"] + dt.timedelta(minutes=1),
        Period=60,
        Statistics=["Average", "SampleCount"],
    )["Datapoints"]
    assert sum(p["SampleCount"] for p in stats) == 3
    printed = [
        float(re.search(r"validation:accuracy=([0-9.]+)", x)[1])
        for x in lines
        if "validation:accuracy=" in x
    ]
    total = sum(p["Average"] * p["SampleCount"] for p in stats)
    assert total == pytest.approx(sum(printed))
