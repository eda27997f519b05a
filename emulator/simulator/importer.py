"""A curve set from training jobs that already ran: their metric points cut into epochs.

The readers (`import_api` for the SageMaker and CloudWatch APIs, `import_csv` for the SDK's
analytics export) turn what they read into `FinishedJob`s: hyperparameters, status and every
metric point with its time since the job's training started. This module is pure: it makes
each job a recorded `Run` and the set's manifest, in the layout `curves.load_set` reads, so
`amt simulate --curves PATH` replays them like the bundled sets.

Epochs: a job's epochs are its objective metric's points in time order (the objective is
printed once per epoch, which is also what early stopping counts). Every other metric takes,
for epoch k, its last point after epoch k-1's objective point and at or before epoch k's;
none there leaves the epoch empty. An epoch's seconds are the time between two objective
points (the first from the start of training). CloudWatch keeps points in periods: when two
points fall in one period their average is what comes back, so a job's last objective value
is taken from DescribeTrainingJob's FinalMetricDataList when the reader has it.

Jobs that ended Stopped (by early stopping, Hyperband, or the tuning job ending) recorded only
part of their curve; replaying that part as a whole run would model an early stop as the
run's end, so they are left out and named. Failed jobs are kept: the replay fails them too.
"""

from __future__ import annotations

import itertools
import math
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.simulator.curves import Curve, Run, write_set

KEPT_STATUSES = ("Completed", "Failed")


class CurveImportError(ValueError):
    """What was read cannot make a curve set (no job with the objective metric, a CSV without
    the columns it needs, tuning jobs with different objectives)."""


@dataclass(frozen=True)
class Point:
    """One metric value, `seconds` after the job's training started."""

    seconds: float
    metric: str
    value: float


@dataclass(frozen=True)
class FinishedJob:
    """A training job as a reader found it."""

    name: str
    hyperparameters: dict[str, str]
    status: str
    points: tuple[Point, ...]
    failure: str | None = None
    final: dict[str, float] = field(default_factory=dict)
    """FinalMetricDataList: each metric's last value, exact where a period merged points."""
    merged: int = 0
    """Points that are the average of several (a CloudWatch period held more than one)."""


@dataclass(frozen=True)
class Objective:
    metric: str
    type: str
    """Maximize | Minimize"""


@dataclass(frozen=True)
class ImportedSet:
    """Runs and manifest ready to write, and the jobs left out with the reason."""

    runs: tuple[Run, ...]
    manifest: dict[str, Any]
    skipped: dict[str, str]
    averaged: dict[str, int] = field(default_factory=dict)
    """Jobs with points that average several (their epochs were shorter than a period)."""


def curve_of(job: FinishedJob, metric: str) -> Curve | None:
    """The job's curve with epochs cut at each point of `metric` (module docstring); None
    when it never reported `metric` and did not fail."""
    points = sorted(job.points, key=lambda p: p.seconds)
    marks = [p for p in points if p.metric == metric]
    failure = _failure(job)
    if not marks and failure is None:
        return None
    names = sorted({p.metric for p in points}, key=lambda m: (m != metric, m))
    values: dict[str, list[float]] = {m: [] for m in names}
    previous = -math.inf
    for mark in marks:
        window = [p for p in points if previous < p.seconds <= mark.seconds]
        for m in names:
            last = [p.value for p in window if p.metric == m]
            values[m].append(mark.value if m == metric else (last[-1] if last else math.nan))
        previous = mark.seconds
    if marks and metric in job.final:
        values[metric][-1] = job.final[metric]
    times = [0.0, *(p.seconds for p in marks)]
    seconds = [max(0.0, b - a) for a, b in itertools.pairwise(times)]
    return Curve({m: v for m, v in values.items() if v}, seconds, failure)


def _failure(job: FinishedJob) -> str | None:
    if job.status == "Completed":
        return None
    return job.failure or f"Training job ended {job.status}"


def build_set(
    jobs: Iterable[FinishedJob],
    objective: Objective,
    search_space: Sequence[Mapping[str, Any]],
    source: Mapping[str, Any],
) -> ImportedSet:
    """The runs of the jobs that can be replayed, and the manifest that says what they cover."""
    runs: list[Run] = []
    skipped: dict[str, str] = {}
    averaged: dict[str, int] = {}
    tuned = [str(p["name"]) for p in search_space]
    for job in jobs:
        if job.status not in KEPT_STATUSES:
            skipped[job.name] = f"ended {job.status}: only part of its curve was recorded"
            continue
        missing = [n for n in tuned if n not in job.hyperparameters]
        if missing:
            skipped[job.name] = f"no value for {', '.join(missing)}"
            continue
        curve = curve_of(job, objective.metric)
        if curve is None:
            skipped[job.name] = f"no {objective.metric} metric point"
            continue
        runs.append(Run(job.name, dict(job.hyperparameters), curve))
        if job.merged:
            averaged[job.name] = job.merged
    if not any(r.curve.failure is None for r in runs):
        reasons = "; ".join(f"{n}: {why}" for n, why in skipped.items()) or "no training job"
        raise CurveImportError(
            f"no completed training job with {objective.metric} points to import ({reasons})"
        )
    manifest = {
        "description": f"Imported from {len(runs)} finished training jobs",
        "source": dict(source),
        "objective": {"MetricName": objective.metric, "Type": objective.type},
        "epoch_metric": objective.metric,
        "search_space": [dict(p) for p in search_space],
        "runs": len(runs),
        "skipped": skipped,
        "averaged_points": averaged,
    }
    return ImportedSet(tuple(runs), manifest, skipped, averaged)


