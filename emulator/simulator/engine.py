"""Tuning jobs in virtual time: an event heap playing every agent, on the shared lifecycle.

The engine is the simulator's executor of the lifecycle (`emulator.lifecycle`): the same
driver, tuner, records, ingest and store as the server's control plane, on a `ManualClock`
that jumps to each event's time (nothing sleeps). Its heap holds `(time, seq, event)`; the
commands the tuner issues in a real run are answered here:

    Launch  -> the job's curve is drawn; after the start-up overhead the job moves
               Downloading -> Training and then follows its replay timeline
               (`simulator.timeline`, the one the simulated agent of `amt serve --simulate`
               follows): every metric after each epoch, reported through the lifecycle exactly
               as an agent's reports are, then Uploading -> Completed (Failed for a recorded
               run that failed; MaxRuntimeExceeded when StoppingCondition runs out first)
    Stop    -> the job's future events leave the heap; after the stop delay it is Stopped
               (early stopping, Hyperband, a tuning job that ended)

A job's steps are scheduled one at a time, so a job has at most one event in the heap. A
tuning job's MaxRuntimeInSeconds is an event too, answered with the lifecycle's tick. Several
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
from emulator.domain.commands import TuningEnded
from emulator.domain.events import TrainingMetric, TrainingStatus
from emulator.domain.jobs import TrainingJob
from emulator.ids import seeded_suffix
from emulator.ingest import Ingest
from emulator.lifecycle import Lifecycle
from emulator.records import JobRecords
from emulator.rules.service_rules import BuiltinMetrics, check_create_tuning_job
from emulator.rules.validation import validate_input
from emulator.simulator.curves import Curve, CurveSource, launch_rng, run_key
from emulator.simulator.report import Outcome, outcome_of
from emulator.simulator.timeline import Step, timeline
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
    epoch_seconds: float | None = None
    """Each job's epochs average this many seconds (`simulator.pacing`); None: as recorded."""
    seed: int = 0
    """Draws every job's curve noise and, for a request without RandomSeed, the tuner's seed
    (a request's RandomSeed fixes the configurations, as on AWS); it names the training jobs
    too (`ids.seeded_suffix`), so one seed gives one output."""


@dataclass(frozen=True)
class Begin:
    job: str


@dataclass(frozen=True)
class Reached:
    """The job reached step `index` of its timeline."""

    job: str
    index: int


@dataclass(frozen=True)
class End:
    """The job's stop delay is over: Stopped."""

    job: str


@dataclass(frozen=True)
class Tick:
    tuning: str


Event = Begin | Reached | End | Tick


@dataclass(order=True)
class Scheduled:
    time: float
    seq: int
    event: Event = field(compare=False)


@dataclass
class SimJob:
    """What the engine knows of a training job it simulates (the store knows the rest)."""

    curve: Curve
    steps: list[Step]
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
        self.records = JobRecords(
            self.store, self.clock, REGION, ACCOUNT, seeded_suffix(self.settings.seed)
        )
        self.ingest = Ingest(self.store, self.records, _logs_dir())
        self.lifecycle = Lifecycle(
            self.ingest, TunerService(self.store, self.records, self.clock), self
        )
        self.heap: list[Scheduled] = []
        self.jobs: dict[str, SimJob] = {}
        self._seq = 0
        self._runs = 0
        self._curves: CurveSource | None = None
        self._rng_key: list[int] = []
        self._launched = 0
        self._ended: set[str] = set()
        """Tuning jobs the lifecycle reported ended (`TuningEnded`)."""

    # ---- public ---------------------------------------------------------------------------
    @property
    def tuner(self) -> TunerService:
        """The lifecycle's tuner (a benchmark may put another in `lifecycle.tuner`)."""
        return self.lifecycle.tuner

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
        self._ended.discard(name)
        self._create(params)
        await self.lifecycle.apply(self.tuner.on_tuning_changed(name))
        return name

    async def step(self, name: str) -> bool:
        """Apply the next event; False once tuning job `name` has ended."""
        if name in self._ended:
            self.heap = [s for s in self.heap if not isinstance(s.event, Tick)]
            heapq.heapify(self.heap)
            return False
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

    # ---- the executor of the lifecycle's commands ---------------------------------------------
    async def launch(self, jobs: list[str]) -> None:
        """Draw each new job's curve and timeline; it begins after the start-up overhead."""
        for name in jobs:
            job = self.store.get_training_job(name)
            if job is None or self._curves is None:
                continue
            self._launched += 1
            rng = launch_rng(self._rng_key, self._launched)
            curve = self._curves.curve(dict(job.doc["HyperParameters"]), rng)
            max_runtime = float(job.doc["StoppingCondition"]["MaxRuntimeInSeconds"])
            steps = timeline(
                curve, max_runtime, self.settings.upload_seconds, self.settings.epoch_seconds
            )
            self.jobs[name] = SimJob(curve, steps)
            self._at(self.clock.now() + self.settings.startup_seconds, Begin(name))

    async def stop(self, job: str) -> TrainingJob | None:
        """The job's future leaves the heap; it is Stopped after the stop delay."""
        self._cancel(job)
        self._at(self.clock.now() + self.settings.stop_seconds, End(job))
        return None

    async def freed(self) -> None:
        """Nothing waits for room: every simulated job runs at once."""

    async def tuning_ended(self, ended: TuningEnded) -> None:
        self._ended.add(ended.tuning_job)

    # ---- events -----------------------------------------------------------------------------
    async def _handle(self, event: Event) -> None:
        if isinstance(event, Begin):
            await self._status(event.job, "Downloading")
            await self._status(event.job, "Training")
            self.jobs[event.job].started = self.clock.now()
            self._schedule(event.job, 0)
        elif isinstance(event, Reached):
            step = self.jobs[event.job].steps[event.index]
            if step.epoch:
                self._schedule(event.job, event.index + 1)
                await self._report(event.job, step.epoch)
            else:
                await self._finish(event.job, step.end)
        elif isinstance(event, End):
            await self._status(event.job, "Stopped")
        else:
            await self.lifecycle.tick()

    def _schedule(self, name: str, index: int) -> None:
        """Schedule step `index` of a job's timeline."""
        job = self.jobs[name]
        self._at(job.started + job.steps[index].at, Reached(name, index))

    async def _finish(self, name: str, end: str) -> None:
        if end == "Completed":
            await self._status(name, "Uploading")
        failure = self.jobs[name].curve.failure if end == "Failed" else None
        await self._status(name, end, failure)

    async def _report(self, name: str, epoch: int) -> None:
        """Every metric of one epoch, applied and judged as an agent's reports are."""
        now = self.clock.now()
        for metric, values in self.jobs[name].curve.epoch_values.items():
            if epoch > len(values):
                continue
            event = TrainingMetric(
                ts=now, job=name, seq=epoch, name=metric, value=values[epoch - 1]
            )
            for point in self.ingest.apply([event]):
                await self.lifecycle.judge(point)

    async def _status(self, name: str, secondary: str, failure: str | None = None) -> None:
        event = TrainingStatus(
            ts=self.clock.now(), job=name, secondary=secondary, failure_reason=failure
        )
        await self.lifecycle.status(event)


def _logs_dir() -> Path:
    """Ingest wants a log directory; simulated jobs print no log lines, so none is written."""
    return Path(tempfile.gettempdir()) / "amt-simulate-logs"
