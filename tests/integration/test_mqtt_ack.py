"""At-least-once from the broker into the store: the control plane acknowledges an event only
once its effect is committed, so a SIGKILL mid-stream loses none of what it had received, and
the per-series sequence marks store each redelivered point once."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from emulator.bus.acks import AckLedger
from emulator.bus.memory import QueueSubscription
from emulator.bus.mqtt import MqttBus
from emulator.clock import SystemClock
from emulator.domain.events import TrainingMetric, training_topic
from tests.broker import Broker
from tests.conftest import Server, start_server
from tests.requests import training_request

CLOCK = SystemClock()
JOBS = ("ack-a", "ack-b")  # one synthetic agent each
POINTS = 6000  # per job
METRIC = "train:loss"
KILL_AT = 0.1  # of all points stored: the control plane dies with most still to come


def stored_points(data: Path) -> list[tuple[str, float]]:
    """(job, value) of every stored point of METRIC, read beside the server's writer (WAL)."""
    database = data / "amt.sqlite3"
    if not database.exists():
        return []
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT job, value FROM metric_points WHERE metric = ?", (METRIC,))
        return [(str(job), float(value)) for job, value in rows]
    finally:
        db.close()


async def until_stored(data: Path, count: int, within: float) -> list[tuple[str, float]]:
    """Poll the store until it holds at least `count` points (or `within` seconds passed)."""
    deadline = CLOCK.monotonic() + within
    while len(points := stored_points(data)) < count and CLOCK.monotonic() < deadline:
        await CLOCK.sleep(0.005)
    return points


async def serve(data: Path, broker: Broker, port: int | None = None) -> Server:
    args = ["--bus", broker.url, "--agents", "0"]  # no agent: the jobs wait, agents are ours
    return await asyncio.to_thread(start_server, data, port=port, extra_args=args)


async def stream(bus: MqttBus, job: str) -> None:
    """A synthetic agent's metric events, numbered as `amt agent` numbers them."""
    for seq in range(1, POINTS + 1):
        event = TrainingMetric(ts=CLOCK.now(), job=job, seq=seq, name=METRIC, value=float(seq))
        await bus.publish(training_topic(job, "metrics"), event)


# The ledger and the settling contract, without a broker.


def test_acks_go_out_in_arrival_order_once_every_holder_let_go() -> None:
    sent: list[int] = []
    ledger = AckLedger(sent.append)
    first, second, third = (ledger.receive(mid, qos=1) for mid in (7, 8, 9))
    first.hold()  # queued for two subscriptions
    first.hold()
    for delivery in (first, second, third):
        delivery.release()  # the reader handed each out
    assert sent == [] and ledger.outstanding == 3  # 8 and 9 wait behind 7
    first.release()
    assert sent == []
    first.release()
    assert sent == [7, 8, 9] and ledger.outstanding == 0


def test_abandoned_and_qos0_deliveries_are_never_acknowledged() -> None:
    sent: list[int] = []
    ledger = AckLedger(sent.append)
    abandoned, qos0, kept = ledger.receive(1, qos=1), ledger.receive(0, qos=0), ledger.receive(2, 1)
    abandoned.hold()
    for delivery in (abandoned, qos0, kept):
        delivery.release()
    abandoned.release(abandon=True)  # its subscription closed before handling it
    assert sent == [2]
    late = ledger.receive(3, qos=1)
    ledger.close()  # the connection is gone: its packet ids mean nothing any more
    late.release()
    assert sent == [2]


async def test_asking_for_more_settles_what_was_taken_before() -> None:
    queue: asyncio.Queue[tuple[str, object]] = asyncio.Queue()
    settled: list[int] = []
    sub = QueueSubscription(queue, settled.append)  # type: ignore[arg-type]
    for i in range(5):
        queue.put_nowait(("t", i))
    assert [e for _, e in await sub.batch(2)] == [0, 1]
    assert [e for _, e in sub.ready(1)] == [2]  # joins the batch being taken
    assert settled == []
    assert (await anext(sub))[1] == 3
    assert settled == [3]  # the whole batch, once the consumer came back for more
    assert [e for _, e in await sub.batch(10)] == [4]
    assert settled == [3, 1]


async def test_a_message_taken_but_not_settled_comes_back_on_the_next_session(
    broker: Broker,
) -> None:
    topic = training_topic("job-1", "metrics")
    events = [TrainingMetric(ts=0.0, job="job-1", seq=s, name=METRIC, value=s) for s in (1, 2, 3)]
    async with MqttBus(broker.url, client_id="consumer") as bus, bus.subscribe(topic):
        pass  # the broker keeps the subscription for the client id from now on
    async with MqttBus(broker.url, client_id="agent") as agent:
        for event in events:
            await agent.publish(topic, event)
        await agent.flush()
    async with MqttBus(broker.url, client_id="consumer") as bus, bus.subscribe(topic) as items:
        assert (await asyncio.wait_for(anext(items), 10))[1] == events[0]
        assert (await asyncio.wait_for(anext(items), 10))[1] == events[1]  # settles the first
    async with MqttBus(broker.url, client_id="consumer") as bus, bus.subscribe(topic) as items:
        again = [(await asyncio.wait_for(anext(items), 10))[1] for _ in range(2)]
        assert again == events[1:]  # taken but not handled, and never taken: both resent


@pytest.mark.slow
async def test_control_plane_killed_mid_stream_stores_every_point_once(
    broker: Broker, tmp_path: Path
) -> None:
    data = tmp_path / "control"
    server = await serve(data, broker)
    try:
        for job in JOBS:
            server.sagemaker.create_training_job(**training_request(job))
        async with AsyncExitStack() as stack:
            agents = [
                await stack.enter_async_context(MqttBus(broker.url, client_id=f"synthetic-{job}"))
                for job in JOBS
            ]
            for bus, job in zip(agents, JOBS, strict=True):
                await stream(bus, job)
            total = POINTS * len(JOBS)
            before = await until_stored(data, int(KILL_AT * total), 60)
            server.process.kill()
            at_kill = stored_points(data)
            assert len(before) <= len(at_kill) < total, "the kill must come mid-stream"
            server = await serve(data, broker, port=server.process.port)
            for bus in agents:
                await asyncio.wait_for(bus.flush(), 60)
            stored = await until_stored(data, total, 60)
        await CLOCK.sleep(0.5)  # a redelivered duplicate would land now
        stored = stored_points(data)
    finally:
        server.process.stop()
    for job in JOBS:
        values = sorted(value for name, value in stored if name == job)
        missing = sorted(set(range(1, POINTS + 1)) - set(values))
        assert not missing, f"{job}: {len(missing)} points lost, from {missing[0]}"
        assert values == [float(seq) for seq in range(1, POINTS + 1)], f"{job}: duplicates"
