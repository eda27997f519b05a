"""What every API handler works with: the store, the bus, the clock and the settings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from emulator.bus.base import Bus
from emulator.clock import Clock
from emulator.domain.events import CONTROL_TOPIC, ControlCommand
from emulator.errors import ResourceNotFound, ValidationException
from emulator.records import JobRecords
from emulator.settings import Settings
from emulator.store.sqlite import Row, Store


@dataclass
class ApiContext:
    settings: Settings
    store: Store
    bus: Bus
    clock: Clock
    records: JobRecords

    def tuning_row(self, name: str) -> Row:
        row = self.store.get_tuning_job(name)
        if row is None:
            raise missing_tuning_job(name)
        return row

    def training_row(self, name: str) -> Row:
        row = self.store.get_training_job(name)
        if row is None:
            raise ValidationException("Requested resource not found.")
        return row

    async def command(self, action: str, name: str) -> None:
        """Tell the control plane (tuner, scheduler) that something needs its attention."""
        event = ControlCommand(ts=self.clock.now(), action=action, name=name)
        await self.bus.publish(CONTROL_TOPIC, event)


def require_in_progress(kind: str, status: str) -> None:
    """Stop requests are for running jobs only, as the service answers."""
    if status != "InProgress":
        raise ValidationException(
            f"The request was rejected because the {kind} is in status {status}."
        )


def missing_tuning_job(name: str) -> ResourceNotFound:
    return ResourceNotFound(
        f"Amazon SageMaker can't find a tuning job called {name}. Type another name."
    )


Result = dict[str, Any] | bytes
"""A response body: a dict to serialise, or JSON bytes ready to send (hot read paths)."""
Handler = Callable[[ApiContext, dict[str, Any]], Awaitable[Result]]
