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
  left out. Ties (repeated recordings of one configuration) are broken with the job's `rng`.
  `exact=True` refuses anything but a distance of zero: replays of a real tuning job.
  Nearest-neighbour keeps every replayed curve a real one (its noise, plateaus and divergence
  included); its error is measured by `leave_one_out_error`.
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

from emulator.tuner.model import ObjectiveType
from emulator.tuner.space import SearchSpace

CURVES_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "curves"
SYNTHETIC = "synthetic"


@dataclass(frozen=True)
class Curve:
    """What one training run reports: per-epoch metric values and per-epoch durations."""

    epoch_values: dict[str, list[float]]
    """metric name -> value after each epoch (index 0 = epoch 1), in the order they print."""
    epoch_seconds: list[float]
    """Seconds each epoch took (not cumulative)."""

    @property
    def epochs(self) -> int:
        return len(self.epoch_seconds)

    def truncated(self, epochs: int) -> Curve:
        """The first `epochs` epochs (a request that trains fewer epochs than recorded)."""
        return Curve(
            {m: v[:epochs] for m, v in self.epoch_values.items()}, self.epoch_seconds[:epochs]
        )


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
    value and how fast the curve approaches it; `noise` (relative) is drawn from the job's rng.
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
    """Nearest-recorded-neighbour replay of a `CurveSet` within one request's search space."""

    def __init__(
        self,
        curve_set: CurveSet,
        space: SearchSpace,
        static: Mapping[str, str] | None = None,
        *,
        exact: bool = False,
    ) -> None:
        self.curve_set = curve_set
        self.space = space
        self.exact = exact
        fitting = [r for r in curve_set.runs if _fits(r, space, static or {})]
        if not fitting:
            raise NoRecordedCurve(
                f"curve set {curve_set.name!r} has no run covering hyperparameters "
                f"{', '.join(space.names)} with the request's static values"
            )
        self.runs = fitting
        self.points = np.array([space.encode(r.hyperparameters) for r in fitting])
        self.epoch_limit = _epochs_of(static or {})

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
        curve = run.curve
        if self.epoch_limit is not None and self.epoch_limit < curve.epochs:
            curve = curve.truncated(self.epoch_limit)
        return curve


def _fits(run: Run, space: SearchSpace, static: Mapping[str, str]) -> bool:
    """A run can stand for configurations of `space` when it set every tuned hyperparameter to
    a value the space can encode, and agrees with the request's statics it recorded (numbers
    compared as numbers). An epoch count only needs to be at least the request's."""
    hp = run.hyperparameters
    for p in space.params:
        if p.name not in hp:
            return False
        values = getattr(p, "values", None)
        if values is not None and hp[p.name] not in values:
            return False
    for name, wanted in static.items():
        if name.startswith("_") or name not in hp or name in space.names:
            continue
        if name in _EPOCH_NAMES:
            continue
        if not _same_value(hp[name], wanted):
            return False
    return True


_EPOCH_NAMES = ("epochs", "num_round", "num_epochs", "n_epochs", "max_iter")


def _epochs_of(static: Mapping[str, str]) -> int | None:
    for name in _EPOCH_NAMES:
        if name in static:
            try:
                return int(float(str(static[name]).strip('"')))
            except ValueError:
                return None
    return None


def _same_value(a: str, b: str) -> bool:
    a, b = str(a).strip('"'), str(b).strip('"')
    try:
        return math.isclose(float(a), float(b), rel_tol=1e-9)
    except ValueError:
        return a == b


# --- loading recorded sets --------------------------------------------------------------------


def available_sets(directory: Path = CURVES_DIR) -> list[str]:
    """Names of the recorded curve sets (each a `<name>.json` manifest with its data file)."""
    if not directory.is_dir():
        return []
    return sorted(p.stem for p in directory.glob("*.json") if _data_file(p) is not None)


def _data_file(manifest_path: Path) -> Path | None:
    manifest = json.loads(manifest_path.read_text())
    named = manifest.get("file") or manifest.get("data") or f"{manifest_path.stem}.csv.gz"
    path = manifest_path.parent / str(named)
    return path if path.exists() else None


def load_set(name: str, directory: Path = CURVES_DIR) -> CurveSet:
    """Load `<directory>/<name>.json` and its gzipped CSV (KeyError naming the known sets)."""
    manifest_path = Path(name) if name.endswith(".json") else directory / f"{name}.json"
    if not manifest_path.exists():
        known = ", ".join(available_sets(directory)) or "none recorded"
        raise KeyError(f"no curve set {name!r} (known: {known}, or {SYNTHETIC!r})")
    manifest = json.loads(manifest_path.read_text())
    data = _data_file(manifest_path)
    if data is None:
        raise KeyError(f"curve set {name!r}: data file missing")
    with gzip.open(data, "rt", encoding="utf-8", newline="") as fh:
        runs = parse_runs(csv.DictReader(fh), manifest)
    return CurveSet(manifest_path.stem, manifest, tuple(runs))


