"""The reset a test suite calls between tests: running jobs stopped, then nothing left behind
(jobs, tags, metric points, S3 on disk too, CloudWatch, job directories), as moto's own
`POST /moto-api/reset` leaves nothing of its state."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import start_server, wait_for
from tests.requests import BUCKET, training_request, tuning_request

pytestmark = pytest.mark.slow

SLOW = {"epochs": "200", "sleep_per_epoch": "0.2"}


def post(url: str) -> dict:
    request = urllib.request.Request(url, data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def test_moto_api_reset_stops_running_jobs_and_leaves_nothing_behind(tmp_path: Path):
    data = tmp_path / "amt-data"
    server = start_server(data, extra_args=["--stop-grace", "2"])
    sm, s3 = server.sagemaker, server.s3
    try:
        sm.create_training_job(**training_request("busy", HyperParameters=SLOW))
        slow_definition = {"StaticHyperParameters": SLOW}
        tuning = tuning_request("busy-tuning", TrainingJobDefinition=slow_definition)
        sm.create_hyper_parameter_tuning_job(**tuning)
        s3.put_object(Bucket=BUCKET, Key="data/x.csv", Body=b"1,2\n")
        logs = server.process.client("logs")
        wait_for(
            lambda: sm.describe_training_job(TrainingJobName="busy"),
            lambda d: d["SecondaryStatus"] == "Training",
            60,
        )

        answer = post(f"{server.endpoint}/moto-api/reset")
        assert answer == {"status": "ok", "unconfirmed": []}

        assert sm.list_training_jobs()["TrainingJobSummaries"] == []
        assert sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"] == []
        assert s3.list_buckets()["Buckets"] == []
        assert logs.describe_log_groups()["logGroups"] == []
        assert server.process.client("cloudwatch").list_metrics()["Metrics"] == []
        assert list((data / "jobs").iterdir()) == []
        assert all(rows == [] for rows in server.snapshot().values())

        # names can be used again, and new jobs run as on a new server
        s3.create_bucket(Bucket=BUCKET)
        sm.create_training_job(**training_request("busy", HyperParameters={"epochs": "1"}))
        assert server.wait_training("busy")["TrainingJobStatus"] == "Completed"
        assert post(f"{server.endpoint}/_emulator/reset")["status"] == "ok"
    finally:
        server.process.stop()
    # nothing comes back from disk after a restart either
    server = start_server(data, extra_args=["--stop-grace", "2"])
    try:
        assert [b["Name"] for b in server.s3.list_buckets()["Buckets"]] == [BUCKET]
        assert server.s3.list_objects_v2(Bucket=BUCKET).get("Contents", []) == []
        assert server.sagemaker.list_training_jobs()["TrainingJobSummaries"] == []
    finally:
        server.process.stop()
