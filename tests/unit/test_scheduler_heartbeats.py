"""When a heartbeat proves an agent no longer runs a job assigned to it.

A heartbeat may leave the agent while an assignment is still on its way to it. The agent says
which assignments it has received (`assigned_until`, the newest one's timestamp); only those,
or assignments the agent has let several heartbeats pass without receiving, can be lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.bus.memory import InProcessBus
from emulator.clock import ManualClock
from emulator.domain.events import HEARTBEAT_SECONDS, AgentHeartbeat, StopTraining, training_topic
from emulator.records import JobRecords
from emulator.scheduler import RESTOP_BEATS, UNDELIVERED_BEATS, Scheduler
from emulator.store.sqlite import Store
from tests.requests import training_request

AGENT = "agent-1"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def scheduler(tmp_path: Path, clock: ManualClock) -> Iterator[Scheduler]:
    store = Store(tmp_path / "amt.sqlite3")
    records = JobRecords(store, clock, "us-east-1", "123456789012")
    yield Scheduler(store, records, InProcessBus(), clock)
    store.close()


def beat(
    clock: ManualClock,
    running: tuple[str, ...] = (),
    assigned_until: float = 0.0,
    agent: str = AGENT,
) -> AgentHeartbeat:
    return AgentHeartbeat(
        ts=clock.now(),
        agent=agent,
        host="h",
        slots=2,
        running=running,
        assigned_until=assigned_until,
    )


async def assigned(scheduler: Scheduler, clock: ManualClock, name: str) -> float:
    """Create a job and assign it to AGENT; its assignment time."""
    scheduler.on_heartbeat(beat(clock))
    scheduler.records.create_training(training_request(name))
    await scheduler.place_waiting()
    row = scheduler.store.get_training_job(name)
    assert row is not None and row.agent == AGENT
    return float(row.assigned_at)


def status(scheduler: Scheduler, name: str) -> str:
    row = scheduler.store.get_training_job(name)
    assert row is not None
    return str(row.doc["TrainingJobStatus"])


async def test_an_assignment_still_on_its_way_is_not_lost_however_late_the_heartbeat(
    scheduler: Scheduler, clock: ManualClock
) -> None:
    at = await assigned(scheduler, clock, "in-flight")
    clock.advance(60 * HEARTBEAT_SECONDS)  # a loaded machine: the message is slow
    assert scheduler.on_heartbeat(beat(clock, assigned_until=at - 1)) == []
    assert status(scheduler, "in-flight") == "InProgress"


async def test_a_job_assigned_before_a_received_assignment_and_not_running_is_lost(
    scheduler: Scheduler, clock: ManualClock
) -> None:
    await assigned(scheduler, clock, "gone")
    clock.advance(0.1)
    later = await assigned(scheduler, clock, "later")
    running = ("gone", "later")
    assert scheduler.on_heartbeat(beat(clock, running=running, assigned_until=later)) == []
    lost = scheduler.on_heartbeat(beat(clock, running=("later",), assigned_until=later))
    assert [r.doc["TrainingJobName"] for r in lost] == ["gone"]
    assert status(scheduler, "gone") == "Failed"
    assert lost[0].retryable is True


async def test_assignments_made_at_one_clock_reading_are_not_told_apart_by_it(
    scheduler: Scheduler, clock: ManualClock
) -> None:
    """A held virtual clock reads the same for several assignments: the agent having received
    the first says nothing of the second."""
    first = await assigned(scheduler, clock, "first")
    second = await assigned(scheduler, clock, "second")
    assert first == second
    assert scheduler.on_heartbeat(beat(clock, running=("first",), assigned_until=first)) == []
    assert status(scheduler, "second") == "InProgress"


async def test_an_assignment_never_acknowledged_is_lost_after_some_heartbeats(
    scheduler: Scheduler, clock: ManualClock
) -> None:
    await assigned(scheduler, clock, "never-arrived")
    for _ in range(UNDELIVERED_BEATS - 1):
        clock.advance(HEARTBEAT_SECONDS)
        assert scheduler.on_heartbeat(beat(clock)) == []  # a restarted agent: assigned_until 0
    clock.advance(HEARTBEAT_SECONDS)
    assert [r.doc["TrainingJobName"] for r in scheduler.on_heartbeat(beat(clock))] == [
        "never-arrived"
    ]


async def test_other_agents_heartbeats_do_not_restart_the_count_of_an_undelivered_one(
    scheduler: Scheduler, clock: ManualClock
) -> None:
    """A second agent beats between this agent's beats (a broker restart lost the
    assignment): the job is still lost after UNDELIVERED_BEATS of its own agent's beats."""
    await assigned(scheduler, clock, "never-arrived")
    other = beat(clock, agent="agent-2")
    lost: list[str] = []
    for _ in range(UNDELIVERED_BEATS):
        clock.advance(HEARTBEAT_SECONDS)
        assert scheduler.on_heartbeat(other) == []
        lost += [r.doc["TrainingJobName"] for r in scheduler.on_heartbeat(beat(clock))]
    assert lost == ["never-arrived"]


