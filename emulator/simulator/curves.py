"""Where a simulated training job's learning curve comes from: one pluggable `CurveSource`.

A source answers `curve(config, rng)` with every metric's value after each epoch and how long
each epoch took. Two sources:

- `SyntheticCurves`: a smooth, seeded function of the hyperparameters plus noise. No data files;
  for tests and speed benchmarks, and for specs whose algorithm was never recorded.
- `RecordedCurves`: replays runs recorded from real training (`fixtures/curves/<name>.csv.gz`
  with `<name>.json` beside it). A configuration gets the curve of its **nearest recorded
  neighbour** in the tuning job's encoded search space (`SearchSpace.encode`: the unit cube the
  strategies search, log-scaled where the range asks for it, categoricals one-hot) under the
  Euclidean distance. Recorded runs whose static hyperparameters contradict the request's are
  left out while others agree (see `RecordedCurves`). A request with fewer epochs than were
  recorded replays the first ones. Ties (repeated recordings of one configuration) are broken
  with the job's `rng`.
  `exact=True` refuses anything but a distance of zero: replays of a real tuning job.
  Nearest-neighbour keeps every replayed curve a real one (its noise, plateaus and divergence
  included); its error is measured by `leave_one_out_error` (`amt simulate --list` prints it
  per set). On the first 36 image-classification runs recorded it was 0.19 mean absolute error
  of the final validation:accuracy (0.34 for always answering the mean; Spearman 0.66), on 27
  xgboost runs 0.089 of the final validation:logloss (0.17; Spearman 0.75); it shrinks as
  recordings fill the space. Recorded epoch times are the program's own: the first epoch
  includes its start-up (imports, data loading); `--startup` adds the platform's.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from emulator.curve_sets import CURVES_DIR, available_sets, data_file, manifest_of
from emulator.tuner.hyperband import EPOCH_KEYS, infer_max_resource
from emulator.tuner.model import ObjectiveType
from emulator.tuner.space import SearchSpace

SYNTHETIC = "synthetic"


@dataclass(frozen=True)
class Curve:
    """What one training run reports: per-epoch metric values and per-epoch durations."""

    epoch_values: dict[str, list[float]]
    """metric name -> value after each epoch (index 0 = epoch 1), in the order they print."""
    epoch_seconds: list[float]
    """Seconds each epoch took (not cumulative)."""
    failure: str | None = None
    """Set when the run failed after its last epoch (its FailureReason)."""

    @property
    def epochs(self) -> int:
        return len(self.epoch_seconds)

    def truncated(self, epochs: int) -> Curve:
        """The first `epochs` epochs (a request that trains fewer epochs than recorded): a
        failure recorded after them did not happen yet."""
        return Curve(
            {m: v[:epochs] for m, v in self.epoch_values.items()}, self.epoch_seconds[:epochs]
        )


def run_key(seed: int, tuning_job: str, run: int = 1) -> list[int]:
    """Seed material of one simulated tuning job: the simulation's seed, which request of the
    simulation it is (1-based) and the tuning job's name."""
    return [seed, run, zlib.crc32(tuning_job.encode())]


def launch_rng(key: Sequence[int], launch_index: int) -> np.random.Generator:
    """The generator the `launch_index`-th training job (1-based) of a tuning job draws its
    curve with: `amt simulate` and `amt serve --simulate` draw the same curves."""
    return np.random.default_rng([*key, launch_index])


class CurveSource(Protocol):
    """Gives each simulated training job its learning curve."""

    def curve(self, config: Mapping[str, str], rng: np.random.Generator) -> Curve:
        """The curve of a training job with hyperparameters `config` (static and tuned)."""
        ...


# --- synthetic ------------------------------------------------------------------------------


def _unit_hash(*parts: str) -> float:
    """A stable number in [0, 1) for a string key (the same on every run and machine)."""
    return zlib.crc32("\x1f".join(parts).encode()) / 2**32


def _axis(text: str) -> float | None:
    """Where a numeric hyperparameter sits on its natural axis: log10 for positive values."""
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    return math.log10(value) if value > 0 else value


