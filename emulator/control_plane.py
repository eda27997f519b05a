"""The control plane: one consumer of the bus that applies agent events to the store and runs
the tuner's and the scheduler's handlers, in the order the events arrived.

Handling events sequentially in one task is what keeps the store consistent without locks: a
handler always sees the effects of every earlier event. The one liberty taken: consecutive
metric and log events (a flood, most of the traffic) are stored as one run, in one transaction,
before the tuner judges their points one by one, in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, suppress
from functools import partial
from typing import Any, TypeVar

from emulator.bus.base import Subscription
from emulator.cloudwatch import CloudWatchSink
from emulator.context import ApiContext
from emulator.domain.events import (
    AGENT_EVENTS,
    CONTROL_TOPIC,
    HEARTBEATS,
    AgentHeartbeat,
    ControlCommand,
    Event,
    StopTraining,
    TrainingLog,
    TrainingMetric,
    TrainingStatus,
    training_topic,
)
from emulator.domain.jobs import TrainingJob
from emulator.domain.status import PRIMARY_OF, TERMINAL_TRAINING
from emulator.ids import Scope, scope_of_arn
from emulator.ingest import BulkEvent, Ingest, StoredPoint
from emulator.scheduler import Scheduler
from emulator.store.sqlite import disk_full
from emulator.tuner.early_stopping import RunningAverages
from emulator.tuner.service import TunerService

log = logging.getLogger(__name__)
T = TypeVar("T")

TICK_SECONDS = 1.0
BATCH = 512
LINGER_SECONDS = 0.005
IDLE_TURNS = 3
"""Events taken from the bus at once, and how long to wait for them to come: enough that a
flood costs one commit per hundred points or so, little enough that the latency it adds under
a flood stays a few milliseconds."""
STORE_FULL_RETRY_SECONDS = 1.0
LOST_ON_RESTART = (
    "InternalServerError: The emulator restarted while this training job was running on an "
    "in-process agent; its training process was lost. The tuning job launches a replacement."
)


class ControlPlane:
    def __init__(self, ctx: ApiContext, cloudwatch: CloudWatchSink | None = None) -> None:
        self.ctx = ctx
        self.tuner = TunerService(ctx.store, ctx.records, ctx.clock, self._command)
        self.scheduler = Scheduler(
            ctx.store,
            ctx.records,
            ctx.bus,
            ctx.clock,
            self.job_ended,
            endpoint=ctx.settings.advertised_endpoint,
        )
        self.ingest = Ingest(ctx.store, ctx.records, ctx.settings.data_dir / "logs", cloudwatch)
        self.idle = asyncio.Event()
        self.idle.set()

    def forget(self) -> None:
        """After a reset: nothing cached about the jobs that are gone (names may come back)."""
        self.tuner.running_averages = RunningAverages()
        self.scheduler.forget_jobs()
        if self.ingest.cloudwatch is not None:
            self.ingest.cloudwatch.forget()

    async def _command(self, action: str, name: str) -> None:
        await self.ctx.command(action, name)

    async def handle(self, event: Event) -> None:
        if isinstance(event, TrainingMetric | TrainingLog):
            await self._bulk([event])
        elif isinstance(event, TrainingStatus):
            self.scheduler.seen_job(event.job)
            job = self.ingest.status(event)
            if job is not None and job.status in TERMINAL_TRAINING:
                await self.job_ended(job)
            elif job is None:
                await self._stop_if_ended(event)
        elif isinstance(event, AgentHeartbeat):
            await self._ended(self.scheduler.on_heartbeat(event))
            await self.scheduler.stop_again(event)
            await self.scheduler.place_waiting()
        elif isinstance(event, ControlCommand):
            await self._control(event)

    async def _bulk(self, events: Sequence[BulkEvent]) -> None:
        """A run of metric and log events: stored together, then judged point by point."""
        for job in {event.job for event in events}:
            self.scheduler.seen_job(job)
        stored = await self._guarded(f"{len(events)} events", partial(self._store, events))
        for point in stored or []:
            e = point.event
            judge = partial(self.tuner.on_metric, point.job, e.name, point.step, e.value)
            await self._guarded(e, judge)

    async def _stop_if_ended(self, event: TrainingStatus) -> None:
        """An agent still runs a job the store has ended (lost, then back): stop it there."""
        job = self.ctx.store.get_training_job(event.job)
        if (
            job is not None
            and job.status in TERMINAL_TRAINING
            and PRIMARY_OF.get(event.secondary) == "InProgress"
        ):
            stop = StopTraining(ts=self.ctx.clock.now(), job=event.job, reason="lost")
            await self.ctx.bus.publish(training_topic(event.job, "stop"), stop)

    async def _control(self, event: ControlCommand) -> None:
        if event.action in ("tuning-created", "tuning-stop"):
            await self.tuner.on_tuning_changed(event.name)
        elif event.action == "training-created":
            await self.scheduler.place_waiting()
        elif event.action == "training-stop":
            await self.scheduler.stop(event.name)

    async def job_ended(self, job: TrainingJob) -> None:
        if job.tuning_job:
            await self.tuner.on_tuning_changed(job.tuning_job)
        await self.scheduler.place_waiting()

    async def _ended(self, jobs: list[TrainingJob]) -> None:
        """Let the tuner react once to jobs that ended outside the agents' reports."""
        tunings = {j.tuning_job for j in jobs if j.tuning_job}
        for name in sorted(tunings):
            await self.tuner.on_tuning_changed(name)

    async def start(self) -> None:
        """Reconcile after a restart: in-process agents' jobs are gone, tuning jobs go on.

        Jobs on remote agents stay: the agents' heartbeats re-attach them, or show them lost.
        """
        await self._ended(
            self.scheduler.lose_agent_jobs(lambda a: a.startswith("local-"), LOST_ON_RESTART)
        )
        await self.tuner.resume()
        await self.scheduler.place_waiting()

    async def consume(self, events: Subscription) -> None:
        """Take every event already waiting (up to BATCH) at once: consecutive metric and log
        events are applied as one run; anything else, alone and in its place.

        Asking for the next batch acknowledges this one to the bus (over MQTT: to the broker),
        so every event of a batch is committed, or deliberately dropped, before: one taken when
        the process dies is delivered again, and the store's idempotence applies it once."""
        while True:
            batch = await self._gather(events)
            for run in runs(event for _topic, event in batch):
                if isinstance(run, list):
                    await self._bulk(run)
                else:
                    await self._guarded(run, partial(self.handle, run))
            self.idle.set()

    async def _gather(self, events: Subscription) -> list[tuple[str, Event]]:
        """The next batch. A bus hands over about one message per turn of the event loop (MQTT:
        a message takes two turns from the socket to the queue), so while more keep coming,
        wait some turns (at most LINGER_SECONDS) for a fuller batch: a flood then costs one
        commit per batch, and a lone event waits for nothing but a few idle turns."""
        clock = self.ctx.clock
        batch = await events.batch(BATCH)
        self.idle.clear()  # taken off the bus: a shutdown now waits for the batch
        started = clock.monotonic()
        idle = 0
        while len(batch) < BATCH and idle < IDLE_TURNS:
            await clock.sleep(0)
            more = events.ready(BATCH - len(batch))
            idle = 0 if more else idle + 1
            batch += more
            if clock.monotonic() - started >= LINGER_SECONDS:
                break
        return batch

    async def _guarded(self, what: object, step: Callable[[], Awaitable[T]]) -> T | None:
        """Run one step of handling `what`; while the disk is full, hold it (and all after it)
        and retry; any other failure is logged and the step dropped (None)."""
        while True:
            try:
                return await step()
            except Exception as error:
                if not disk_full(error):
                    log.exception("control plane failed to handle %s", what)
                    return None
                log.error("store cannot write (%s); retrying %s", error, what)
                await self.ctx.clock.sleep(STORE_FULL_RETRY_SECONDS)

    async def _store(self, events: Sequence[BulkEvent]) -> list[StoredPoint]:
        return self.ingest.apply(events)

    async def tick(self) -> None:
        while True:
            await self.ctx.clock.sleep(TICK_SECONDS)
            try:
                await self.tuner.tick()
                await self._ended(self.scheduler.silent_agents())
            except Exception:
                log.exception("control plane tick failed")

    def health(self) -> dict[str, Any]:
        free = self.scheduler.free_slots()
        return {
            "agents": [
                {
                    "agent": a.agent,
                    "host": a.host,
                    "gpus": list(a.gpus),
                    "slots": a.slots,
                    "free_slots": free.get(a.agent, 0),
                    "online": a.online,
                    "duplicate": a.duplicate,
                }
                for a in self.scheduler.agents.values()
            ]
        }


