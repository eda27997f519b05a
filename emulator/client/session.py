"""Reading a tuning job the way the console does: through the API, plus our metric endpoint."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from typing import Any

import boto3


@dataclass
class Emulator:
    endpoint: str
    region: str = "us-east-1"

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id="amt-cli",
            aws_secret_access_key="amt-cli",
        )

    def tuning_job(self, name: str) -> dict[str, Any]:
        sm = self.client("sagemaker")
        return dict(sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name))

    def children(self, name: str) -> list[dict[str, Any]]:
        paginator = self.client("sagemaker").get_paginator(
            "list_training_jobs_for_hyper_parameter_tuning_job"
        )
        return [
            summary
            for page in paginator.paginate(HyperParameterTuningJobName=name)
            for summary in page["TrainingJobSummaries"]
        ]

    def metrics(self, job: str) -> dict[str, list[dict[str, float]]]:
        """metric name -> [{step, timestamp, value}] of one training job."""
        url = f"{self.endpoint.rstrip('/')}/_emulator/training-jobs/{job}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            return dict(json.load(response)["Metrics"])