@dataclass(frozen=True)
class Columns:
    """Which CSV columns hold what (named in the manifest; these are the defaults)."""

    run_id: str = "run_id"
    epoch: str = "epoch"
    seconds: str = "epoch_seconds"
    cumulative_seconds: str = ""
    hyperparameters: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()

    @classmethod
    def of(cls, manifest: Mapping[str, Any], header: Sequence[str]) -> Columns:
        columns = dict(manifest.get("columns") or {})
        hps = tuple(manifest.get("hyperparameters") or ())
        metrics = tuple(manifest.get("metrics") or ())
        prefixed_hp = tuple(h for h in header if h.startswith("hp."))
        prefixed_metric = tuple(h for h in header if h.startswith("metric."))
        return cls(
            run_id=columns.get("run_id", "run_id"),
            epoch=columns.get("epoch", "epoch"),
            seconds=columns.get("epoch_seconds", "epoch_seconds" if "epoch_seconds" in header else ""),
            cumulative_seconds=columns.get(
                "elapsed_seconds", "elapsed_seconds" if "elapsed_seconds" in header else ""
            ),
            hyperparameters=tuple(_names(hps)) or prefixed_hp,
            metrics=tuple(_names(metrics)) or prefixed_metric,
        )


def _names(entries: Iterable[Any]) -> list[str]:
    """Manifest lists may hold plain names or objects with a `name`/`column`."""
    out = []
    for e in entries:
        out.append(str(e.get("column") or e.get("name")) if isinstance(e, Mapping) else str(e))
    return out


def _strip(column: str) -> str:
    for prefix in ("hp.", "metric."):
        if column.startswith(prefix):
            return column[len(prefix) :]
    return column


def parse_runs(rows: Iterable[Mapping[str, str]], manifest: Mapping[str, Any]) -> list[Run]:
    """Group CSV rows (one per run and epoch) into runs, epochs in order."""
    rows = list(rows)
    if not rows:
        return []
    cols = Columns.of(manifest, list(rows[0].keys()))
    grouped: dict[str, list[Mapping[str, str]]] = {}
    for row in rows:
        grouped.setdefault(row[cols.run_id], []).append(row)
    runs = []
    for run_id, epochs in grouped.items():
        epochs.sort(key=lambda r: int(float(r[cols.epoch])))
        first = epochs[0]
        hyperparameters = {_strip(h): first[h] for h in cols.hyperparameters if first.get(h, "")}
        values = {
            _strip(m): [float(r[m]) for r in epochs if r.get(m, "") != ""]
            for m in cols.metrics
        }
        runs.append(Run(run_id, hyperparameters, Curve(values, _seconds(epochs, cols))))
    return runs


def _seconds(epochs: Sequence[Mapping[str, str]], cols: Columns) -> list[float]:
    if cols.seconds:
        return [float(r[cols.seconds]) for r in epochs]
    if cols.cumulative_seconds:
        elapsed = [float(r[cols.cumulative_seconds]) for r in epochs]
        return [b - a for a, b in zip([0.0, *elapsed[:-1]], elapsed, strict=True)]
    raise ValueError("a curve set needs epoch_seconds or elapsed_seconds columns")


def write_set(
    directory: Path, name: str, runs: Sequence[Run], manifest: Mapping[str, Any]
) -> Path:
    """Write runs as `<name>.csv.gz` + `<name>.json` in the layout `load_set` reads."""
    hps = sorted({k for r in runs for k in r.hyperparameters})
    metrics = sorted({m for r in runs for m in r.curve.epoch_values})
    header = ["run_id", "epoch", "epoch_seconds", *hps, *metrics]
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    for run in runs:
        for i, seconds in enumerate(run.curve.epoch_seconds):
            writer.writerow(
                [run.run_id, i + 1, repr(seconds)]
                + [run.hyperparameters.get(h, "") for h in hps]
                + [_at(run.curve.epoch_values.get(m, []), i) for m in metrics]
            )
    directory.mkdir(parents=True, exist_ok=True)
    with gzip.open(directory / f"{name}.csv.gz", "wt", encoding="utf-8") as fh:
        fh.write(text.getvalue())
    full = {**manifest, "file": f"{name}.csv.gz", "hyperparameters": hps, "metrics": metrics}
    path = directory / f"{name}.json"
    path.write_text(json.dumps(full, indent=2) + "\n")
    return path


def _at(values: Sequence[float], i: int) -> str:
    return repr(values[i]) if i < len(values) else ""


# --- fidelity -------------------------------------------------------------------------------


def leave_one_out_error(
    curve_set: CurveSet, space: SearchSpace, metric: str
) -> dict[str, float]:
    """How well nearest-neighbour replay predicts a run it has never seen: each run's final
    `metric` against that of its nearest other run. Mean and median absolute error, and the
    spread of the finals (the error of always answering the mean) for scale."""
    runs = [
        r
        for r in curve_set.runs
        if _fits(r, space, {}) and r.curve.epoch_values.get(metric)
    ]
    if len(runs) < 2:
        raise NoRecordedCurve(f"fewer than two runs record {metric!r}")
    points = np.array([space.encode(r.hyperparameters) for r in runs])
    finals = np.array([r.curve.epoch_values[metric][-1] for r in runs])
    errors = []
    for i in range(len(runs)):
        distances = np.linalg.norm(points - points[i], axis=1)
        distances[i] = np.inf
        errors.append(abs(finals[int(distances.argmin())] - finals[i]))
    return {
        "runs": float(len(runs)),
        "mean_abs_error": float(np.mean(errors)),
        "median_abs_error": float(np.median(errors)),
        "baseline_mean_abs_error": float(np.mean(np.abs(finals - finals.mean()))),
    }
