"""The control plane: the server's driver of the jobs' lifecycle (`lifecycle.Lifecycle`), fed
by the agents' events on the bus and by the HTTP edge's commands (`ControlInbox`), with the
scheduler as the executor of the tuner's commands.

Handling one thing at a time (a batch of bus events, an edge command, a tick: each takes the
plane's turn) is what keeps the store consistent without locks on the data: a handler always
sees the effects of every earlier one. The one liberty taken: consecutive metric and log events
(a flood, most of the traffic) are stored as one run, in one transaction, before the tuner
judges their points one by one, in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, TypeVar

from emulator.bus.base import Bus, Subscription
from emulator.clock import ScaledClock, SystemClock
from emulator.cloudwatch import CloudWatchSink
from emulator.context import ApiContext
from emulator.domain.events import (
    AGENT_EVENTS,
    HEARTBEATS,
    AgentHeartbeat,
    Event,
    StopTraining,
    TrainingLog,
    TrainingMetric,
    TrainingStatus,
    training_topic,
)
from emulator.domain.status import PRIMARY_OF, TERMINAL_TRAINING
from emulator.ids import Scope, scope_of_arn
from emulator.ingest import BulkEvent, Ingest, StoredPoint
from emulator.lifecycle import Lifecycle
from emulator.scheduler import Scheduler
from emulator.store.sqlite import disk_full
from emulator.suggest.pool import SuggestionPool
from emulator.suggest.remote import RemoteSuggestions
from emulator.tuner.service import TunerService
from emulator.tuner.suggestion import (
    SuggestionAnswer,
    SuggestionRequest,
    answer,
    needs_worker,
)

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
    def __init__(
        self,
        ctx: ApiContext,
        cloudwatch: CloudWatchSink | None = None,
        *,
        suggestion_bus: Bus | None = None,
    ) -> None:
        """`suggestion_bus`: where `amt tuner` workers are reached, if not on `ctx.bus`
        (`amt serve --simulate --remote-tuners`: its agents stay on the in-process bus)."""
        self.ctx = ctx
        self.suggestions = self._suggestion_workers(suggestion_bus or ctx.bus)
        """Where the tuner's suggestions are computed (None: on this event loop)."""
        self._holds: dict[str, Callable[[], None]] = {}
        """Virtual time held while a request is out (`amt serve --simulate`), by request."""
        self.tuner = TunerService(ctx.store, ctx.records, ctx.clock, self)
        self.scheduler = Scheduler(
            ctx.store,
            ctx.records,
            ctx.bus,
            ctx.clock,
            endpoint=ctx.settings.advertised_endpoint,
        )
        self.ingest = Ingest(ctx.store, ctx.records, ctx.settings.data_dir / "logs", cloudwatch)
        self.lifecycle = Lifecycle(self.ingest, self.tuner, self.scheduler)
        self.turn = asyncio.Lock()
        """Held while one batch, command or tick is handled: they never interleave."""
        self.idle = asyncio.Event()
        self.idle.set()

    def _suggestion_workers(self, bus: Bus) -> SuggestionPool | RemoteSuggestions | None:
        """The pool, `amt tuner` workers reached on `bus`, or None (on this event loop)."""
        settings = self.ctx.settings
        if settings.remote_tuners:
            if not settings.bus_url:
                raise ValueError("remote_tuners needs a broker (--bus mqtt://...)")
            # Its deadlines bound real work, as the pool's do: wall time, even when the
            # server's clock is virtual (held, besides, while requests are out).
            return RemoteSuggestions(
                bus,
                SystemClock(),
                self.answered,
                self.unanswered,
                timeout_seconds=settings.suggestion_timeout_seconds,
            )
        if settings.suggestion_workers == 0:
            return None
        return SuggestionPool(self.answered, self.unanswered, workers=settings.suggestion_workers)

    def forget(self) -> None:
        """After a reset: nothing cached about the jobs that are gone (names may come back)."""
        self.tuner.forget()
        self.scheduler.forget_jobs()
        if self.ingest.cloudwatch is not None:
            self.ingest.cloudwatch.forget()

    async def handle(self, event: Event) -> None:
        if isinstance(event, TrainingMetric | TrainingLog):
            await self._bulk([event])
        elif isinstance(event, TrainingStatus):
            self.scheduler.seen_job(event.job)
            if await self.lifecycle.status(event) is None:
                await self._stop_if_ended(event)
        elif isinstance(event, AgentHeartbeat):
            lost = self.scheduler.on_heartbeat(event)
            await self.scheduler.stop_again(event)
            if lost:
                await self.lifecycle.ended(lost)  # frees their slots, placing what waits
            else:
                await self.scheduler.place_waiting()  # the beat may show new room

    async def _bulk(self, events: Sequence[BulkEvent]) -> None:
        """A run of metric and log events: stored together, then judged point by point."""
        for job in {event.job for event in events}:
            self.scheduler.seen_job(job)
        stored = await self._guarded(f"{len(events)} events", partial(self._store, events))
        for point in stored or []:
            await self._guarded(point.event, partial(self.lifecycle.judge, point))

    def ask(self, request: SuggestionRequest) -> SuggestionAnswer | None:
        """The tuner's requests for a model's suggestions go to the workers (others cost less
        than sending them: answered here). In simulated time they take no virtual
        time, as they took none when computed on the loop: a simulated tuning job then ends
        as `amt simulate` says, and an overloaded server runs slower than its scale."""
        if self.suggestions is None or not needs_worker(request):
            return answer(request)
        if isinstance(self.ctx.clock, ScaledClock):
            self._holds[request.request_id] = self.ctx.clock.hold()
        return self.suggestions.ask(request)

    async def answered(self, answer: SuggestionAnswer) -> None:
        """A worker's suggestions: applied in their turn, like any event."""
        async with self.turn:
            await self._guarded(answer, partial(self.lifecycle.answered, answer))
        self._release(answer.request_id)

    async def unanswered(self, request: SuggestionRequest, reason: str) -> None:
        async with self.turn:
            await self._guarded(request, partial(self.lifecycle.unanswered, request, reason))
        self._release(request.request_id)

    def _release(self, request_id: str) -> None:
        release = self._holds.pop(request_id, None)
        if release is not None:
            release()

    async def close_suggestions(self) -> None:
        """Stop the workers; virtual time held for their requests goes on."""
        if isinstance(self.suggestions, SuggestionPool):
            await self.suggestions.close()
        for request_id in list(self._holds):
            self._release(request_id)

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

    async def start(self) -> None:
        """Reconcile after a restart: in-process agents' jobs are gone, tuning jobs go on.

        Jobs on remote agents stay: the agents' heartbeats re-attach them, or show them lost.
        """
        async with self.turn:
            lost = self.scheduler.lose_agent_jobs(lambda a: a.startswith("local-"), LOST_ON_RESTART)
            await self.lifecycle.ended(lost)
            await self.lifecycle.resume()
            await self.scheduler.place_waiting()

    async def consume(self, events: Subscription) -> None:
        """Take every event already waiting (up to BATCH) at once: consecutive metric and log
        events are applied as one run; anything else, alone and in its place.

        Asking for the next batch acknowledges this one to the bus (over MQTT: to the broker),
        so every event of a batch is committed, or deliberately dropped, before: one taken when
        the process dies is delivered again, and the store's idempotence applies it once."""
        while True:
            batch = await self._gather(events)
            async with self.turn:
                for run in runs(event for _topic, event in batch):
                    if isinstance(run, list):
                        await self._bulk(run)
                    else:
                        await self._guarded(run, partial(self.handle, run))
            self.idle.set()

    async def serve_inbox(self) -> None:
        """Carry out the HTTP edge's commands (a job created, a stop requested), in order."""
        inbox = self.ctx.inbox
        while True:
            command = await inbox.next()
            try:
                async with self.turn:
                    await self._guarded(command, partial(self.lifecycle.apply, [command]))
            finally:
                inbox.done()

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
                async with self.turn:
                    await self.lifecycle.tick()
                    lost = self.scheduler.silent_agents()
                    if lost:
                        await self.lifecycle.ended(lost)
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
            ],
            "suggestion_workers": self._suggestion_health(),
        }

    def _suggestion_health(self) -> dict[str, Any]:
        """Where suggestions are computed: the worker processes, or the event loop."""
        pool = self.suggestions
        if isinstance(pool, RemoteSuggestions):
            return {"pool": False, "remote": True, "resent": pool.resent}
        if pool is None:
            return {"pool": False}
        return {"pool": True, "pids": pool.worker_pids(), "replaced": pool.replaced}


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
    """Run the control plane on its bus for the duration of the block; drain on the way out.

    Its tasks (bus events, edge commands, ticks, suggestions) belong to one TaskGroup, which
    waits for them on the way out: none outlives the block, and the suggestion workers are
    stopped after them."""
    async with (
        plane.ctx.bus.subscribe(*AGENT_EVENTS, HEARTBEATS) as events,
        asyncio.TaskGroup() as tasks,
    ):
        workers = [
            tasks.create_task(plane.consume(events), name="control-plane-consumer"),
            tasks.create_task(plane.serve_inbox(), name="control-plane-inbox"),
            tasks.create_task(plane.tick(), name="control-plane-tick"),
        ]
        if plane.suggestions is not None:
            workers.append(tasks.create_task(plane.suggestions.run(), name="suggestions"))
        await plane.start()
        try:
            yield
        finally:
            await _drain(plane)
            for worker in workers:
                worker.cancel()
    await plane.close_suggestions()


async def _drain(plane: ControlPlane, rounds: int = 50) -> None:
    """Let already-published events and already-sent commands be carried out before
    shutting down."""

    def idle() -> bool:
        return plane.idle.is_set() and plane.ctx.inbox.idle()

    for _ in range(rounds):
        await plane.ctx.clock.sleep(0)
        if idle():
            await plane.ctx.clock.sleep(0.01)
            if idle():
                return
