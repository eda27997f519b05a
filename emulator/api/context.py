"""The shape of a SageMaker operation's handler, and the checks several handlers share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from emulator.context import ApiContext
from emulator.errors import ValidationException


def require_in_progress(kind: str, status: str) -> None:
    """Stop requests are for running jobs only, as the service answers."""
    if status != "InProgress":
        raise ValidationException(
            f"The request was rejected because the {kind} is in status {status}."
        )


Result = dict[str, Any] | bytes
"""A response body: a dict to serialise, or JSON bytes ready to send (hot read paths)."""
Handler = Callable[[ApiContext, dict[str, Any]], Awaitable[Result]]
