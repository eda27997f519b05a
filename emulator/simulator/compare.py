"""`amt simulate --compare`: the request as given against variants of it, over several seeds.

A user's question is rarely "what does this request do" but "what would another one have
done": another strategy, early stopping on or off, more jobs at once, a smaller budget. A
`Variant` is a change to the request (`apply`); every variant runs for the same seeds, and
each seed's run is compared with the request as given at that seed (paired, so the curves'
luck cancels out): the billable time it saves, how far its best objective moves, and after how
many jobs it first matched the given request's best.

Pure apart from `run_variants`, which simulates: `Trial` (one run, read off its `Outcome`),
`summarise` (one `Row` per variant, medians and spreads over seeds) and `table`.
"""

from __future__ import annotations

import copy
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from emulator.simulator.report import Outcome

AS_GIVEN = "as given"
STRATEGIES = ("Bayesian", "Random", "Hyperband")
VARIANT_KEYS = {
    "Label": "label",
    "Strategy": "strategy",
    "TrainingJobEarlyStoppingType": "early_stopping",
    "MaxParallelTrainingJobs": "parallel",
    "MaxNumberOfTrainingJobs": "jobs",
}
"""A variants file's keys (the request's own field names) -> `Variant` fields."""


# --- variants ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """A change to a CreateHyperParameterTuningJob request; None keeps the request's value."""

    label: str
    strategy: str | None = None
    early_stopping: str | None = None
    """TrainingJobEarlyStoppingType: Off or Auto."""
    parallel: int | None = None
    """MaxParallelTrainingJobs."""
    jobs: int | None = None
    """MaxNumberOfTrainingJobs."""

    def apply(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """The request with this variant's changes (a new document). Hyperband has its own
        stopping, so it runs with early stopping Off; StrategyConfig is Hyperband's only."""
        out = copy.deepcopy(dict(request))
        config = out["HyperParameterTuningJobConfig"]
        limits = config.setdefault("ResourceLimits", {})
        if self.strategy is not None:
            config["Strategy"] = self.strategy
        if self.early_stopping is not None:
            config["TrainingJobEarlyStoppingType"] = self.early_stopping
        if config["Strategy"] == "Hyperband":
            config["TrainingJobEarlyStoppingType"] = "Off"
        else:
            config.pop("StrategyConfig", None)
        if self.parallel is not None:
            limits["MaxParallelTrainingJobs"] = self.parallel
        if self.jobs is not None:
            limits["MaxNumberOfTrainingJobs"] = self.jobs
        return out


def default_variants(request: Mapping[str, Any]) -> list[Variant]:
    """The request as given, then: each other strategy, early stopping flipped, half and twice
    the parallel jobs, half and twice the job budget."""
    config = request["HyperParameterTuningJobConfig"]
    strategy = config.get("Strategy", "Bayesian")
    limits = config.get("ResourceLimits") or {}
    parallel = int(limits.get("MaxParallelTrainingJobs", 1))
    jobs = int(limits.get("MaxNumberOfTrainingJobs", 0))
    variants = [Variant(AS_GIVEN)]
    variants += [Variant(s, strategy=s) for s in STRATEGIES if s != strategy]
    if strategy != "Hyperband":
        stopping = "Off" if config.get("TrainingJobEarlyStoppingType") == "Auto" else "Auto"
        variants.append(Variant(f"early stopping {stopping}", early_stopping=stopping))
    if parallel > 1:
        variants.append(Variant(f"{parallel // 2} parallel", parallel=parallel // 2))
    variants.append(Variant(f"{2 * parallel} parallel", parallel=2 * parallel))
    if jobs > 1:
        variants.append(Variant(f"{jobs // 2} jobs", jobs=jobs // 2))
    if jobs:
        variants.append(Variant(f"{2 * jobs} jobs", jobs=2 * jobs))
    return variants


def variants_from(document: Any) -> list[Variant]:
    """Variants from a variants file: a list of objects with the request's own field names
    (`Strategy`, `TrainingJobEarlyStoppingType`, `MaxParallelTrainingJobs`,
    `MaxNumberOfTrainingJobs`) and an optional `Label`. The request as given comes first."""
    if not isinstance(document, list) or not all(isinstance(v, dict) for v in document):
        raise ValueError("a variants file holds a list of objects")
    variants = [Variant(AS_GIVEN)]
    for i, entry in enumerate(document, start=1):
        unknown = sorted(set(entry) - set(VARIANT_KEYS))
        if unknown:
            raise ValueError(
                f"variant {i}: unknown {', '.join(unknown)} (known: {', '.join(VARIANT_KEYS)})"
            )
        fields = {VARIANT_KEYS[k]: v for k, v in entry.items()}
        fields.setdefault("label", _label(entry))
        variants.append(Variant(**fields))
    labels = [v.label for v in variants]
    if len(set(labels)) != len(labels):
        raise ValueError(f"variant labels must differ: {', '.join(labels)}")
    return variants


def _label(entry: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in entry.items()) or AS_GIVEN


# --- one run, and the table -------------------------------------------------------------------


@dataclass(frozen=True)
class Trial:
    """What one variant did for one seed."""

    seed: int
    best: float | None
    billable_seconds: float
    wall_seconds: float
    early_stopped: int
    finals: tuple[float | None, ...] = ()
    """Every training job's final objective, in the order the jobs ended (None: none)."""
    maximize: bool = True

    @classmethod
    def of(cls, outcome: Outcome, seed: int) -> Trial:
        ended = sorted(outcome.jobs, key=lambda j: (j.end is None, j.end or 0.0))
        return cls(
            seed=seed,
            best=outcome.best_objective,
            billable_seconds=float(outcome.total_training_seconds),
            wall_seconds=outcome.wall_seconds,
            early_stopped=outcome.early_stopped_jobs,
            finals=tuple(j.final_objective for j in ended),
            maximize=outcome.objective_type != "Minimize",
        )

    def jobs_to_reach(self, target: float | None) -> int | None:
        """How many jobs had ended when one first matched `target` (None: none did)."""
        if target is None:
            return None
        for count, value in enumerate(self.finals, start=1):
            if value is not None and (value >= target if self.maximize else value <= target):
                return count
        return None


@dataclass(frozen=True)
class Spread:
    """Median and range over seeds."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Iterable[float | None]) -> Spread | None:
        kept = [v for v in values if v is not None]
        if not kept:
            return None
        return cls(statistics.median(kept), min(kept), max(kept))


@dataclass(frozen=True)
class Row:
    """One variant over every seed, paired by seed with the request as given."""

    label: str
    best: Spread | None
    gain: float | None
    """Median of (its best - the given request's best), sign turned so that more is better."""
    billable_seconds: Spread | None
    saved: float | None
    """Median of 1 - its billable time / the given request's."""
    wall_seconds: Spread | None
    jobs_to_reach: float | None
    """Median, over the seeds that did, of the jobs it took to match the given best."""
    reached: int
    seeds: int
    early_stopped: float
    trials: tuple[Trial, ...] = field(default=(), repr=False)


def _paired(
    trials: Sequence[Trial], given: Sequence[Trial], fn: Callable[[Trial, Trial], float | None]
) -> float | None:
    values = [fn(t, g) for t, g in zip(trials, given, strict=True)]
    kept = [v for v in values if v is not None]
    return statistics.median(kept) if kept else None


def _gain(trial: Trial, given: Trial) -> float | None:
    if trial.best is None or given.best is None:
        return None
    return trial.best - given.best if trial.maximize else given.best - trial.best


def _saved(trial: Trial, given: Trial) -> float | None:
    if not given.billable_seconds:
        return None
    return 1.0 - trial.billable_seconds / given.billable_seconds


def summarise(trials: Mapping[str, Sequence[Trial]], given: str = AS_GIVEN) -> list[Row]:
    """One row per variant (in `trials`' order); every variant ran the given one's seeds."""
    baseline = trials[given]
    rows = []
    for label, runs in trials.items():
        if [t.seed for t in runs] != [t.seed for t in baseline]:
            raise ValueError(f"variant {label!r} ran other seeds than {given!r}")
        reach = [t.jobs_to_reach(g.best) for t, g in zip(runs, baseline, strict=True)]
        reached = [r for r in reach if r is not None]
        rows.append(
            Row(
                label=label,
                best=Spread.of(t.best for t in runs),
                gain=_paired(runs, baseline, _gain),
                billable_seconds=Spread.of(t.billable_seconds for t in runs),
                saved=_paired(runs, baseline, _saved),
                wall_seconds=Spread.of(t.wall_seconds for t in runs),
                jobs_to_reach=statistics.median(reached) if reached else None,
                reached=len(reached),
                seeds=len(runs),
                early_stopped=statistics.median(t.early_stopped for t in runs),
                trials=tuple(runs),
            )
        )
    return rows


def _spread(spread: Spread | None, spec: str, scale: float = 1.0) -> str:
    if spread is None:
        return "-"
    m, lo, hi = (format(x / scale, spec) for x in (spread.median, spread.low, spread.high))
    return f"{m} [{lo}..{hi}]"


def _number(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(rows: Sequence[Row]) -> str:
    """The comparison as printed: medians [min..max] over seeds; paired columns against the
    request as given."""
    header = (
        "variant",
        "best objective",
        "Δ best",
        "billable h",
        "saved",
        "wall h (virtual)",
        "jobs to given best",
        "stopped",
    )
    lines = [header]
    for row in rows:
        reach = f"{_number(row.jobs_to_reach, 'g')} ({row.reached}/{row.seeds})"
        lines.append(
            (
                row.label,
                _spread(row.best, ".4f"),
                _number(row.gain, "+.4f"),
                _spread(row.billable_seconds, ".2f", 3600),
                "-" if row.saved is None else f"{100 * row.saved:.0f}%",
                _spread(row.wall_seconds, ".2f", 3600),
                reach,
                _number(row.early_stopped, "g"),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(_aligned(line, widths)) for line in lines]
    text.insert(1, "-" * len(text[0]))
    return "\n".join(text)


def _aligned(cells: Sequence[str], widths: Sequence[int]) -> list[str]:
    """The first column to the left, numbers to the right."""
    return [
        c.ljust(w) if i == 0 else c.rjust(w)
        for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    ]


def to_json(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """The rows as `--json` prints them, each seed's run included."""
    out = []
    for row in rows:
        entry = {k: v for k, v in row.__dict__.items() if k != "trials"}
        for key in ("best", "billable_seconds", "wall_seconds"):
            spread = entry[key]
            entry[key] = None if spread is None else spread.__dict__
        entry["runs"] = [
            {k: v for k, v in t.__dict__.items() if k not in ("finals", "maximize")}
            for t in row.trials
        ]
        out.append(entry)
    return out


# --- running ------------------------------------------------------------------------------------

Simulate = Callable[[list[dict[str, Any]], int], Outcome]
"""Runs requests (parents first) for one seed; the last one's outcome."""


def run_variants(
    requests: Sequence[Mapping[str, Any]],
    variants: Sequence[Variant],
    seeds: Sequence[int],
    simulate: Simulate,
) -> dict[str, list[Trial]]:
    """Every variant for every seed. A variant changes the last request (the one reported);
    warm start parents before it run as given."""
    *parents, last = requests
    out: dict[str, list[Trial]] = {}
    for variant in variants:
        runs = [*map(dict, parents), variant.apply(last)]
        out[variant.label] = [Trial.of(simulate(runs, seed), seed) for seed in seeds]
    return out