def write_imported(imported: ImportedSet, out: Path) -> Path:
    """Write the set as `<out>.json` + `<out>.csv.gz` (a trailing `.json` is allowed), both
    or neither: they are written beside it first and moved into place together."""
    name = out.name.removesuffix(".json")
    directory = out.parent
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=directory))
    try:
        write_set(staging, name, imported.runs, imported.manifest)
        (staging / f"{name}.csv.gz").replace(directory / f"{name}.csv.gz")
        (staging / f"{name}.json").replace(directory / f"{name}.json")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory / f"{name}.json"


# --- search spaces ------------------------------------------------------------------------


def space_from_ranges(ranges: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A tuning job's ParameterRanges as a manifest's `search_space` (what `space_of` reads).
    Only Logarithmic scaling is kept as such; Auto and ReverseLogarithmic read as linear."""
    space: list[dict[str, Any]] = []
    for kind, key in (
        ("continuous", "ContinuousParameterRanges"),
        ("integer", "IntegerParameterRanges"),
    ):
        for r in ranges.get(key) or []:
            scale = "log" if r.get("ScalingType") == "Logarithmic" else "linear"
            space.append(
                {
                    "name": r["Name"],
                    "kind": kind,
                    "low": float(r["MinValue"]),
                    "high": float(r["MaxValue"]),
                    "scale": scale,
                    "values": [],
                }
            )
    for r in ranges.get("CategoricalParameterRanges") or []:
        space.append(
            {
                "name": r["Name"],
                "kind": "categorical",
                "low": 0.0,
                "high": 0.0,
                "scale": "linear",
                "values": list(r["Values"]),
            }
        )
    return space


def merge_spaces(spaces: Sequence[Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """One space covering several tuning jobs': numeric ranges widened to hold every job's,
    categorical values joined (a parameter some job did not tune is left out)."""
    merged: dict[str, dict[str, Any]] = {}
    common = set.intersection(*({str(p["name"]) for p in s} for s in spaces)) if spaces else set()
    for space in spaces:
        for p in space:
            name = str(p["name"])
            if name not in common:
                continue
            if name not in merged:
                merged[name] = {**p, "values": list(p.get("values", []))}
                continue
            kept = merged[name]
            kept["low"] = min(float(kept["low"]), float(p["low"]))
            kept["high"] = max(float(kept["high"]), float(p["high"]))
            kept["values"] += [v for v in p.get("values", []) if v not in kept["values"]]
    return list(merged.values())


def inferred_space(jobs: Sequence[FinishedJob]) -> list[dict[str, Any]]:
    """The search space the jobs' hyperparameters span, for sources that do not say it (a
    CSV): a hyperparameter with more than one value is tuned; numbers get their observed range
    (integer when every value is one; log scale when all are positive and span two decades or
    more), anything else is categorical over its values."""
    names = sorted({k for j in jobs for k in j.hyperparameters})
    space: list[dict[str, Any]] = []
    for name in names:
        texts = [j.hyperparameters[name] for j in jobs if name in j.hyperparameters]
        if len(set(texts)) < 2:
            continue
        numbers = _numbers(texts)
        if numbers is None:
            values = sorted(set(texts))
            space.append(
                {
                    "name": name,
                    "kind": "categorical",
                    "low": 0.0,
                    "high": 0.0,
                    "scale": "linear",
                    "values": values,
                }
            )
            continue
        low, high = min(numbers), max(numbers)
        integer = all(
            float(n).is_integer() and "." not in t for n, t in zip(numbers, texts, strict=True)
        )
        scale = "log" if low > 0 and high / low >= 100 else "linear"
        space.append(
            {
                "name": name,
                "kind": "integer" if integer else "continuous",
                "low": low,
                "high": high,
                "scale": scale,
                "values": [],
            }
        )
    return space


def _numbers(texts: Sequence[str]) -> list[float] | None:
    try:
        numbers = [float(t) for t in texts]
    except ValueError:
        return None
    return numbers if all(math.isfinite(n) for n in numbers) else None
