"""The control plane: one consumer of the bus that applies agent events to the store and runs
the tuner's and the scheduler's handlers, strictly one event at a time.

Handling events sequentially in one task is what keeps the store consistent without locks: a
handler always sees the effects of every earlier event.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import suppress
from typing import Any

from aiohttp import web

from emulator.api.app import AWS, CONTEXT
from emulator.api.context import ApiContext
from emulator.api.control import HEALTH_PROVIDERS
from emulator.cloudwatch import CloudWatchSink
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
from emulator.domain.status import PRIMARY_OF, TERMINAL_TRAINING
from emulator.ingest import Ingest
from emulator.scheduler import Scheduler
from emulator.store.sqlite import Row
from emulator.tuner.service import TunerService

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0
STORE_FULL_RETRY_SECONDS = 1.0
LOST_ON_RESTART = (
    "InternalServerError: The emulator restarted while this training job was running on an "
    "in-process agent; its training process was lost. The tuning job launches a replacement."
)


class ControlPlane:
    def __init__(self, ctx: ApiContext, cloudwatch: CloudWatchSink | None = None) -> None:
        self.ctx = ctx
        self.tuner = TunerService(ctx.store, ctx.records, ctx.clock, self._command)
        self.scheduler = Scheduler(ctx.store, ctx.records, ctx.bus, ctx.clock, self.job_ended)
        self.ingest = Ingest(ctx.store, ctx.records, ctx.settings.data_dir / "logs", cloudwatch)
        self.idle = asyncio.Event()
        self.idle.set()

    async def _command(self, action: str, name: str) -> None:
        await self.ctx.command(action, name)

    async def handle(self, event: Event) -> None:
        if isinstance(event, TrainingStatus | TrainingMetric | TrainingLog):
            self.scheduler.seen_job(event.job)
        if isinstance(event, TrainingStatus):
            row = self.ingest.status(event)
            if row is not None and row.doc["TrainingJobStatus"] in TERMINAL_TRAINING:
                await self.job_ended(row)
            elif row is None:
                await self._stop_if_ended(event)
        elif isinstance(event, TrainingMetric):
            stored = self.ingest.metric(event)
            if stored is not None:
                row, step = stored
                await self.tuner.on_metric(row, event.name, step, event.value)
        elif isinstance(event, TrainingLog):
            self.ingest.log(event)
        elif isinstance(event, AgentHeartbeat):
            await self._ended(self.scheduler.on_heartbeat(event))
            await self.scheduler.place_waiting()
        elif isinstance(event, ControlCommand):
            await self._control(event)

    async def _stop_if_ended(self, event: TrainingStatus) -> None:
        """An agent still runs a job the store has ended (lost, then back): stop it there."""
        row = self.ctx.store.get_training_job(event.job)
        if (
            row is not None
            and row.doc["TrainingJobStatus"] in TERMINAL_TRAINING
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

    async def job_ended(self, row: Row) -> None:
        tuning = row.meta.get("tuning_job")
        if tuning:
            await self.tuner.on_tuning_changed(tuning)
        await self.scheduler.place_waiting()

    async def _ended(self, rows: list[Row]) -> None:
        """Let the tuner react once to jobs that ended outside the agents' reports."""
        tunings = {str(r.meta["tuning_job"]) for r in rows if r.meta.get("tuning_job")}
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

    async def consume(self, events: AsyncIterator[tuple[str, Event]]) -> None:
        async for _topic, event in events:
            self.idle.clear()
            await self._apply(event)
            self.idle.set()

    async def _apply(self, event: Event) -> None:
        """Handle one event; while the disk is full, hold it (and all after it) and retry."""
        while True:
            try:
                await self.handle(event)
                return
            except sqlite3.OperationalError as error:
                if "full" not in str(error):
                    log.exception("control plane failed to handle %s", event)
                    return
                log.error("store cannot write (%s); retrying %s", error, event.kind)
                await self.ctx.clock.sleep(STORE_FULL_RETRY_SECONDS)
            except Exception:
                log.exception("control plane failed to handle %s", event)
                return

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
                }
                for a in self.scheduler.agents.values()
            ]
        }


CONTROL_PLANE = web.AppKey("control_plane", ControlPlane)


async def control_plane_component(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: run the control plane for the app's lifetime."""
    plane = ControlPlane(app[CONTEXT], CloudWatchSink(app[AWS]))
    app[CONTROL_PLANE] = plane
    app[HEALTH_PROVIDERS].append(plane.health)
    bus = app[CONTEXT].bus
    async with bus.subscribe(*AGENT_EVENTS, CONTROL_TOPIC, HEARTBEATS) as events:
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
