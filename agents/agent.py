"""An agent: takes training-job assignments from the bus, runs each through the runner, and
publishes what happens (status, log lines, metric points) back as events.

The same class serves the in-process agent of `amt serve` and the `amt agent` process on a GPU
host; only the bus behind it differs.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from agents.resources import GpuInfo
from agents.runner import AgentContext, StopRequest, run_training_job
from emulator.bus.base import Bus, BusClosed
from emulator.domain.events import (
    HEARTBEAT_SECONDS,
    SILENT_SECONDS,
    STOPS,
    AgentHeartbeat,
    Assignment,
    Event,
    StopTraining,
    TrainingLog,
    TrainingMetric,
    TrainingStatus,
    agent_topic,
    training_topic,
)
from emulator.domain.instances import gpus_of

log = logging.getLogger(__name__)

BUS_LOST_REASON = (
    "InternalServerError: The agent lost its connection to the control plane while this "
    "training job ran; the job was stopped. A tuning job launches a replacement."
)
ASSIGNMENTS_REMEMBERED = 4096
"""Assignments an agent remembers having taken, so that a second copy of one is ignored."""
SHUTDOWN_REASON = (
    "InternalServerError: The emulator shut down while this training job was running; its "
    "process was stopped. A tuning job launches a replacement when it resumes."
)


def new_instance() -> str:
    """A token naming one agent process (in its heartbeats and its last will)."""
    return uuid.uuid4().hex


class ReportLost(Exception):
    """A job's event could not be published: the agent's bus is closed."""


class BusReporter:
    """Publishes one job's events in order, numbering them so replays can be recognised."""

    def __init__(self, agent: Agent, job: str, stop: StopRequest) -> None:
        self.agent = agent
        self.job = job
        self.stop = stop
        self._seq = itertools.count(1)

    async def status(
        self,
        secondary: str,
        message: str,
        *,
        failure_reason: str | None = None,
        retryable: bool = False,
    ) -> None:
        if self.stop.reason == "shutdown" and secondary in ("Stopped", "MaxRuntimeExceeded"):
            secondary, failure_reason, retryable = "Failed", SHUTDOWN_REASON, True
            message = "The emulator shut down"
        event = TrainingStatus(
            ts=self.agent.ctx.clock.now(),
            job=self.job,
            seq=next(self._seq),
            secondary=secondary,
            message=message,
            failure_reason=failure_reason,
            retryable=retryable,
            agent=self.agent.agent_id,
        )
        await self._publish("status", event)

    async def log(self, line: str, timestamp: float) -> None:
        event = TrainingLog(ts=timestamp, job=self.job, seq=next(self._seq), line=line)
        await self._publish("logs", event)

    async def metric(self, name: str, value: float, timestamp: float) -> None:
        event = TrainingMetric(
            ts=timestamp, job=self.job, seq=next(self._seq), name=name, value=value
        )
        await self._publish("metrics", event)

    async def _publish(self, kind: str, event: Event) -> None:
        """Publish, or raise ReportLost (with the retryable reason) once the bus is closed:
        the runner then stops the program and the job ends as that failure."""
        try:
            await self.agent.bus.publish(training_topic(self.job, kind), event)
        except BusClosed as error:
            raise ReportLost(f"{BUS_LOST_REASON} ({error})") from error