async def test_a_stop_lost_with_the_control_plane_is_sent_again_after_some_heartbeats(
    scheduler: Scheduler, clock: ManualClock
) -> None:
    """A control plane that died between storing `Stopping` and publishing the stop: the job
    keeps running on its agent until a heartbeat shows it still there."""
    at = await assigned(scheduler, clock, "stopping")
    row = scheduler.store.get_training_job("stopping")
    assert row is not None
    row.stop_reason = "early_stop"
    assert scheduler.records.move(row, "Stopping")
    async with scheduler.bus.subscribe(training_topic("stopping", "stop")) as stops:
        running = beat(clock, running=("stopping",), assigned_until=at + 1)
        scheduler.on_heartbeat(running)
        await scheduler.stop_again(running)  # no stop on record since this scheduler started
        first = await asyncio.wait_for(stops.__anext__(), 1)
        assert isinstance(first[1], StopTraining) and first[1].reason == "early_stop"
        scheduler.on_heartbeat(running)
        await scheduler.stop_again(running)  # just sent: the agent is stopping it
        assert stops.ready(10) == []
        for _ in range(RESTOP_BEATS):
            scheduler.on_heartbeat(running)
        await scheduler.stop_again(running)
        again = await asyncio.wait_for(stops.__anext__(), 1)
        assert again[1].job == "stopping"


# --- two processes under one agent id ------------------------------------------------------


def twin_beat(clock: ManualClock, instance: str, host: str, online: bool = True) -> AgentHeartbeat:
    return AgentHeartbeat(
        ts=clock.now(), agent=AGENT, host=host, slots=2, online=online, instance=instance
    )


def test_two_instances_beating_under_one_id_are_reported(
    scheduler: Scheduler, clock: ManualClock
) -> None:
    scheduler.on_heartbeat(twin_beat(clock, "a", "host-a"))
    assert scheduler.agents[AGENT].duplicate == ""
    clock.advance(1)
    scheduler.on_heartbeat(twin_beat(clock, "b", "host-b"))
    said = scheduler.agents[AGENT].duplicate
    assert "2 agent processes use this id (hosts: host-a, host-b)" in said
    assert "--agent-id" in said
    # once the other one has been silent for three heartbeat periods, the report clears
    for _ in range(4):
        clock.advance(HEARTBEAT_SECONDS)
        scheduler.on_heartbeat(twin_beat(clock, "a", "host-a"))
    assert scheduler.agents[AGENT].duplicate == ""


async def test_a_duplicates_goodbye_does_not_take_the_id_offline(
    scheduler: Scheduler, clock: ManualClock
) -> None:
    scheduler.on_heartbeat(twin_beat(clock, "a", "host-a"))
    scheduler.records.create_training(training_request("kept"))
    await scheduler.place_waiting()
    clock.advance(1)
    assert scheduler.on_heartbeat(twin_beat(clock, "b", "host-b", online=False)) == []
    assert scheduler.agents[AGENT].online
    assert status(scheduler, "kept") == "InProgress"
    # the holder's own goodbye still does
    scheduler.on_heartbeat(twin_beat(clock, "a", "host-a", online=False))
    assert not scheduler.agents[AGENT].online
