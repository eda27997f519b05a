"""AddTags, ListTags, DeleteTags."""

from __future__ import annotations

from typing import Any

from emulator.api.context import Handler
from emulator.context import ApiContext
from emulator.domain.jobs import TrainingJob, TuningJob
from emulator.errors import ValidationException


def _require_resource(ctx: ApiContext, arn: str) -> None:
    """Tags of our own job types need the job to exist in the request's account and region;
    other SageMaker ARNs are accepted."""
    resource = arn.split(":", 5)[5] if arn.count(":") >= 5 else ""
    kind, _, name = resource.partition("/")
    job: TrainingJob | TuningJob | None
    if kind == "training-job":
        job = ctx.find_training(name)
    elif kind == "hyper-parameter-tuning-job":
        job = ctx.find_tuning(name)
    else:
        return
    if (job.arn if job else None) != arn.lower():
        raise ValidationException(f"Resource {arn} does not exist.")


async def add_tags(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    arn = params["ResourceArn"]
    _require_resource(ctx, arn)
    tags = [(t["Key"], t["Value"]) for t in params["Tags"]]
    if len({k for k, _ in ctx.store.list_tags(arn.lower())} | {k for k, _ in tags}) > 50:
        raise ValidationException("A resource can have at most 50 tags.")
    ctx.store.add_tags(arn.lower(), tags)
    return {"Tags": params["Tags"]}


async def list_tags(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    arn = params["ResourceArn"]
    _require_resource(ctx, arn)
    tags = [{"Key": k, "Value": v} for k, v in ctx.store.list_tags(arn.lower())]
    token = str(params.get("NextToken") or "0")
    if not token.isdigit():
        raise ValidationException("Invalid pagination token: the NextToken is malformed.")
    start = int(token)
    limit = int(params.get("MaxResults", 50))
    result: dict[str, Any] = {"Tags": tags[start : start + limit]}
    if start + limit < len(tags):
        result["NextToken"] = str(start + limit)
    return result


async def delete_tags(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    arn = params["ResourceArn"]
    _require_resource(ctx, arn)
    ctx.store.delete_tags(arn.lower(), params["TagKeys"])
    return {}


HANDLERS: dict[str, Handler] = {
    "AddTags": add_tags,
    "ListTags": list_tags,
    "DeleteTags": delete_tags,
}
