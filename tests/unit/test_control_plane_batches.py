"""The control plane takes what waits on the bus in batches: metric and log floods are stored in
few commits, everything else keeps its place in the order, and repeats are applied once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from emulator.bus.memory import InProcessBus
from emulator.clock import ManualClock
from emulator.context import ApiContext
from emulator.control_plane import ControlPlane, runs
from emulator.domain.events import (
    AGENT_EVENTS,
    HEARTBEATS,
    AgentHeartbeat,
    Event,
    TrainingLog,
    TrainingMetric,
    TrainingStatus,
    training_topic,
)
from emulator.records import JobRecords
from emulator.settings import Settings
from emulator.store.sqlite import Store
from tests.requests import training_request


def metric(job: str, seq: int, value: float = 1.0) -> TrainingMetric:
    return TrainingMetric(ts=1_700_000_000.0 + seq, job=job, seq=seq, name="loss", value=value)


def test_runs_group_consecutive_metric_and_log_events_only() -> None:
    m1, m2, m3 = metric("a", 1), metric("a", 2), metric("b", 1)
    log = TrainingLog(ts=0.0, job="a", seq=3, line="x")
    status = TrainingStatus(ts=0.0, job="a", seq=4, secondary="Training")
    beat = AgentHeartbeat(ts=0.0, agent="x", host="h", slots=1)
    grouped = list(runs([m1, log, m2, status, m3, beat, beat]))
    assert grouped == [[m1, log, m2], status, [m3], beat, beat]
    assert list(runs([])) == []


async def test_a_subscription_hands_over_what_waits_at_once() -> None:
    bus = InProcessBus()
    async with bus.subscribe(*AGENT_EVENTS) as events:
        for seq in range(1, 6):
            await bus.publish(training_topic("a", "metrics"), metric("a", seq))
        first = await events.batch(3)
        assert [e.seq for _t, e in first] == [1, 2, 3]  # type: ignore[attr-defined]
        rest = events.ready(10)
        assert [e.seq for _t, e in rest] == [4, 5]  # type: ignore[attr-defined]
        assert events.ready(10) == []


class Plane:
    """A control plane on a real store and in-process bus, consuming in a task of its own."""

    def __init__(self, tmp_path: Path) -> None:
        self.clock = ManualClock()
        self.store = Store(tmp_path / "amt.sqlite3")
        self.bus = InProcessBus()
        records = JobRecords(self.store, self.clock, "us-east-1", "1" * 12)
        settings = Settings(data_dir=tmp_path, agents=0)
        self.ctx = ApiContext(settings, self.store, self.bus, self.clock, records)
        self.plane = ControlPlane(self.ctx)
        self.commits = 0
        checkpointer = self.store._checkpointer
        assert checkpointer is not None
        counted = checkpointer.committed

        def committed() -> None:
            self.commits += 1
            counted()

        checkpointer.committed = committed  # type: ignore[method-assign]

    def create(self, name: str) -> None:
        self.ctx.records.create_training(training_request(name))

    async def publish(self, events: list[Event]) -> None:
        for event in events:
            kind = "metrics" if isinstance(event, TrainingMetric) else "logs"
            await self.bus.publish(training_topic(event.job, kind), event)  # type: ignore[attr-defined]

    async def settle(self) -> None:
        """Until the consumer has taken and applied everything published."""
        for _ in range(1000):
            await asyncio.sleep(0)
        await self.plane.idle.wait()


@pytest.fixture
async def plane(tmp_path: Path) -> AsyncIterator[Plane]:
    harness = Plane(tmp_path)
    async with harness.bus.subscribe(*AGENT_EVENTS, HEARTBEATS) as events:
        task = asyncio.create_task(harness.plane.consume(events))
        try:
            yield harness
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            harness.store.close()


def series(store: Store, job: str) -> list[float]:
    return [v for _s, _t, v in store.metric_series(job, "loss")]


async def test_a_flood_is_stored_whole_in_few_commits(plane: Plane, tmp_path: Path) -> None:
    plane.create("a")
    plane.create("b")
    plane.commits = 0
    flood: list[Event] = []
    for seq in range(1, 201):
        flood.append(metric("a" if seq % 2 else "b", seq, float(seq)))
        flood.append(TrainingLog(ts=float(seq), job="a", seq=seq, line=f"line {seq}"))
    await plane.publish(flood)
    await plane.settle()
    assert series(plane.store, "a") == [float(s) for s in range(1, 201, 2)]
    assert series(plane.store, "b") == [float(s) for s in range(2, 201, 2)]
    assert (tmp_path / "logs" / "a.log").read_text().splitlines() == [
        f"line {s}" for s in range(1, 201)
    ]
    assert 1 <= plane.commits <= 20  # 200 points, one commit each before batching


async def test_every_event_delivered_twice_is_applied_once(plane: Plane) -> None:
    plane.create("a")
    points: list[Event] = [metric("a", seq, float(seq)) for seq in range(1, 51)]
    await plane.publish(points)
    await plane.publish(points[25:] + points)
    await plane.settle()
    assert series(plane.store, "a") == [float(s) for s in range(1, 51)]


async def test_a_status_between_points_is_applied_in_its_place(plane: Plane) -> None:
    """Points before and after a status change: the status lands between the two runs."""
    plane.create("a")
    seen: list[tuple[str, Any]] = []
    ingest = plane.plane.ingest
    real_apply, real_status = ingest.apply, ingest.status

    def apply(events: Any) -> Any:
        seen.append(("points", [e.seq for e in events]))
        return real_apply(events)

    def status(event: TrainingStatus) -> Any:
        seen.append(("status", event.secondary))
        return real_status(event)

    ingest.apply = apply  # type: ignore[method-assign]
    ingest.status = status  # type: ignore[method-assign]
    await plane.publish([metric("a", 1), metric("a", 2)])
    await plane.bus.publish(
        training_topic("a", "status"),
        TrainingStatus(ts=0.0, job="a", seq=3, secondary="Downloading"),
    )
    await plane.publish([metric("a", 4)])
    await plane.settle()
    order = [kind for kind, _ in seen]
    assert order.index("status") > 0 and order.index("status") < len(order) - 1
    flat = [s for kind, seqs in seen if kind == "points" for s in seqs]
    assert flat == [1, 2, 4]
    row = plane.store.get_training_job("a")
    assert row is not None and row.doc["SecondaryStatus"] == "Downloading"
