"""The seeds' tuning experiments, replayed by the simulator on recorded learning curves.

    python bench/seed_experiments.py             # 10 seeds (a few minutes on 2 cores)
    python bench/seed_experiments.py --quick     # 2 seeds: a smoke run of the whole pipeline
    python bench/seed_experiments.py --startup 20 --workers 2 --curves NAME

Every run is `Engine.run` on a CreateHyperParameterTuningJob request for the built-in
image-classification algorithm, its curves replayed from the recorded set (nearest recorded
neighbour, `emulator.simulator.curves`; or, with `--replay surrogate`, final values from a
Gaussian process fitted to the recorded runs on recorded curve shapes,
`emulator.simulator.surrogate`). The search space is the one the curves were recorded
over (learning_rate, mini_batch_size, optimizer, momentum, weight_decay; the manifest's ranges)
rather than each seed's own ranges: the seeds trained ResNets on Caltech-256 and CIFAR-10, the
recording a small CNN on the 8x8 digits, and searching beyond the recording would replay the
edge runs over and over. Statics are the recording's (12 epochs). Experiments:

  (a)  seed 001, early stopping: Bayesian, 20 jobs, 2 parallel, Off vs Auto; on the same runs,
       Optuna's MedianPruner and ASHA (SuccessiveHalvingPruner, reduction factor 3) take
       Auto's place as the stopping rule (`bench/pruners.py`: our tuner proposes the
       configurations, Optuna only decides stops). Epochs average the seed's time
       (SEED_EPOCH_SECONDS: its 2 h 48 min over 20 jobs of 10 epochs; the simulator's
       `--epoch-seconds`, `emulator.simulator.pacing`), the metric values are the recorded
       ones: the seed's experiment on our curves. The issue's target is judged here.
  (a-rec) the same at the recorded epoch times: the recorded jobs last about 6 s, their first
       epoch (imports, data loading) most of it, so no stopping rule can save much, and every
       stop costs --stop-delay. The seed says as much: early stopping pays once jobs last
       longer than about 4 minutes
  (b)  seed 004: Random, 120 jobs, 8 parallel vs Bayesian, 30 jobs, 2 parallel (and Random
       with Bayesian's 30 jobs, for the same budget)
  (c)  seed 003, warm start: a Bayesian 10-job parent, then a 10-job IdenticalDataAndAlgorithm
       child, against 20 cold Bayesian jobs (the best of parent and child together: the same
       20 jobs' worth of training)
  (d)  early stopping against Hyperband with the same job budget (20 jobs, 2 parallel), paced
       as (a). Hyperband proposes at random, so Random with Off and Auto stand beside it;
       (d-rec) at the recorded times

The seeds' claims in (b) and (c) are printed as REPRODUCED or NOT REPRODUCED: they are what the
seeds saw on their own problems, not targets the curves must meet.

Each variant runs for seeds 0..N-1: the seed is the request's RandomSeed (so the variants of
one experiment share their first configurations) and the simulation's. Per seed, a variant is
compared with its experiment's baseline (the first row): "saved" is 1 - its billable training
time / the baseline's, "lost" is the baseline's best objective minus its own (accuracy as a
fraction: 0.003 is 0.3 points). The table shows medians over seeds of those paired numbers and
of the raw ones. Start-up overhead (`--startup`, default 120 s: a cold SageMaker instance) is
time before a job is billed; it lengthens the wall clock and changes which peers a stopping
rule has seen, not billable time. Stopping takes `--stop-delay` seconds (billed).

Curves: the final recorded set when present, else the recording's partial CSV (the runs so
far), else synthetic curves with a loud note. The header says which.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `emulator`, `bench`, `fixtures` importable
    sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import csv  # noqa: E402
import statistics  # noqa: E402
from collections.abc import Mapping, Sequence  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402
from functools import cache  # noqa: E402
from typing import Any  # noqa: E402

from bench.pruners import OptunaPrunedTuner  # noqa: E402
from emulator.clock import SystemClock  # noqa: E402
from emulator.domain.builtin import builtin_metrics  # noqa: E402
from emulator.domain.documents import DEFAULT_MAX_RUNTIME  # noqa: E402
from emulator.simulator.cli import add_replay_options  # noqa: E402
from emulator.simulator.compare import Trial, summarise  # noqa: E402
from emulator.simulator.compare import Variant as Change  # noqa: E402
from emulator.simulator.curves import (  # noqa: E402
    CURVES_DIR,
    CurveSet,
    CurveSource,
    RecordedCurves,
    SyntheticCurves,
    available_sets,
    load_set,
    parse_runs,
)
from emulator.simulator.engine import Engine, SimulationSettings  # noqa: E402
from emulator.simulator.report import Outcome  # noqa: E402
from emulator.simulator.surrogate import SurrogateCurves  # noqa: E402
from emulator.tuner.hyperband import EPOCH_KEYS  # noqa: E402
from emulator.tuner.space import SearchSpace  # noqa: E402

CURVES = "image-classification-cpu"
FIXTURE = "image-classification"
METRIC = "validation:accuracy"
SEED_EPOCH_SECONDS = (2 * 3600 + 48 * 60) / 20 / 10
"""Seed 001: 2 h 48 min of training for 20 jobs of 10 epochs, about 50 s an epoch."""
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
NAME = "seed-experiment"
TARGET_SAVED = 0.30
TARGET_LOST = 0.003
"""Accuracy as a fraction: 0.003 is 0.3 points."""


# --- curves ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Curves:
    """The manifest (static hyperparameters, search space) and, when recorded, the runs."""

    manifest: dict[str, Any]
    curve_set: CurveSet | None
    description: str


def recorder_manifest(fixture: str) -> dict[str, Any]:
    """What the recorder's manifest will say of `fixture`, for a recording still in progress."""
    from fixtures.record_curves import CURVE_SETS

    spec = CURVE_SETS[fixture]
    return {
        "image": spec.image,
        "static_hyperparameters": dict(spec.static),
        "search_space": [asdict(p) for p in spec.space],
        "epoch_metric": spec.epoch_metric,
    }


