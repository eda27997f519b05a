"""The simulated agent of `amt serve --simulate`: a bus agent that replays learning curves.

It takes assignments and stop commands from the bus exactly as `agents.agent.Agent` does (it is
one, with heartbeats, slots and the same `BusReporter`), but instead of running a program it
plays the job's recorded curve in the server's clock:

    Starting   --startup-->  Downloading, Training
    each epoch, after its recorded duration: the built-in algorithm's log lines for it
               (`Epoch[3] Validation-accuracy=0.874000`, XGBoost's `[2]#011train-...`) and
               one metric event per metric
    the end:   Uploading, Completed (Failed when the recorded run failed; MaxRuntimeExceeded
               when StoppingCondition runs out first)
    a stop:    Stopped after the stop delay (Failed, retryable, when the server shuts down)

The curve is drawn as `amt simulate` draws it (`RecordedCurves`: the nearest recorded run in
the tuning job's encoded search space, ties broken by the same seeded generator; or, with
`replay="surrogate"`, `SurrogateCurves` on it), and its timeline is the one `simulator.engine`
schedules (`simulator.timeline`, paced by `--epoch-seconds` when given), so both answer a
request alike.

A job is refused (Failed, `ClientError:` reason) when its curve set cannot stand for it: a
tuned hyperparameter the set never recorded, or an objective metric it does not record.
Static hyperparameters the set recorded with other values are replayed anyway, as `amt
simulate` does, and named in the job's log. Any TrainingImage is accepted; nothing is
downloaded or uploaded.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agents.agent import Agent, BusReporter
from agents.runner import AgentContext, JobReporter, StopRequest
from emulator.bus.base import Bus
from emulator.clock import Clock
from emulator.domain.documents import (
    DEFAULT_MAX_RUNTIME,
    TUNING_OBJECTIVE_HP,
    definitions_of,
    ranges_of,
    static_hyperparameters,
)
from emulator.simulator.curves import (
    Curve,
    CurveSet,
    NoRecordedCurve,
    RecordedCurves,
    launch_rng,
    run_key,
    space_of,
)
from emulator.simulator.engine import SimulationSettings
from emulator.simulator.surrogate import SurrogateCurves
from emulator.simulator.timeline import timeline
from emulator.tuner.space import SearchSpace

CACHED_SOURCES = 64


@dataclass(frozen=True)
class JobOrigin:
    """What the agent needs beyond a job's describe document, from the control plane's store."""

    tuning_doc: Mapping[str, Any] | None = None
    """The parent tuning job's describe document; None for a standalone training job."""
    launch_index: int = 1
    """1-based: the job's place among its tuning job's launches (it seeds the curve draw)."""
    definition: str | None = None
    """The training job definition it was launched from (TrainingJobDefinitions)."""


OriginLookup = Callable[[str], JobOrigin]


class Refused(Exception):
    """The curve set cannot stand for this job; the message is its FailureReason."""


@dataclass(frozen=True)
class Drawn:
    """A job's curve and where it came from, for its log."""

    curve: Curve
    run_id: str
    distance: float
    notes: tuple[str, ...] = ()


# --- drawing a job's curve -------------------------------------------------------------------