class Agent:
    def __init__(
        self,
        agent_id: str,
        bus: Bus,
        ctx: AgentContext,
        *,
        slots: int,
        host: str,
        gpus: tuple[GpuInfo, ...] = (),
        accept_gpu_types: bool = False,
        instance: str | None = None,
    ) -> None:
        self.agent_id = agent_id
        self.bus = bus
        self.ctx = ctx
        self.slots = slots
        self.host = host
        self.gpus = gpus
        self.accept_gpu_types = accept_gpu_types
        self.running: dict[str, tuple[asyncio.Task[None], StopRequest]] = {}
        self._jobs: asyncio.TaskGroup | None = None
        """Owns the listener, the heartbeat and every job while the agent runs."""
        self.gpu_owner: dict[int, str] = {}
        self.taken: OrderedDict[str, None] = OrderedDict()
        """Event ids of the assignments taken, newest last (ASSIGNMENTS_REMEMBERED at most)."""
        self.assigned_until = 0.0
        self.instance = instance or new_instance()
        """This process's token in its heartbeats: another one under our id is a duplicate."""
        self.started = ctx.clock.now()
        self.duplicate = asyncio.Event()
        """Set when an agent process started before this one is online under our id."""

    def heartbeat(self, online: bool = True) -> AgentHeartbeat:
        return AgentHeartbeat(
            ts=self.ctx.clock.now(),
            agent=self.agent_id,
            host=self.host,
            slots=self.slots,
            free_slots=self.slots - len(self.running),
            gpus=tuple(g.to_dict() for g in self.gpus),
            accept_gpu_types=self.accept_gpu_types,
            running=tuple(self.running),
            online=online,
            assigned_until=self.assigned_until,
            instance=self.instance,
            started=self.started,
        )

    async def _beat(self) -> None:
        while True:
            try:
                await self.bus.publish(
                    agent_topic(self.agent_id, "heartbeat"), self.heartbeat(), retain=True
                )
            except BusClosed as error:  # the bus is closed: nobody hears us any more
                log.error("agent %s: heartbeats stopped: %s", self.agent_id, error)
                return
            await self.ctx.clock.sleep(HEARTBEAT_SECONDS)

    async def _listen(self, events: AsyncIterator[tuple[str, Event]]) -> None:
        async for _topic, event in events:
            if isinstance(event, Assignment) and event.agent == self.agent_id:
                if self._first_copy(event):
                    self._start(event.job, event.spec, event.endpoint)
                self.assigned_until = max(self.assigned_until, event.ts)
            elif isinstance(event, StopTraining) and event.job in self.running:
                self.running[event.job][1].request(event.reason)
            elif isinstance(event, AgentHeartbeat) and self._is_older_twin(event):
                log.error(
                    "agent id %r is already online on host %s (another process, started "
                    "earlier); this one stops. Give each agent its own --agent-id or "
                    "--work-dir.",
                    self.agent_id,
                    event.host,
                )
                self.duplicate.set()

    def _first_copy(self, assignment: Assignment) -> bool:
        """Whether this assignment is new here. The broker redelivers what was not yet
        acknowledged and a bus replays what it sent just before a lost connection, so a copy
        may come after its job has ended; the job must not run twice. (A job assigned again,
        after a reset reused its name, is a new assignment with a new id.)"""
        if assignment.event_id in self.taken:
            return False
        self.taken[assignment.event_id] = None
        while len(self.taken) > ASSIGNMENTS_REMEMBERED:
            self.taken.popitem(last=False)
        return True

    def _is_older_twin(self, beat: AgentHeartbeat) -> bool:
        """A recent heartbeat of another process under our id that started before us: we
        are the duplicate and must go (the earlier one keeps its jobs)."""
        return (
            beat.agent == self.agent_id
            and beat.online
            and bool(beat.instance)
            and beat.instance != self.instance
            and self.ctx.clock.now() - beat.ts < SILENT_SECONDS
            and (beat.started, beat.instance) < (self.started, self.instance)
        )

    def _start(self, job: str, spec: dict[str, Any], endpoint: str = "") -> None:
        if job in self.running:
            return  # a redelivered assignment: the job already runs here
        stop = StopRequest()
        reporter = BusReporter(self, job, stop)
        ctx = self._job_context(job, spec)
        if ctx.s3_endpoint_url is None and endpoint:
            ctx = replace(ctx, s3_endpoint_url=endpoint)  # where the control plane says
        assert self._jobs is not None, "assignments are taken only while the agent runs"
        task = self._jobs.create_task(self._job(job, spec, ctx, reporter, stop), name=job)
        self.running[job] = (task, stop)
        task.add_done_callback(lambda _t: self._release(job))

    def _job_context(self, job: str, spec: dict[str, Any]) -> AgentContext:
        """The job's own view of the host: the GPUs its instance type asks for, if free."""
        wanted = gpus_of(spec)
        free = [g.index for g in self.gpus if g.index not in self.gpu_owner]
        granted = tuple(free[:wanted]) if len(free) >= wanted else ()
        for index in granted:
            self.gpu_owner[index] = job
        return replace(self.ctx, num_gpus=len(granted), gpu_ids=granted)

    async def _job(
        self,
        job: str,
        spec: dict[str, Any],
        ctx: AgentContext,
        reporter: BusReporter,
        stop: StopRequest,
    ) -> None:
        """A job's task: whatever ends the job ends only the job, never the agent's other
        tasks (they share its TaskGroup)."""
        try:
            await self._run(job, spec, ctx, reporter, stop)
        except ReportLost as error:
            log.error("training job %s ended unreported: %s", job, error)
        except Exception:
            log.exception("training job %s: the agent lost track of it", job)

    async def _run(
        self,
        job: str,
        spec: dict[str, Any],
        ctx: AgentContext,
        reporter: BusReporter,
        stop: StopRequest,
    ) -> None:
        resources = spec.get("ResourceConfig", {})
        wanted = gpus_of(spec)
        if wanted > ctx.num_gpus:
            await reporter.log(
                f"[amt] {resources.get('InstanceType')} asks for {wanted} GPU(s); this agent "
                f"({self.agent_id}) gives it {ctx.num_gpus} and runs it on the CPU.",
                self.ctx.clock.now(),
            )
        await run_training_job(spec, ctx, reporter, stop)

    def _release(self, job: str) -> None:
        self.running.pop(job, None)
        for index in [i for i, owner in self.gpu_owner.items() if owner == job]:
            del self.gpu_owner[index]

    async def shutdown(self) -> None:
        """Stop every running job and wait until each has reported its end."""
        for _task, stop in list(self.running.values()):
            stop.request("shutdown")
        tasks = [task for task, _ in self.running.values()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    @asynccontextmanager
    async def running_context(self) -> AsyncIterator[Agent]:
        """Run the agent for the duration of the block. Its tasks live in one TaskGroup, in a
        task of the agent's own: the block may end in another task than it began in (aiohttp
        runs a cleanup context's two halves so), and a cancelled exit cancels the agent."""
        filters = (
            agent_topic(self.agent_id, "assignments"),
            STOPS,
            agent_topic(self.agent_id, "heartbeat"),
        )
        async with self.bus.subscribe(*filters) as events:
            closing = asyncio.Event()
            life = asyncio.create_task(self._live(events, closing), name=self.agent_id)
            life.add_done_callback(self._died)
            try:
                yield self
            finally:
                closing.set()
                await life

    def _died(self, life: asyncio.Task[None]) -> None:
        """Say at once why the agent's tasks failed (the block hears it only when it ends)."""
        if not life.cancelled() and life.exception() is not None:
            log.error("agent %s stopped: %s", self.agent_id, life.exception())

    async def _live(self, events: AsyncIterator[tuple[str, Event]], closing: asyncio.Event) -> None:
        """Listen and beat until `closing`; then stop taking jobs, stop those running, say
        goodbye and stop beating."""
        async with asyncio.TaskGroup() as tasks:
            self._jobs = tasks
            listener = tasks.create_task(self._listen(events), name=f"{self.agent_id}-listen")
            beater = tasks.create_task(self._beat(), name=f"{self.agent_id}-heartbeat")
            await closing.wait()
            listener.cancel()
            await self.shutdown()
            if not self.duplicate.is_set():  # the id is another process's: say nothing
                offline = self.heartbeat(online=False)
                try:
                    await self.bus.publish(
                        agent_topic(self.agent_id, "heartbeat"), offline, retain=True
                    )
                except BusClosed as error:  # closed: the broker sends our will
                    log.warning("agent %s: no goodbye sent: %s", self.agent_id, error)
            beater.cancel()