@cache
def load_curves(name: str, fixture: str = FIXTURE) -> Curves:
    """The final recorded set, else the partial recording, else nothing (synthetic)."""
    if name in available_sets():
        curve_set = load_set(name)
        manifest = {**recorder_manifest(fixture), **curve_set.manifest}
        return Curves(manifest, curve_set, f"recorded set {name} (final, {_count(curve_set)})")
    manifest = recorder_manifest(fixture)
    partial = CURVES_DIR / f"{name}.partial.csv"
    if partial.exists():
        with partial.open(newline="") as fh:
            rows = [r for r in csv.DictReader(fh) if None not in r.values()]
        curve_set = CurveSet(name, manifest, tuple(parse_runs(rows, manifest)))
        return Curves(
            manifest,
            curve_set,
            f"PARTIAL recording {partial.relative_to(ROOT)} ({_count(curve_set)} so far; "
            "the final set was not written yet)",
        )
    return Curves(
        manifest,
        None,
        f"!!! NO RECORDED CURVES ({name} has neither a final set nor a partial CSV): "
        "SYNTHETIC curves, numbers say nothing about real training !!!",
    )


def _count(curve_set: CurveSet) -> str:
    return f"{len(curve_set.runs)} runs"


def timing_note(curves: Curves) -> str:
    """How long the recorded runs took, and how much of it their first epoch: what a stopping
    rule can save at most."""
    if curves.curve_set is None:
        return "synthetic curves: 60 s per epoch"
    runs = [r.curve for r in curves.curve_set.runs if r.curve.epoch_seconds]
    seconds = [c.epoch_seconds for c in runs]
    finals = [v[-1] for c in runs if (v := c.epoch_values.get(METRIC))]
    return (
        f"recorded runs: median {statistics.median(sum(s) for s in seconds):.1f} s per job of "
        f"{statistics.median(len(s) for s in seconds):.0f} epochs, the first epoch (with the "
        f"program's start-up) {statistics.median(s[0] / sum(s) for s in seconds):.0%} of it; "
        f"best final {METRIC} recorded {max(finals):.4f} (no replay can beat it)"
    )


