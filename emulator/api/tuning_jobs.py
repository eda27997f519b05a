"""The hyperparameter tuning job operations."""

from __future__ import annotations

from typing import Any

from emulator.api import pagination
from emulator.api.context import Handler, Result, require_in_progress
from emulator.context import ApiContext, missing_tuning_job
from emulator.domain.builtin import builtin_metrics
from emulator.domain.commands import Refresh
from emulator.domain.status import TERMINAL_TUNING
from emulator.errors import ValidationException
from emulator.ids import Scope
from emulator.rules.service_rules import check_create_tuning_job
from emulator.store.text import with_fields


def _lookup_doc(ctx: ApiContext, name: str) -> dict[str, Any] | None:
    job = ctx.find_tuning(name)
    return job.doc if job else None


async def create_tuning_job(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    check_create_tuning_job(
        params, lookup_tuning_job=lambda n: _lookup_doc(ctx, n), builtin_metrics=builtin_metrics
    )
    job = ctx.records.create_tuning(params, ctx.scope)
    ctx.send(Refresh(job.name))
    return {"HyperParameterTuningJobArn": job.arn}


async def describe_tuning_job(ctx: ApiContext, params: dict[str, Any]) -> Result:
    """The stored document as stored; a running job adds its live ConsumedResources."""
    name = params["HyperParameterTuningJobName"]
    found = ctx.store.describe_text("tuning_jobs", name)
    if found is None or Scope(found.account, found.region) != ctx.scope:
        raise missing_tuning_job(name)
    live: dict[str, Any] = {}
    if found.status not in TERMINAL_TUNING:
        runtime = int(ctx.clock.now() - found.creation_time)
        live["ConsumedResources"] = {"RuntimeInSeconds": runtime}
    return with_fields(found.doc, live).encode()


async def list_tuning_jobs(ctx: ApiContext, params: dict[str, Any]) -> Result:
    return pagination.list_page(ctx.store, LISTING, params, ctx.scope)


LISTING = pagination.Listing(
    table="tuning_jobs",
    sort_columns={"Name": "name", "CreationTime": "creation_time", "Status": "status"},
    default_sort="Name",
    result_key="HyperParameterTuningJobSummaries",
)

_CHILD_SORT = {
    "Name": lambda s: s["TrainingJobName"],
    "CreationTime": lambda s: s["CreationTime"],
    "Status": lambda s: s["TrainingJobStatus"],
    "FinalObjectiveMetricValue": lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"][
        "Value"
    ],
}


async def list_children(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    name = ctx.tuning_row(params["HyperParameterTuningJobName"]).name
    summaries = ctx.store.child_summaries(name)
    if params.get("StatusEquals"):
        summaries = [s for s in summaries if s["TrainingJobStatus"] == params["StatusEquals"]]
    sort_by = params.get("SortBy", "Name")
    if sort_by == "FinalObjectiveMetricValue":
        summaries = [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" in s]
    summaries.sort(key=_CHILD_SORT[sort_by], reverse=params.get("SortOrder") == "Descending")
    offset, limit = pagination.page_bounds(params)
    result: dict[str, Any] = {"TrainingJobSummaries": summaries[offset : offset + limit]}
    token = pagination.next_token(params, offset, limit, offset + limit < len(summaries))
    if token:
        result["NextToken"] = token
    return result


async def stop_tuning_job(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    job = ctx.tuning_row(params["HyperParameterTuningJobName"])
    require_in_progress("tuning job", job.status)
    ctx.records.move_tuning(job, "Stopping")
    ctx.store.update_tuning_job(job)
    ctx.send(Refresh(job.name))
    return {}


async def delete_tuning_job(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    job = ctx.tuning_row(params["HyperParameterTuningJobName"])
    if job.status not in TERMINAL_TUNING:
        raise ValidationException(
            f"The request was rejected because the tuning job is in status {job.status}. "
            "Only a Completed, Failed or Stopped tuning job can be deleted."
        )
    with ctx.store.transaction():
        ctx.store.delete_tuning_job(job.name)
        ctx.store.clear_tags(job.arn)
    return {}


HANDLERS: dict[str, Handler] = {
    "CreateHyperParameterTuningJob": create_tuning_job,
    "DescribeHyperParameterTuningJob": describe_tuning_job,
    "ListHyperParameterTuningJobs": list_tuning_jobs,
    "ListTrainingJobsForHyperParameterTuningJob": list_children,
    "StopHyperParameterTuningJob": stop_tuning_job,
    "DeleteHyperParameterTuningJob": delete_tuning_job,
}
