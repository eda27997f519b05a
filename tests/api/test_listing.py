"""List operations filter in AWS's order (botocore's documentation of each operation).

ListTrainingJobs takes `MaxResults` jobs, then applies `StatusEquals` and `NameContains` to
them: a page can be short or empty while a NextToken says there is more. Each test works in a
region of its own, so the jobs listed are only its own.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.requests import training_request

pytestmark = pytest.mark.slow


def sagemaker_in(server: Any, region: str) -> Any:
    return boto3.client(
        "sagemaker",
        endpoint_url=server.endpoint,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def names(page: dict[str, Any]) -> list[str]:
    return [s["TrainingJobName"] for s in page["TrainingJobSummaries"]]


def test_list_training_jobs_takes_max_results_then_filters(server, unique):
    sm = sagemaker_in(server, "ap-southeast-2")
    base = unique("order")
    created = [f"{base}-other-1", f"{base}-other-2", f"{base}-match-3", f"{base}-match-4"]
    for name in created:
        sm.create_training_job(**training_request(name, HyperParameters={"epochs": "1"}))
    try:
        first = sm.list_training_jobs(NameContains="match", MaxResults=2)
        assert names(first) == [] and first["NextToken"]
        second = sm.list_training_jobs(NameContains="match", MaxResults=2, **_after(first))
        assert names(second) == created[2:] and "NextToken" not in second

        none_failed = sm.list_training_jobs(StatusEquals="Failed", MaxResults=3)
        assert names(none_failed) == [] and none_failed["NextToken"]

        paginator = sm.get_paginator("list_training_jobs")
        pages = list(paginator.paginate(NameContains="match", PaginationConfig={"PageSize": 1}))
        assert [n for p in pages for n in names(p)] == created[2:]
        assert len(pages) == 4  # one page per job taken, matching or not
        running = paginator.paginate(StatusEquals="InProgress", NameContains=base)
        assert sorted(n for p in running for n in names(p)) == sorted(created)
    finally:
        for name in created:
            sm.stop_training_job(TrainingJobName=name)


def test_list_tuning_jobs_filters_before_taking_a_page(server, unique):
    """ListHyperParameterTuningJobs documents no such order: a page holds MaxResults matches."""
    from tests.requests import tuning_request

    sm = sagemaker_in(server, "ap-northeast-3")
    base = unique("tlo")[:20]
    created = [f"{base}-a", f"{base}-b-match", f"{base}-c"]
    for name in created:
        sm.create_hyper_parameter_tuning_job(**tuning_request(name))
    try:
        page = sm.list_hyper_parameter_tuning_jobs(NameContains="match", MaxResults=1)
        summaries = page["HyperParameterTuningJobSummaries"]
        assert [s["HyperParameterTuningJobName"] for s in summaries] == [created[1]]
        assert "NextToken" not in page
    finally:
        for name in created:
            sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)


def _after(page: dict[str, Any]) -> dict[str, Any]:
    return {"NextToken": page["NextToken"]}
