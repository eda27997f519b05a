"""The hyperparameter tuning job operations."""

from __future__ import annotations

from typing import Any

from emulator.api import pagination
from emulator.api.context import Handler, Result, require_in_progress
from emulator.context import ApiContext, missing_tuning_job
from emulator.domain.builtin import builtin_metrics
from emulator.domain.commands import Refresh
from emulator.domain.documents import new_tuning_doc
from emulator.domain.status import TERMINAL_TUNING
from emulator.domain.summary import training_summary
from emulator.errors import ResourceInUse, ValidationException
from emulator.ids import Scope, tuning_job_arn
from emulator.records import name_taken
from emulator.rules.service_rules import check_create_tuning_job
from emulator.store.text import with_fields


def _lookup_doc(ctx: ApiContext, name: str) -> dict[str, Any] | None:
    row = ctx.find_tuning(name)
    return row.doc if row else None


async def create_tuning_job(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    check_create_tuning_job(
        params, lookup_tuning_job=lambda n: _lookup_doc(ctx, n), builtin_metrics=builtin_metrics
    )
    name = params["HyperParameterTuningJobName"]
    arn = tuning_job_arn(ctx.scope.region, ctx.scope.account, name)
    existing = ctx.store.get_tuning_job(name)
    if existing is not None and ctx.owns(existing.doc["HyperParameterTuningJobArn"]):
        raise ResourceInUse(
            f"A hyperparameter tuning job with the name, {name}, already exists. "
            "Choose a different name."
        )
    if existing is not None:
        raise name_taken("tuning job", arn, existing.doc["HyperParameterTuningJobArn"])
    doc = new_tuning_doc(params, arn, ctx.clock.now())
    with ctx.store.transaction():
        ctx.store.insert_tuning_job(doc, {"launched": 0})
        ctx.store.add_tags(arn, [(t["Key"], t["Value"]) for t in params.get("Tags", [])])
    ctx.send(Refresh(name))
    return {"HyperParameterTuningJobArn": arn}


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
    name = ctx.tuning_row(params["HyperParameterTuningJobName"]).doc["HyperParameterTuningJobName"]
    summaries = [training_summary(r) for r in ctx.store.children(name)]
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
    row = ctx.tuning_row(params["HyperParameterTuningJobName"])
    require_in_progress("tuning job", row.doc["HyperParameterTuningJobStatus"])
    row.doc["HyperParameterTuningJobStatus"] = "Stopping"
    row.doc["LastModifiedTime"] = ctx.clock.now()
    row.meta["ending"] = "Stopped"
    ctx.store.update_tuning_job(row)
    ctx.send(Refresh(row.doc["HyperParameterTuningJobName"]))
    return {}


async def delete_tuning_job(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    row = ctx.tuning_row(params["HyperParameterTuningJobName"])
    status = row.doc["HyperParameterTuningJobStatus"]
    if status not in TERMINAL_TUNING:
        raise ValidationException(
            f"The request was rejected because the tuning job is in status {status}. "
            "Only a Completed, Failed or Stopped tuning job can be deleted."
        )
    arn = row.doc["HyperParameterTuningJobArn"]
    with ctx.store.transaction():
        ctx.store.delete_tuning_job(row.doc["HyperParameterTuningJobName"])
        ctx.store.clear_tags(arn)
    return {}


HANDLERS: dict[str, Handler] = {
    "CreateHyperParameterTuningJob": create_tuning_job,
    "DescribeHyperParameterTuningJob": describe_tuning_job,
    "ListHyperParameterTuningJobs": list_tuning_jobs,
    "ListTrainingJobsForHyperParameterTuningJob": list_children,
    "StopHyperParameterTuningJob": stop_tuning_job,
    "DeleteHyperParameterTuningJob": delete_tuning_job,
}
