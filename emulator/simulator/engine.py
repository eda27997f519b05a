"""Tuning jobs in virtual time: an event heap driving the real tuner, records, ingest and store.

The engine plays the part of the control plane and of every agent at once. Its heap holds
`(time, seq, event)`; the clock (a `ManualClock`) jumps to each event's time, nothing sleeps.
The tuner issues the same commands it issues in a real run, and the engine answers them:

    training-created  -> the job's curve is drawn; after the start-up overhead the job moves
                         Downloading -> Training, reports every metric after each epoch (through
                         `Ingest.metric` and `TunerService.on_metric`, exactly as an agent's
                         reports are applied), then Uploading -> Completed (Failed for a
                         recorded run that failed; MaxRuntimeExceeded when the job's
                         StoppingCondition runs out first)
    training-stop     -> the job's future events leave the heap; after the stop delay it is
                         Stopped (early stopping, Hyperband, a tuning job that ended)

A job's epochs are scheduled one at a time, so a job has at most one event in the heap. A
tuning job's MaxRuntimeInSeconds is an event too, answered with `TunerService.tick()`. Several
tuning jobs can run one after the other in one engine (one store): warm start children see
the parents simulated before them.
"""

from __future__ import annotations

import heapq
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emulator.clock import ManualClock
from emulator.domain.events import TrainingMetric, TrainingStatus
from emulator.domain.status import TERMINAL_TRAINING, TERMINAL_TUNING
from emulator.ingest import Ingest
from emulator.records import JobRecords
from emulator.rules.service_rules import BuiltinMetrics, check_create_tuning_job
from emulator.rules.validation import validate_input
from emulator.simulator.curves import Curve, CurveSource, launch_rng, run_key
from emulator.simulator.report import Outcome, outcome_of
from emulator.store.sqlite import Store
from emulator.tuner.service import TunerService

REGION = "us-east-1"
ACCOUNT = "123456789012"
START = 1_700_000_000.0


class SimulationError(RuntimeError):
    """A simulated tuning job could not finish (a request the tuner never completes)."""


@dataclass(frozen=True)
class SimulationSettings:
    startup_seconds: float = 0.0
    """Creation to Downloading: 120 models a cold SageMaker instance, 20 a warm pool, 0 local."""
    stop_seconds: float = 5.0
    """Stopping to Stopped."""
    upload_seconds: float = 0.0
    """Uploading to Completed after the last epoch."""
    seed: int = 0
    """Draws every job's curve noise and, for a request without RandomSeed, the tuner's seed
    (a request's RandomSeed fixes the configurations, as on AWS)."""


@dataclass(frozen=True)
class Begin:
    job: str


@dataclass(frozen=True)
class EpochEnd:
    job: str
    epoch: int
    """1-based."""


@dataclass(frozen=True)
class Finish:
    job: str


@dataclass(frozen=True)
class End:
    job: str
    status: str
    """Stopped | MaxRuntimeExceeded."""


@dataclass(frozen=True)
class Tick:
    tuning: str


Event = Begin | EpochEnd | Finish | End | Tick


@dataclass(order=True)
class Scheduled:
    time: float
    seq: int
    event: Event = field(compare=False)


@dataclass
class SimJob:
    """What the engine knows of a training job it simulates (the store knows the rest)."""

    curve: Curve
    max_runtime: float
    started: float = 0.0