def parameter_ranges(manifest: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The API's ParameterRanges for the search space a curve set was recorded over."""
    ranges: dict[str, list[dict[str, Any]]] = {
        "ContinuousParameterRanges": [],
        "IntegerParameterRanges": [],
        "CategoricalParameterRanges": [],
    }
    for p in manifest["search_space"]:
        if p["kind"] == "categorical":
            ranges["CategoricalParameterRanges"].append(
                {"Name": p["name"], "Values": list(p["values"])}
            )
            continue
        kind = "IntegerParameterRanges" if p["kind"] == "integer" else "ContinuousParameterRanges"
        low, high = (
            (int(p["low"]), int(p["high"])) if p["kind"] == "integer" else (p["low"], p["high"])
        )
        ranges[kind].append(
            {
                "Name": p["name"],
                "MinValue": str(low),
                "MaxValue": str(high),
                "ScalingType": "Logarithmic" if p["scale"] == "log" else "Linear",
            }
        )
    return ranges


def curve_source(curves: Curves, replay: str = "nearest") -> CurveSource:
    """The replay source of the experiments' requests (all share one space and statics)."""
    manifest = curves.manifest
    static = manifest["static_hyperparameters"]
    source: CurveSource
    if curves.curve_set is None:
        source = SyntheticCurves(
            metric=METRIC, epochs=int(static["epochs"]), ignored=frozenset(EPOCH_KEYS)
        )
    else:
        space = SearchSpace.from_parameter_ranges(parameter_ranges(manifest))
        source = RecordedCurves(curves.curve_set, space, static)
        if replay == "surrogate":
            source = SurrogateCurves(source, METRIC)
    return source


# --- variants and runs ------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One tuning configuration of an experiment."""

    label: str
    strategy: str
    jobs: int
    parallel: int
    early_stopping: str = "Off"
    pruner: str | None = None
    """An Optuna pruner (`bench.pruners.PRUNERS`) decides stops instead of ours."""
    parent_jobs: int = 0
    """Warm start: a tuning job of this many jobs runs first, then this one as its
    IdenticalDataAndAlgorithm child."""
    paced: bool = False
    """Epochs average SEED_EPOCH_SECONDS (`SimulationSettings.epoch_seconds`) instead of
    their recorded times (else `--epoch-seconds`, when given)."""

    @property
    def key(self) -> tuple[Any, ...]:
        """What the simulation depends on (the label does not): equal keys run once."""
        return (
            self.strategy,
            self.jobs,
            self.parallel,
            self.early_stopping,
            self.pruner,
            self.parent_jobs,
            self.paced,
        )

    @property
    def shape(self) -> str:
        own = f"{self.jobs}/{self.parallel}"
        return f"{self.parent_jobs}+{own}" if self.parent_jobs else own


@dataclass(frozen=True)
class Result:
    """What one variant did for one seed: `amt simulate --compare`'s `Trial` of it (parent and
    child together for a warm start), and the warm start's parent and child bests."""

    trial: Trial
    parent_best: float | None = None
    child_best: float | None = None


@dataclass(frozen=True)
class Settings:
    curves: str
    startup: float
    stop_delay: float
    replay: str = "nearest"
    epoch_seconds: float | None = None
    """The unpaced variants' epochs (`--epoch-seconds`); None: as recorded."""


def request(
    variant: Variant, curves: Curves, seed: int, name: str, jobs: int, parent: str | None = None
) -> dict[str, Any]:
    """A CreateHyperParameterTuningJob request for the built-in image-classification algorithm."""
    manifest = curves.manifest
    config: dict[str, Any] = {
        "Strategy": "Bayesian",
        "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": METRIC},
        "ParameterRanges": parameter_ranges(manifest),
        "RandomSeed": seed,
    }
    out: dict[str, Any] = {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": config,
        "TrainingJobDefinition": {
            "StaticHyperParameters": dict(manifest["static_hyperparameters"]),
            "AlgorithmSpecification": {
                "TrainingImage": manifest["image"],
                "TrainingInputMode": "File",
            },
            "RoleArn": ROLE,
            "OutputDataConfig": {"S3OutputPath": "s3://seed-experiments/output"},
            "ResourceConfig": {
                "InstanceType": "ml.p3.2xlarge",
                "InstanceCount": 1,
                "VolumeSizeInGB": 30,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": DEFAULT_MAX_RUNTIME},
        },
    }
    if parent:
        out["WarmStartConfig"] = {
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": parent}],
            "WarmStartType": "IdenticalDataAndAlgorithm",
        }
    change = Change(
        variant.label,
        strategy=variant.strategy,
        early_stopping=variant.early_stopping,
        parallel=variant.parallel,
        jobs=jobs,
    )
    return change.apply(out)


def requests_of(variant: Variant, curves: Curves, seed: int) -> list[dict[str, Any]]:
    """The requests one variant runs, in order. The parent of a warm start has the name and
    seed of a cold run, so it proposes what a cold run's first jobs would; the child its own."""
    if not variant.parent_jobs:
        return [request(variant, curves, seed, NAME, variant.jobs)]
    return [
        request(variant, curves, seed, NAME, variant.parent_jobs),
        request(variant, curves, 1_000_000 + seed, f"{NAME}-child", variant.jobs, parent=NAME),
    ]


def run_variant(variant: Variant, seed: int, settings: Settings) -> Result:
    """Simulate one variant for one seed (in a worker process: picklable in and out)."""
    curves = load_curves(settings.curves)
    source = curve_source(curves, settings.replay)
    simulation = SimulationSettings(
        startup_seconds=settings.startup,
        stop_seconds=settings.stop_delay,
        epoch_seconds=SEED_EPOCH_SECONDS if variant.paced else settings.epoch_seconds,
        seed=seed,
    )
    engine = Engine(simulation, builtin_metrics=builtin_metrics)
    if variant.pruner:
        engine.lifecycle.tuner = OptunaPrunedTuner(
            engine.store, engine.records, engine.clock, variant.pruner
        )

    async def run_all() -> list[Outcome]:
        return [await engine.run(r, source) for r in requests_of(variant, curves, seed)]

    try:
        outcomes = asyncio.run(run_all())
    finally:
        engine.store.close()
    trials = [Trial.of(o, seed) for o in outcomes]
    bests = [t.best for t in trials if t.best is not None]
    trial = Trial(
        seed=seed,
        best=max(bests) if bests else None,
        billable_seconds=sum(t.billable_seconds for t in trials),
        wall_seconds=sum(t.wall_seconds for t in trials),
        early_stopped=sum(t.early_stopped for t in trials),
        finals=tuple(f for t in trials for f in t.finals),
    )
    return Result(
        trial,
        parent_best=trials[0].best if len(trials) > 1 else None,
        child_best=trials[-1].best if len(trials) > 1 else None,
    )


# --- experiments ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Experiment:
    """Variants compared with the first (the baseline), and what the seed reported."""

    key: str
    title: str
    variants: tuple[Variant, ...]
    seed_reported: dict[str, str] = field(default_factory=dict)
    """Variant label -> what the seed reported for it."""


def early_stopping_variants(paced: bool) -> tuple[Variant, ...]:
    return (
        Variant("Off", "Bayesian", 20, 2, paced=paced),
        Variant("Auto", "Bayesian", 20, 2, "Auto", paced=paced),
        Variant("Optuna median", "Bayesian", 20, 2, pruner="median", paced=paced),
        Variant("Optuna ASHA rf3", "Bayesian", 20, 2, pruner="asha", paced=paced),
    )


def hyperband_variants(paced: bool) -> tuple[Variant, ...]:
    return (
        Variant("Random Off", "Random", 20, 2, paced=paced),
        Variant("Random Auto", "Random", 20, 2, "Auto", paced=paced),
        Variant("Hyperband", "Hyperband", 20, 2, paced=paced),
        Variant("Bayesian Auto", "Bayesian", 20, 2, "Auto", paced=paced),
    )


EXPERIMENTS = (
    Experiment(
        "a",
        f"early stopping (seed 001), epochs paced at the seed's {SEED_EPOCH_SECONDS:.0f} s",
        early_stopping_variants(paced=True),
        {"Off": "best 0.356", "Auto": "23% saved, best 0.353"},
    ),
    Experiment(
        "a-rec",
        "(a) at the recorded epoch times (6-s jobs)",
        early_stopping_variants(paced=False),
        {"Off": "best 0.356", "Auto": "23% saved, best 0.353"},
    ),
    Experiment(
        "b",
        "Random vs Bayesian (seed 004)",
        (
            Variant("Random", "Random", 120, 8),
            Variant("Bayesian", "Bayesian", 30, 2),
            Variant("Random 30", "Random", 30, 2),
        ),
        {"Random": "best 0.737", "Bayesian": "best 0.74 (better, 1/4 jobs)"},
    ),
    Experiment(
        "c",
        "warm start (seed 003)",
        (
            Variant("cold 20", "Bayesian", 20, 2),
            Variant("parent+child", "Bayesian", 10, 2, parent_jobs=10),
        ),
        {"parent+child": "parent 0.33, child 0.47"},
    ),
    Experiment(
        "d",
        f"early stopping vs Hyperband, 20 jobs, epochs paced at {SEED_EPOCH_SECONDS:.0f} s",
        hyperband_variants(paced=True),
    ),
    Experiment("d-rec", "(d) at the recorded epoch times", hyperband_variants(paced=False)),
)


# --- statistics and the table -----------------------------------------------------------------


def median(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return statistics.median(kept) if kept else None


@dataclass(frozen=True)
class Line:
    """One row of the table: medians over seeds."""

    experiment: str
    variant: Variant
    best: float | None
    lost: float | None
    saved: float | None
    training_minutes: float
    wall_minutes: float
    stopped: float
    seed_reported: str
    parent_best: float | None
    child_best: float | None


def lines_of(
    experiment: Experiment, results: Mapping[tuple[Any, ...], Sequence[Result]]
) -> list[Line]:
    """The experiment's rows: `amt simulate --compare`'s, paired with its first variant."""
    variants = experiment.variants
    rows = summarise(
        {v.label: [r.trial for r in results[v.key]] for v in variants}, given=variants[0].label
    )
    out = []
    for v, row in zip(variants, rows, strict=True):
        rs = results[v.key]
        first = v is variants[0]
        out.append(
            Line(
                experiment=experiment.key,
                variant=v,
                best=row.best.median if row.best else None,
                lost=None if first or row.gain is None else -row.gain,
                saved=None if first else row.saved,
                training_minutes=row.billable_seconds.median / 60 if row.billable_seconds else 0,
                wall_minutes=row.wall_seconds.median / 60 if row.wall_seconds else 0,
                stopped=row.early_stopped,
                seed_reported=experiment.seed_reported.get(v.label, ""),
                parent_best=median([r.parent_best for r in rs]),
                child_best=median([r.child_best for r in rs]),
            )
        )
    return out


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def table(lines: Sequence[Line]) -> str:
    header = (
        f"{'exp':<6} {'variant':<16} {'strategy':<10} {'jobs/par':>9} {'best':>7} {'lost':>8} "
        f"{'train min':>10} {'saved':>7} {'wall min':>9} {'stopped':>8}  seed reported"
    )
    rows = [header, "-" * len(header)]
    previous = None
    for line in lines:
        if previous is not None and line.experiment != previous:
            rows.append("")
        previous = line.experiment
        v = line.variant
        rows.append(
            f"{line.experiment:<6} {v.label:<16} {v.strategy:<10} {v.shape:>9} "
            f"{_num(line.best, '.4f'):>7} {_num(line.lost, '+.4f'):>8} "
            f"{line.training_minutes:>10.1f} {_pct(line.saved):>7} "
            f"{line.wall_minutes:>9.1f} {line.stopped:>8.1f}  {line.seed_reported}"
        )
    return "\n".join(rows)


def verdict(ok: bool | None) -> str:
    return "n/a " if ok is None else ("PASS" if ok else "FAIL")


def find(lines: Sequence[Line], experiment: str, label: str) -> Line:
    return next(x for x in lines if x.experiment == experiment and x.variant.label == label)


def claim(ok: bool | None) -> str:
    """A seed's claim, which the curves may or may not bear out (not a target of ours)."""
    return "n/a         " if ok is None else ("REPRODUCED  " if ok else "NOT REPRODUCED")


def checks(lines: Sequence[Line]) -> list[str]:
    """The issue's target for (a), PASS/FAIL; the seeds' claims for (b) and (c), reproduced or
    not; (a-rec) and (d) for information."""
    auto = find(lines, "a", "Auto")
    ok = None
    if auto.saved is not None and auto.lost is not None:
        ok = auto.saved >= TARGET_SAVED and auto.lost < TARGET_LOST
    out = [
        f"{verdict(ok)}  (a) Auto saves >= {TARGET_SAVED:.0%} of training time at < "
        f"{TARGET_LOST} accuracy lost: saved {_pct(auto.saved)}, lost {_num(auto.lost, '+.4f')}"
    ]
    short = find(lines, "a-rec", "Auto")
    out.append(
        f"info  (a-rec) on the recorded 6-s jobs Auto saves {_pct(short.saved)} (lost "
        f"{_num(short.lost, '+.4f')}): the first epoch, with the program's start-up, is most of "
        "a job, and a stop costs --stop-delay; the seed: early stopping pays once jobs last "
        "over about 4 minutes"
    )
    random_, bayes = find(lines, "b", "Random"), find(lines, "b", "Bayesian")
    ok = None if random_.best is None or bayes.best is None else bayes.best >= random_.best
    out.append(
        f"{claim(ok)}  (b) Bayesian 30/2 at least as good as Random 120/8 (seed 004): "
        f"{_num(bayes.best, '.4f')} vs {_num(random_.best, '.4f')}"
    )
    warm, cold = find(lines, "c", "parent+child"), find(lines, "c", "cold 20")
    ok = (
        None
        if warm.child_best is None or warm.parent_best is None
        else warm.child_best > warm.parent_best
    )
    out.append(
        f"{claim(ok)}  (c) the warm-started child improves on its parent (seed 003): child "
        f"{_num(warm.child_best, '.4f')} vs parent {_num(warm.parent_best, '.4f')}"
    )
    out.append(
        f"info  (c) parent+child (10+10) against 20 cold jobs: "
        f"{_num(warm.best, '.4f')} vs {_num(cold.best, '.4f')}"
    )
    for exp in ("d", "d-rec"):
        auto, hyperband = find(lines, exp, "Random Auto"), find(lines, exp, "Hyperband")
        out.append(
            f"info  ({exp}) vs Random Off: Auto saves {_pct(auto.saved)} "
            f"losing {_num(auto.lost, '+.4f')}; Hyperband saves "
            f"{_pct(hyperband.saved)} losing {_num(hyperband.lost, '+.4f')}"
        )
    return out


# --- main ---------------------------------------------------------------------------------------


def unique_variants(experiments: Sequence[Experiment]) -> list[Variant]:
    seen: dict[tuple[Any, ...], Variant] = {}
    for e in experiments:
        for v in e.variants:
            seen.setdefault(v.key, v)
    return list(seen.values())


def run_all(
    variants: Sequence[Variant], seeds: Sequence[int], settings: Settings, workers: int
) -> dict[tuple[Any, ...], list[Result]]:
    """Every variant for every seed (results in seed order)."""
    tasks = [(v, s) for v in variants for s in seeds]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            futures = [pool.submit(run_variant, v, s, settings) for v, s in tasks]
            results = [f.result() for f in futures]
    else:
        results = [run_variant(v, s, settings) for v, s in tasks]
    out: dict[tuple[Any, ...], list[Result]] = {}
    for (v, _s), r in zip(tasks, results, strict=True):
        out.setdefault(v.key, []).append(r)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--curves", default=CURVES, help="recorded curve set (image-classification)"
    )
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="2 seeds: a smoke run")
    add_replay_options(parser, startup=120.0)
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    args = parser.parse_args(argv)
    seeds = list(range(2 if args.quick else args.seeds))
    settings = Settings(args.curves, args.startup, args.stop_delay, args.replay, args.epoch_seconds)
    curves = load_curves(args.curves)
    print(f"curves: {curves.description}")
    print(timing_note(curves))
    if curves.curve_set is None:
        print(curves.description, file=sys.stderr)
    print(
        f"start-up overhead {args.startup:g} s per job (--startup; 120 = cold SageMaker instance), "
        f"stop delay {args.stop_delay:g} s; replay {args.replay}; objective {METRIC} as a "
        "fraction (0.003 = 0.3 points); "
        f"{len(seeds)} seeds; medians over seeds; 'lost' and 'saved' paired by seed against "
        "each experiment's first row"
    )
    clock = SystemClock()
    started = clock.monotonic()
    results = run_all(unique_variants(EXPERIMENTS), seeds, settings, args.workers)
    lines = [line for e in EXPERIMENTS for line in lines_of(e, results)]
    print()
    print(table(lines))
    print()
    print("\n".join(checks(lines)))
    print(f"\n{clock.monotonic() - started:.0f} s wall clock, {args.workers} worker(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
