"""CreateTrainingJob, DescribeTrainingJob, ListTrainingJobs, Stop/Update/DeleteTrainingJob."""

from __future__ import annotations

from typing import Any

from emulator.api import pagination
from emulator.api.context import Handler, Result, require_in_progress
from emulator.context import ApiContext
from emulator.domain.commands import Launch, Stop
from emulator.domain.status import ACTIVE_TRAINING
from emulator.errors import ResourceInUse, ValidationException
from emulator.ids import Scope
from emulator.rules.service_rules import check_create_training_job
from emulator.store.text import with_fields


async def create_training_job(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    check_create_training_job(params)
    job = ctx.records.create_training(params, ctx.scope)
    ctx.send(Launch(job.name))
    return {"TrainingJobArn": job.arn}


async def describe_training_job(ctx: ApiContext, params: dict[str, Any]) -> Result:
    """The stored document as stored, with the final metrics appended (no re-serialising)."""
    found = ctx.store.describe_text("training_jobs", params["TrainingJobName"])
    if found is None or Scope(found.account, found.region) != ctx.scope:
        raise ValidationException("Requested resource not found.")
    finals = ctx.store.final_metrics(found.name)
    metrics = [{"MetricName": m, "Value": v, "Timestamp": ts} for m, ts, v in finals]
    return with_fields(found.doc, {"FinalMetricDataList": metrics} if metrics else {}).encode()


async def list_training_jobs(ctx: ApiContext, params: dict[str, Any]) -> Result:
    no_warm_pools = bool(params.get("WarmPoolStatusEquals"))  # the emulator keeps none
    return pagination.list_page(ctx.store, LISTING, params, ctx.scope, nothing=no_warm_pools)


async def stop_training_job(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    job = ctx.training_row(params["TrainingJobName"])
    require_in_progress("training job", job.status)
    job.stop_reason = "user"
    ctx.records.move(job, "Stopping")
    ctx.send(Stop(job.name))
    return {}


async def update_training_job(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    row = ctx.training_row(params["TrainingJobName"])
    for key in ("ProfilerConfig", "ProfilerRuleConfigurations", "RemoteDebugConfig"):
        if key in params:
            row.doc[key] = params[key]
    if "ResourceConfig" in params:
        row.doc.setdefault("ResourceConfig", {}).update(params["ResourceConfig"])
    row.doc["LastModifiedTime"] = ctx.clock.now()
    ctx.store.update_training_job(row)
    return {"TrainingJobArn": row.doc["TrainingJobArn"]}


async def delete_training_job(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    job = ctx.training_row(params["TrainingJobName"])
    if job.status in ACTIVE_TRAINING:
        raise ResourceInUse(
            f"Training job {job.name} is in status {job.status} and cannot be "
            "deleted. Stop it and wait until it has stopped."
        )
    with ctx.store.transaction():
        ctx.store.delete_training_job(job.name)
        ctx.store.clear_tags(job.arn)
    return {}


HANDLERS: dict[str, Handler] = {
    "CreateTrainingJob": create_training_job,
    "DescribeTrainingJob": describe_training_job,
    "ListTrainingJobs": list_training_jobs,
    "StopTrainingJob": stop_training_job,
    "UpdateTrainingJob": update_training_job,
    "DeleteTrainingJob": delete_training_job,
}


LISTING = pagination.Listing(
    table="training_jobs",
    sort_columns={"Name": "name", "CreationTime": "creation_time", "Status": "status"},
    default_sort="CreationTime",
    result_key="TrainingJobSummaries",
    filtered_after_page=frozenset({"StatusEquals", "NameContains"}),
)