@dataclass(frozen=True)
class SyntheticCurves:
    """Curves from a smooth function of the hyperparameters: quality peaks at a per-name optimum.

    Every numeric hyperparameter has an optimum (on a log10 axis for positive values) placed by
    a hash of its name; categorical values add a hashed offset. Quality in (0, 1] sets the final
    value and how fast the curve approaches it; `noise` (absolute, Gaussian) and a 5% jitter of
    the epoch times are drawn from the job's rng.
    """

    metric: str = "validation:accuracy"
    objective_type: ObjectiveType = "Maximize"
    epochs: int = 10
    seconds_per_epoch: float = 60.0
    noise: float = 0.01
    ignored: frozenset[str] = field(default_factory=frozenset)
    """Hyperparameters that do not influence the curve (e.g. `epochs` itself)."""

    def quality(self, config: Mapping[str, str]) -> float:
        """In (0, 1]: 1 at the optimum of every hyperparameter."""
        penalty = 0.0
        for name, text in sorted(config.items()):
            if name in self.ignored or name.startswith("_"):
                continue
            position = _axis(text)
            if position is None:
                penalty += 0.6 * _unit_hash(name, text)
            else:
                optimum = -3.0 + 4.0 * _unit_hash(name)
                penalty += 0.15 * (position - optimum) ** 2
        return math.exp(-penalty)

    def curve(self, config: Mapping[str, str], rng: np.random.Generator) -> Curve:
        q = self.quality(config)
        final = 0.1 + 0.85 * q
        rate = 0.15 + 0.6 * q
        epochs = np.arange(1, self.epochs + 1)
        clean = final * (1.0 - np.exp(-rate * epochs))
        noisy = np.clip(clean + self.noise * rng.standard_normal(self.epochs), 0.0, 1.0)
        values = noisy if self.objective_type == "Maximize" else 1.0 - noisy
        seconds = self.seconds_per_epoch * (1.0 + 0.05 * rng.standard_normal(self.epochs))
        return Curve(
            {self.metric: [round(float(v), 6) for v in values]},
            [float(s) for s in np.maximum(seconds, 0.1)],
        )


# --- recorded ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One recorded training run."""

    run_id: str
    hyperparameters: dict[str, str]
    curve: Curve


@dataclass(frozen=True)
class CurveSet:
    """A recorded curve set as loaded: its manifest and its runs."""

    name: str
    manifest: dict[str, Any]
    runs: tuple[Run, ...]

    @property
    def hyperparameters(self) -> list[str]:
        return sorted({k for r in self.runs for k in r.hyperparameters})

    @property
    def metrics(self) -> list[str]:
        return sorted({m for r in self.runs for m in r.curve.epoch_values})


class NoRecordedCurve(LookupError):
    """No recorded run fits a configuration (or, with `exact`, none equals it)."""


class RecordedCurves:
    """Nearest-recorded-neighbour replay of a `CurveSet` within one request's search space.

    Runs whose static hyperparameters differ from the request's are left out when others
    agree; when none agrees (a recording made on smaller images, say) all are kept and
    `differing_static` names what differs, for the caller to say so. With `strict_static`
    such a request is refused instead.
    """

    def __init__(
        self,
        curve_set: CurveSet,
        space: SearchSpace,
        static: Mapping[str, str] | None = None,
        *,
        exact: bool = False,
        strict_static: bool = False,
    ) -> None:
        self.curve_set = curve_set
        self.space = space
        self.exact = exact
        covering = [r for r in curve_set.runs if _covers(r, space)]
        if not covering:
            raise NoRecordedCurve(
                f"curve set {curve_set.name!r} has no run covering hyperparameters "
                f"{', '.join(space.names)} (it records {', '.join(curve_set.hyperparameters)})"
            )
        static = {k: v for k, v in (static or {}).items() if k not in space.names}
        agreeing = [r for r in covering if not _differing(r, static)]
        self.differing_static = sorted({n for r in covering for n in _differing(r, static)})
        if agreeing:
            self.differing_static = []
        elif strict_static:
            raise NoRecordedCurve(
                f"curve set {curve_set.name!r} has no run with the request's values of "
                f"{', '.join(self.differing_static)}"
            )
        self.runs = agreeing or covering
        self.points = np.array([space.encode(r.hyperparameters) for r in self.runs])
        self.epoch_limit = infer_max_resource(static)

    def nearest(self, config: Mapping[str, str], rng: np.random.Generator) -> tuple[Run, float]:
        """The recorded run closest to `config` (a random one among equals) and its distance."""
        x = self.space.encode({n: config[n] for n in self.space.names})
        distances = np.linalg.norm(self.points - x, axis=1)
        best = float(distances.min())
        ties = np.flatnonzero(distances <= best + 1e-12)
        index = int(ties[0] if len(ties) == 1 else rng.choice(ties))
        return self.runs[index], best

    def curve(self, config: Mapping[str, str], rng: np.random.Generator) -> Curve:
        run, distance = self.nearest(config, rng)
        if self.exact and distance > 1e-9:
            raise NoRecordedCurve(f"no recorded run has exactly {dict(config)}")
        return self.replay_of(run)

    def replay_of(self, run: Run) -> Curve:
        """A recorded run's curve as this request replays it: its first epochs when the
        request trains fewer than were recorded."""
        curve = run.curve
        if self.epoch_limit is not None and self.epoch_limit < curve.epochs:
            curve = curve.truncated(self.epoch_limit)
        return curve