class Engine:
    """Runs tuning jobs in virtual time on one in-memory store; see the module docstring."""

    def __init__(
        self,
        settings: SimulationSettings | None = None,
        *,
        clock: ManualClock | None = None,
        store: Store | None = None,
        builtin_metrics: BuiltinMetrics | None = None,
    ) -> None:
        """`builtin_metrics`: the metric names built-in algorithm images define (requests
        for them may name an objective without MetricDefinitions), as the API validates."""
        self.settings = settings or SimulationSettings()
        self.builtin_metrics = builtin_metrics
        self.clock = clock or ManualClock(START)
        self.store = store or Store(":memory:")
        self.records = JobRecords(self.store, self.clock, REGION, ACCOUNT)
        self.ingest = Ingest(self.store, self.records, _logs_dir())
        self.tuner = TunerService(self.store, self.records, self.clock, self._command)
        self.heap: list[Scheduled] = []
        self.jobs: dict[str, SimJob] = {}
        self._seq = 0
        self._runs = 0
        self._curves: CurveSource | None = None
        self._rng_key: list[int] = []
        self._launched = 0
        self._running: str | None = None
        """A tuning job known to be running: no tuner handler that could end it ran since."""

    # ---- public ---------------------------------------------------------------------------
    async def run(self, request: Mapping[str, Any], curves: CurveSource) -> Outcome:
        """Simulate one CreateHyperParameterTuningJob request to its end; its outcome."""
        name = await self.start(request, curves)
        while await self.step(name):
            pass
        return outcome_of(self.store, name)

    async def start(self, request: Mapping[str, Any], curves: CurveSource) -> str:
        """Validate and create a tuning job, and let the tuner launch its first jobs."""
        params = dict(request)
        validate_input("CreateHyperParameterTuningJob", params)
        rules: dict[str, BuiltinMetrics] = (
            {"builtin_metrics": self.builtin_metrics} if self.builtin_metrics else {}
        )
        check_create_tuning_job(params, lookup_tuning_job=self._lookup, **rules)
        name = str(params["HyperParameterTuningJobName"])
        self._runs += 1
        self._curves = curves
        self._rng_key = run_key(self.settings.seed, name, self._runs)
        self._launched = 0
        self._running = None
        self._create(params)
        await self.tuner.on_tuning_changed(name)
        return name

    async def step(self, name: str) -> bool:
        """Apply the next event; False once tuning job `name` has ended.

        The store is asked only when the tuner may have ended a tuning job since the last
        answer (it does so only when a training job ends, or on a tick): reading the tuning
        job's document at every one of thousands of metric events was a sizeable share of a
        simulation."""
        if self._running != name:
            if self._ended(name):
                self.heap = [s for s in self.heap if not isinstance(s.event, Tick)]
                heapq.heapify(self.heap)
                return False
            self._running = name
        if not self.heap:
            raise SimulationError(f"tuning job {name} has nothing left to do but has not ended")
        item = heapq.heappop(self.heap)
        self.clock.advance(max(0.0, item.time - self.clock.now()))
        await self._handle(item.event)
        return True

    def pending(self, job: str) -> list[Event]:
        """The events still scheduled for a training job."""
        return [s.event for s in self.heap if not isinstance(s.event, Tick) and s.event.job == job]

    # ---- setting up -------------------------------------------------------------------------
    def _lookup(self, name: str) -> dict[str, Any] | None:
        job = self.store.get_tuning_job(name)
        return job.doc if job else None

    def _create(self, params: dict[str, Any]) -> None:
        seed = None
        if params["HyperParameterTuningJobConfig"].get("RandomSeed") is None:
            seed = int(np.random.SeedSequence(self._rng_key).generate_state(1)[0])
        job = self.records.create_tuning(params, seed=seed)
        limits = job.doc["HyperParameterTuningJobConfig"]["ResourceLimits"]
        limit = limits.get("MaxRuntimeInSeconds")
        if limit:
            self._at(self.clock.now() + float(limit), Tick(job.name))

    # ---- the heap ---------------------------------------------------------------------------
    def _at(self, time: float, event: Event) -> None:
        self._seq += 1
        heapq.heappush(self.heap, Scheduled(time, self._seq, event))

    def _cancel(self, job: str) -> None:
        """Remove every future event of a training job."""
        kept = [s for s in self.heap if isinstance(s.event, Tick) or s.event.job != job]
        if len(kept) != len(self.heap):
            self.heap = kept
            heapq.heapify(self.heap)

    def _ended(self, name: str) -> bool:
        job = self.store.get_tuning_job(name)
        return job is None or job.status in TERMINAL_TUNING

    # ---- commands from the tuner ------------------------------------------------------------
    async def _command(self, action: str, name: str) -> None:
        if action == "training-created":
            self._created(name)
        elif action == "training-stop":
            self._cancel(name)
            self._at(self.clock.now() + self.settings.stop_seconds, End(name, "Stopped"))

    def _created(self, name: str) -> None:
        row = self.store.get_training_job(name)
        if row is None or self._curves is None:
            return
        self._launched += 1
        rng = launch_rng(self._rng_key, self._launched)
        curve = self._curves.curve(dict(row.doc["HyperParameters"]), rng)
        max_runtime = float(row.doc["StoppingCondition"]["MaxRuntimeInSeconds"])
        self.jobs[name] = SimJob(curve, max_runtime)
        self._at(self.clock.now() + self.settings.startup_seconds, Begin(name))

    # ---- events -----------------------------------------------------------------------------
    async def _handle(self, event: Event) -> None:
        if isinstance(event, Begin):
            await self._status(event.job, "Downloading")
            await self._status(event.job, "Training")
            self.jobs[event.job].started = self.clock.now()
            self._next(event.job, 0)
        elif isinstance(event, EpochEnd):
            self._next(event.job, event.epoch)
            await self._report(event.job, event.epoch)
        elif isinstance(event, Finish):
            failure = self.jobs[event.job].curve.failure
            if failure is not None:
                await self._status(event.job, "Failed", failure)
            else:
                await self._status(event.job, "Uploading")
                await self._status(event.job, "Completed")
        elif isinstance(event, End):
            await self._status(event.job, event.status)
        else:
            self._running = None
            await self.tuner.tick()

    def _next(self, name: str, done: int) -> None:
        """Schedule what follows epoch `done` of a job: the next epoch's end, or its finish
        (or MaxRuntimeExceeded, when its StoppingCondition runs out first)."""
        job = self.jobs[name]
        now = self.clock.now()
        event: Event
        if done < job.curve.epochs:
            when, event = now + job.curve.epoch_seconds[done], EpochEnd(name, done + 1)
        else:
            when, event = now + self.settings.upload_seconds, Finish(name)
        deadline = job.started + job.max_runtime
        if when > deadline:
            self._at(deadline, End(name, "MaxRuntimeExceeded"))
        else:
            self._at(when, event)

    async def _report(self, name: str, epoch: int) -> None:
        """Every metric of one epoch, applied and judged as an agent's reports are."""
        now = self.clock.now()
        for metric, values in self.jobs[name].curve.epoch_values.items():
            if epoch > len(values):
                continue
            event = TrainingMetric(
                ts=now, job=name, seq=epoch, name=metric, value=values[epoch - 1]
            )
            stored = self.ingest.metric(event)
            if stored is not None:
                row, step = stored
                await self.tuner.on_metric(row, metric, step, event.value)

    async def _status(self, name: str, secondary: str, failure: str | None = None) -> None:
        event = TrainingStatus(
            ts=self.clock.now(), job=name, secondary=secondary, failure_reason=failure
        )
        job = self.ingest.status(event)
        if job is not None and job.status in TERMINAL_TRAINING and job.tuning_job:
            self._running = None
            await self.tuner.on_tuning_changed(job.tuning_job)


def _logs_dir() -> Path:
    """Ingest wants a log directory; simulated jobs print no log lines, so none is written."""
    return Path(tempfile.gettempdir()) / "amt-simulate-logs"
