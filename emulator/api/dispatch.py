"""One table from `X-Amz-Target` operation name to handler, and the steps every call takes."""

from __future__ import annotations

import json
from typing import Any

from emulator.api import tags, training_jobs, tuning_jobs
from emulator.api.context import Handler, Result
from emulator.context import ApiContext
from emulator.errors import SerializationException, UnknownOperationException
from emulator.rules.validation import validate_input

OPERATIONS: dict[str, Handler] = {
    **tuning_jobs.HANDLERS,
    **training_jobs.HANDLERS,
    **tags.HANDLERS,
}


async def dispatch(ctx: ApiContext, target: str, body: bytes) -> Result:
    """Parse, validate against botocore's model, and run the operation's handler."""
    prefix, _, operation = target.partition(".")
    handler = OPERATIONS.get(operation) if prefix == "SageMaker" else None
    if handler is None:
        raise UnknownOperationException(
            f"The operation '{target or '(no X-Amz-Target header)'}' is not supported by "
            "this endpoint."
        )
    params = parse_body(body)
    validate_input(operation, params)
    return await handler(ctx, params)


def parse_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        params = json.loads(body, parse_constant=_refuse_constant)
    except SerializationException:
        raise
    except (ValueError, RecursionError) as exc:
        raise SerializationException(f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(params, dict):
        raise SerializationException("The request body must be a JSON object.")
    return params


def _refuse_constant(name: str) -> Any:
    """NaN and Infinity are not JSON; Python's parser would take them, AWS's does not."""
    raise SerializationException(
        f"The request body is not valid JSON: {name} is not a JSON number."
    )