def _covers(run: Run, space: SearchSpace) -> bool:
    """A run can stand for configurations of `space` when it set every tuned hyperparameter to
    a value the space can encode."""
    hp = run.hyperparameters
    for p in space.params:
        if p.name not in hp:
            return False
        values = getattr(p, "values", None)
        if values is not None and hp[p.name] not in values:
            return False
    return True


def _differing(run: Run, static: Mapping[str, str]) -> list[str]:
    """The request's static hyperparameters the run recorded with another value (numbers
    compared as numbers; the epoch count is not compared: longer runs are cut short)."""
    return [
        name
        for name, wanted in static.items()
        if not name.startswith("_")
        and name in run.hyperparameters
        and name not in EPOCH_KEYS
        and not _same_value(run.hyperparameters[name], wanted)
    ]


def _same_value(a: str, b: str) -> bool:
    a, b = str(a).strip('"'), str(b).strip('"')
    try:
        return math.isclose(float(a), float(b), rel_tol=1e-9)
    except ValueError:
        return a == b


# --- loading recorded sets --------------------------------------------------------------------
#
# The layout `fixtures/record_curves.py` writes: `<name>.csv.gz`, one row per run and epoch,
#     config_id, status, epoch, elapsed_seconds, <other *_seconds>, <hyperparameters>, <metrics>
# (`elapsed_seconds`: wall time since the process started, so start-up is in the first epoch;
# a run that failed before its first epoch has one row with epoch 0), and `<name>.json`, the
# manifest, whose `search_space` names the hyperparameter columns and whose
# `static_hyperparameters` every run shared. A metric missing from an epoch is left empty.

FIXED_COLUMNS = ("config_id", "status", "epoch")
ELAPSED = "elapsed_seconds"


def load_set(name: str, directory: Path = CURVES_DIR) -> CurveSet:
    """Load a set by name (`<directory>/<name>.json` and its gzipped CSV) or by the path of
    its manifest, with or without `.json` (KeyError naming the known sets)."""
    manifest_path = manifest_of(name, directory)
    if manifest_path is None:
        known = ", ".join(available_sets(directory)) or "none recorded"
        raise KeyError(
            f"no curve set {name!r} (known: {known}, {SYNTHETIC!r}, or the path of a set's "
            "manifest)"
        )
    manifest = json.loads(manifest_path.read_text())
    with gzip.open(data_file(manifest_path), "rt", encoding="utf-8", newline="") as fh:
        runs = parse_runs(csv.DictReader(fh), manifest)
    return CurveSet(manifest_path.stem, manifest, tuple(runs))


def parse_runs(rows: Iterable[Mapping[str, str]], manifest: Mapping[str, Any]) -> list[Run]:
    """Group CSV rows into runs, epochs in order; statics from the manifest join each run's
    hyperparameters. A run that did not complete ends its curve with a `failure`."""
    hp_names = [str(p["name"]) for p in manifest.get("search_space", [])]
    static = {str(k): str(v) for k, v in (manifest.get("static_hyperparameters") or {}).items()}
    grouped: dict[str, list[Mapping[str, str]]] = {}
    for row in rows:
        grouped.setdefault(row["config_id"], []).append(row)
    runs = []
    for run_id, group in grouped.items():
        first = group[0]
        metrics = [
            c
            for c in first
            if c not in FIXED_COLUMNS and c not in hp_names and not c.endswith("_seconds")
        ]
        epochs = sorted((r for r in group if int(r["epoch"]) > 0), key=lambda r: int(r["epoch"]))
        values = {m: [_float(r[m]) for r in epochs] for m in metrics}
        status = first.get("status") or "Completed"
        curve = Curve(
            values,
            _durations([float(r[ELAPSED]) for r in epochs]),
            failure=None if status == "Completed" else f"Recorded run ended {status}",
        )
        runs.append(Run(run_id, {**static, **{h: first[h] for h in hp_names}}, curve))
    return runs


def _durations(elapsed: Sequence[float]) -> list[float]:
    """Per-epoch seconds from cumulative ones."""
    return [round(b - a, 6) for a, b in zip([0.0, *elapsed[:-1]], elapsed, strict=True)]


def _float(text: str) -> float:
    return float(text) if text else math.nan