def runs(events: Iterable[Event]) -> Iterator[list[BulkEvent] | Event]:
    """Consecutive metric and log events as one list; every other event on its own."""
    run: list[BulkEvent] = []
    for event in events:
        if isinstance(event, TrainingMetric | TrainingLog):
            run.append(event)
            continue
        if run:
            yield run
            run = []
        yield event
    if run:
        yield run


def job_scopes(ctx: ApiContext) -> Callable[[str], Scope | None]:
    """A training job's account and region, from its stored ARN, for CloudWatch."""

    def locate(job: str) -> Scope | None:
        row = ctx.store.get_training_job(job)
        return scope_of_arn(row.doc["TrainingJobArn"], ctx.default_scope) if row else None

    return locate


@asynccontextmanager
async def running(plane: ControlPlane) -> AsyncIterator[None]:
    """Run the control plane on its bus for the duration of the block; drain on the way out."""
    async with plane.ctx.bus.subscribe(*AGENT_EVENTS, CONTROL_TOPIC, HEARTBEATS) as events:
        consumer = asyncio.create_task(plane.consume(events), name="control-plane-consumer")
        ticker = asyncio.create_task(plane.tick(), name="control-plane-tick")
        await plane.start()
        try:
            yield
        finally:
            await _drain(plane)
            for task in (consumer, ticker):
                task.cancel()
            for task in (consumer, ticker):
                with suppress(asyncio.CancelledError):
                    await task


async def _drain(plane: ControlPlane, rounds: int = 50) -> None:
    """Let already-published events be applied before shutting down."""
    for _ in range(rounds):
        await plane.ctx.clock.sleep(0)
        if plane.idle.is_set():
            await plane.ctx.clock.sleep(0.01)
            if plane.idle.is_set():
                return
