"""Integration fixtures: a real Mosquitto broker per test, on a free loopback port."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.broker import MOSQUITTO, Broker

BrokerFactory = Callable[..., Broker]


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[BrokerFactory]:
    """Start brokers with options (users=, tls=); every one is stopped after the test."""
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (Debian: apt-get install mosquitto)")
    started: list[Broker] = []

    def start(**options: Any) -> Broker:
        broker = Broker(tmp_path / f"broker-{len(started)}", **options)
        started.append(broker)
        broker.start()
        return broker

    yield start
    for broker in started:
        broker.kill()


@pytest.fixture
def broker(broker_factory: BrokerFactory) -> Broker:
    """A running anonymous broker with persistence."""
    return broker_factory()