def write_set(directory: Path, name: str, runs: Sequence[Run], manifest: Mapping[str, Any]) -> Path:
    """Write runs as `<name>.csv.gz` + `<name>.json` in the layout `load_set` reads. The
    manifest's `search_space`, when it has one, names the tuned hyperparameters (else those the
    runs do not share); the others every run shares become the manifest's static ones."""
    space = manifest.get("search_space")
    tuned = [str(p["name"]) for p in space] if space else []
    shared = {
        k: v
        for k, v in runs[0].hyperparameters.items()
        if k not in tuned and all(r.hyperparameters.get(k) == v for r in runs)
    }
    hps = tuned or sorted({k for r in runs for k in r.hyperparameters} - set(shared))
    metrics = sorted({m for r in runs for m in r.curve.epoch_values})
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow([*FIXED_COLUMNS, ELAPSED, *hps, *metrics])
    for run in runs:
        status = "Completed" if run.curve.failure is None else "Failed"
        elapsed = 0.0
        for i, seconds in enumerate(run.curve.epoch_seconds):
            elapsed += seconds
            writer.writerow(
                [run.run_id, status, i + 1, repr(elapsed)]
                + [run.hyperparameters.get(h, "") for h in hps]
                + [_at(run.curve.epoch_values.get(m, []), i) for m in metrics]
            )
        if not run.curve.epoch_seconds:
            writer.writerow(
                [run.run_id, status, 0, "", *(run.hyperparameters.get(h, "") for h in hps)]
            )
    directory.mkdir(parents=True, exist_ok=True)
    with gzip.open(directory / f"{name}.csv.gz", "wt", encoding="utf-8") as fh:
        fh.write(text.getvalue())
    full = {
        **manifest,
        "name": name,
        "static_hyperparameters": shared,
        "search_space": space or [{"name": h} for h in hps],
    }
    path = directory / f"{name}.json"
    path.write_text(json.dumps(full, indent=2) + "\n")
    return path


def _at(values: Sequence[float], i: int) -> str:
    return repr(values[i]) if i < len(values) and math.isfinite(values[i]) else ""


def space_of(manifest: Mapping[str, Any]) -> SearchSpace:
    """The search space a curve set was recorded over, from its manifest's `search_space`."""
    ranges: dict[str, list[dict[str, Any]]] = {
        "ContinuousParameterRanges": [],
        "IntegerParameterRanges": [],
        "CategoricalParameterRanges": [],
    }
    for p in manifest.get("search_space", []):
        if p.get("kind") == "categorical":
            ranges["CategoricalParameterRanges"].append({"Name": p["name"], "Values": p["values"]})
            continue
        kind = (
            "IntegerParameterRanges" if p.get("kind") == "integer" else "ContinuousParameterRanges"
        )
        ranges[kind].append(
            {
                "Name": p["name"],
                "MinValue": str(p["low"]),
                "MaxValue": str(p["high"]),
                "ScalingType": "Logarithmic" if p.get("scale") == "log" else "Linear",
            }
        )
    return SearchSpace.from_parameter_ranges(ranges)


# --- fidelity -------------------------------------------------------------------------------


def encoded_finals(
    curve_set: CurveSet, space: SearchSpace, metric: str
) -> tuple[np.ndarray, np.ndarray]:
    """The runs that set every hyperparameter of `space` and end with a finite `metric`: their
    encoded configurations and final values (what replay error is measured on)."""
    runs = [
        r
        for r in curve_set.runs
        if _covers(r, space) and np.isfinite(r.curve.epoch_values.get(metric, [np.nan])[-1])
    ]
    if len(runs) < 3:
        raise NoRecordedCurve(f"fewer than three runs record {metric!r}")
    points = np.array([space.encode(r.hyperparameters) for r in runs])
    finals = np.array([r.curve.epoch_values[metric][-1] for r in runs])
    return points, finals


def leave_one_out_error(curve_set: CurveSet, space: SearchSpace, metric: str) -> dict[str, float]:
    """How well nearest-neighbour replay predicts a run it has never seen: each run's final
    `metric` against that of its nearest other run. Mean and median absolute error, the error
    of always answering the mean (for scale), and the Spearman rank correlation of predicted
    and true finals (what a tuner's choices depend on)."""
    points, finals = encoded_finals(curve_set, space, metric)
    predicted = np.empty_like(finals)
    for i in range(len(finals)):
        distances = np.linalg.norm(points - points[i], axis=1)
        distances[i] = np.inf
        predicted[i] = finals[int(distances.argmin())]
    errors = np.abs(predicted - finals)
    return {
        "runs": float(len(finals)),
        "mean_abs_error": float(errors.mean()),
        "median_abs_error": float(np.median(errors)),
        "baseline_mean_abs_error": float(np.mean(np.abs(finals - finals.mean()))),
        "spearman": rank_correlation(predicted, finals),
    }


def rank_correlation(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Spearman's rank correlation of predictions and outcomes; NaN where either side is
    constant (three runs of a coarse metric often tie), where no ranking exists to compare."""
    if np.ptp(predicted) == 0 or np.ptp(actual) == 0:
        return float("nan")
    from scipy.stats import spearmanr  # noqa: PLC0415 - scipy.stats costs ~0.6 s to import: only the replay error needs it, not a server that replays curves

    return float(spearmanr(predicted, actual).statistic)