class CurveDrawer:
    """Draws each job's curve from one recorded set, bound to its tuning job's search space."""

    def __init__(self, curve_set: CurveSet, seed: int = 0, replay: str = "nearest") -> None:
        """`replay`: "nearest" (the nearest recorded run's curve) or "surrogate" (final values
        from a model fitted to the runs, `simulator.surrogate`), as `amt simulate --replay`."""
        self.curve_set = curve_set
        self.seed = seed
        self.replay = replay
        self._sources: dict[tuple[str, str | None], RecordedCurves] = {}

    def draw(self, spec: Mapping[str, Any], origin: JobOrigin) -> Drawn:
        """The curve of the job described by `spec` (Refused when the set cannot give one)."""
        hyperparameters = {str(k): str(v) for k, v in (spec.get("HyperParameters") or {}).items()}
        try:
            source = self._source(hyperparameters, origin)
            self._check_objective(hyperparameters)
            name = origin.tuning_doc["HyperParameterTuningJobName"] if origin.tuning_doc else ""
            run, distance = source.nearest(hyperparameters, self._rng(name, origin))
            curve = source.replay_of(run)
            objective = hyperparameters.get(TUNING_OBJECTIVE_HP)
            surrogate = self.replay == "surrogate" and objective is not None
            if surrogate:
                model = SurrogateCurves(source, str(objective))
                curve = model.curve(hyperparameters, self._rng(name, origin))
        except (NoRecordedCurve, KeyError) as error:
            raise Refused(f"ClientError: simulated training: {_text(error)}") from error
        notes = tuple(
            f"the curve set recorded no run with this job's {name} (replayed anyway)"
            for name in source.differing_static
        )
        if surrogate:
            notes += ("surrogate replay: its final value is what a model of the set predicts",)
        return Drawn(curve, run.run_id, distance, notes)

    def _rng(self, tuning_job: str, origin: JobOrigin) -> np.random.Generator:
        return launch_rng(run_key(self.seed, tuning_job), origin.launch_index)

    def _source(self, hyperparameters: dict[str, str], origin: JobOrigin) -> RecordedCurves:
        if origin.tuning_doc is None:
            return self._standalone(hyperparameters)
        key = (str(origin.tuning_doc["HyperParameterTuningJobArn"]), origin.definition)
        if key not in self._sources:
            if len(self._sources) >= CACHED_SOURCES:
                self._sources.pop(next(iter(self._sources)))
            self._sources[key] = self._tuning_source(origin.tuning_doc, origin.definition)
        return self._sources[key]

    def _tuning_source(self, doc: Mapping[str, Any], definition_name: str | None) -> RecordedCurves:
        """As `amt simulate` binds a set to a request: its ranges and static hyperparameters."""
        definitions = definitions_of(dict(doc))
        definition = next(
            (d for d in definitions if d.get("DefinitionName") == definition_name), definitions[0]
        )
        space = SearchSpace.from_parameter_ranges(ranges_of(dict(doc), definition))
        return RecordedCurves(self.curve_set, space, static_hyperparameters(definition))

    def _standalone(self, hyperparameters: dict[str, str]) -> RecordedCurves:
        """A training job of its own: the recorded space, on the hyperparameters it sets."""
        manifest = self.curve_set.manifest
        recorded = [p for p in manifest.get("search_space", []) if p["name"] in hyperparameters]
        if not recorded:
            raise NoRecordedCurve(
                f"the job sets none of the hyperparameters curve set {self.curve_set.name!r} "
                f"was recorded over ({', '.join(self.curve_set.hyperparameters)})"
            )
        space = space_of({**manifest, "search_space": recorded})
        return RecordedCurves(self.curve_set, space, hyperparameters)

    def _check_objective(self, hyperparameters: Mapping[str, str]) -> None:
        objective = hyperparameters.get(TUNING_OBJECTIVE_HP)
        if objective is not None and objective not in self.curve_set.metrics:
            raise NoRecordedCurve(
                f"the objective metric {objective} is not recorded in curve set "
                f"{self.curve_set.name!r} (it records {', '.join(self.curve_set.metrics)})"
            )


