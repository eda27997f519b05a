"""Fixtures shared by the unit tests."""

from __future__ import annotations

import pytest

from emulator.clock import ManualClock
from emulator.records import JobRecords
from emulator.store.sqlite import Store
from emulator.tuner.service import TunerService

TunerFixture = tuple[TunerService, Store, ManualClock, list[tuple[str, str]]]


@pytest.fixture
def tuner() -> TunerFixture:
    """A tuner on an in-memory store and a manual clock; its commands are recorded, not sent."""
    clock = ManualClock()
    store = Store(":memory:")
    commands: list[tuple[str, str]] = []

    async def command(action: str, name: str) -> None:
        commands.append((action, name))

    service = TunerService(store, JobRecords(store, clock, "us-east-1", "1" * 12), clock, command)
    return service, store, clock, commands
