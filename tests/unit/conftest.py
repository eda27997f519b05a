"""Fixtures shared by the unit tests."""

from __future__ import annotations

import pytest

from emulator.clock import ManualClock
from emulator.domain.commands import Commands
from emulator.records import JobRecords
from emulator.store.sqlite import Store
from emulator.tuner.service import TunerService

TunerFixture = tuple[TunerService, Store, ManualClock, Commands]


@pytest.fixture
def tuner() -> TunerFixture:
    """A tuner on an in-memory store and a manual clock, and a list for the commands a test
    collects from its handlers."""
    clock = ManualClock()
    store = Store(":memory:")
    service = TunerService(store, JobRecords(store, clock, "us-east-1", "1" * 12), clock)
    return service, store, clock, []