def _text(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"the job does not set hyperparameter {error.args[0]}"
    return str(error)


# --- log lines ----------------------------------------------------------------------------------

Point = tuple[str, float]
Line = tuple[str, list[Point]]
"""A log line and the metric points it carries."""


def epoch_lines(style: str, epoch: int, values: Mapping[str, float], seconds: float) -> list[Line]:
    """One epoch's log lines as the built-in algorithm prints them (`style`: the curve set's
    fixture); finite values only."""
    finite = {m: v for m, v in values.items() if math.isfinite(v)}
    if style == "xgboost":
        fields = [f"{m.replace(':', '-', 1)}:{v:.5f}" for m, v in finite.items()]
        return [("#011".join([f"[{epoch - 1}]", *fields]), list(finite.items()))] if fields else []
    train = [(m, v) for m, v in finite.items() if m.startswith("train:")]
    others = [(m, v) for m, v in finite.items() if not m.startswith("train:")]
    lines: list[Line] = [(_mxnet_line(epoch, m, v), [(m, v)]) for m, v in train]
    lines.append((f"Epoch[{epoch}] Time cost={seconds:.3f}", []))
    return lines + [(_mxnet_line(epoch, m, v), [(m, v)]) for m, v in others]


def _mxnet_line(epoch: int, metric: str, value: float) -> str:
    """`train:accuracy` -> `Epoch[3] Train-accuracy=0.912000`."""
    channel, _, name = metric.partition(":")
    label = f"{channel.capitalize()}-{name}" if name else channel
    return f"Epoch[{epoch}] {label}={value:.6f}"


# --- the agent ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Replay:
    """Everything a replay needs besides the job itself."""

    drawer: CurveDrawer
    origin: OriginLookup
    timing: SimulationSettings = field(default_factory=SimulationSettings)


class SimulatedAgent(Agent):
    """An `Agent` whose jobs replay curves (see the module docstring)."""

    def __init__(
        self, agent_id: str, bus: Bus, ctx: AgentContext, replay: Replay, *, slots: int
    ) -> None:
        super().__init__(agent_id, bus, ctx, slots=slots, host="local", accept_gpu_types=True)
        self.replay = replay

    async def _run(
        self,
        job: str,
        spec: dict[str, Any],
        ctx: AgentContext,
        reporter: BusReporter,
        stop: StopRequest,
    ) -> None:
        await JobReplay(spec, self.replay, ctx.clock, reporter, stop).run(job)


class JobReplay:
    """One simulated training job from assignment to its one terminal status."""

    def __init__(
        self,
        spec: Mapping[str, Any],
        replay: Replay,
        clock: Clock,
        reporter: JobReporter,
        stop: StopRequest,
    ) -> None:
        self.spec, self.replay, self.clock = spec, replay, clock
        self.reporter, self.stop = reporter, stop
        self.style = str(replay.drawer.curve_set.manifest.get("fixture", ""))

    async def run(self, job: str) -> None:
        try:
            drawn = self.replay.drawer.draw(self.spec, self.replay.origin(job))
        except Refused as refused:
            await self.reporter.status("Downloading", "")
            await self.reporter.status("Failed", "", failure_reason=str(refused))
            return
        end = await self._play(drawn)
        failure = drawn.curve.failure if end == "Failed" else None
        await self.reporter.status(end, "", failure_reason=failure)

    async def _play(self, drawn: Drawn) -> str:
        """Play the curve; the terminal status to report."""
        timing = self.replay.timing
        if await self._until(self.clock.now() + timing.startup_seconds):
            return await self._stopped()
        await self.reporter.status("Downloading", "")
        await self.reporter.status("Training", "")
        started = self.clock.now()
        await self._log(self._header(drawn), started)
        limit = (self.spec.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
        max_runtime = float(limit or DEFAULT_MAX_RUNTIME)
        previous = 0.0
        steps = timeline(drawn.curve, max_runtime, timing.upload_seconds, timing.epoch_seconds)
        for step in steps:
            if await self._until(started + step.at):
                return await self._stopped()
            if step.end:
                if step.end == "Completed":
                    await self.reporter.status("Uploading", "")
                return step.end
            await self._epoch(drawn.curve, step.epoch, step.at - previous)
            previous = step.at
        raise AssertionError("a timeline always ends")  # pragma: no cover

    async def _epoch(self, curve: Curve, epoch: int, seconds: float) -> None:
        values = {m: v[epoch - 1] for m, v in curve.epoch_values.items() if epoch <= len(v)}
        now = self.clock.now()
        for line, points in epoch_lines(self.style, epoch, values, seconds):
            await self.reporter.log(line, now)
            for name, value in points:
                await self.reporter.metric(name, value, now)

    async def _stopped(self) -> str:
        """A stop takes the stop delay (a shutdown does not wait)."""
        if self.stop.reason != "shutdown":
            await self.clock.sleep(self.replay.timing.stop_seconds)
        return "Stopped"

    async def _until(self, when: float) -> bool:
        """Sleep until virtual time `when`; True when a stop was requested first."""
        if self.stop.reason is None:
            sleeper = asyncio.ensure_future(self.clock.sleep(when - self.clock.now()))
            stopper = asyncio.ensure_future(self.stop.wait())
            try:
                await asyncio.wait((sleeper, stopper), return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (sleeper, stopper):
                    task.cancel()
                    with suppress(asyncio.CancelledError):
                        await task
        return self.stop.reason is not None

    def _header(self, drawn: Drawn) -> list[str]:
        name = self.replay.drawer.curve_set.name
        lines = [
            f"[amt] simulated training job: replaying recorded run {drawn.run_id} of curve set "
            f"{name} (distance {drawn.distance:.4f} in the tuning job's search space)"
        ]
        return lines + [f"[amt] note: {note}" for note in drawn.notes]

    async def _log(self, lines: list[str], timestamp: float) -> None:
        for line in lines:
            await self.reporter.log(line, timestamp)
