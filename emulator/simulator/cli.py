"""`amt simulate`: what a tuning request would do and cost, in seconds of virtual time.

    amt simulate SPEC.json --curves NAME [--seed S] [--seeds N] [--startup S]
                 [--epoch-seconds S] [--replay nearest|surrogate] [--json] [--csv FILE]
                 [--plot FILE]
    amt simulate SPEC.json --curves NAME --compare [VARIANTS.json] --seeds N [--plot FILE]
    amt simulate --list

SPEC.json is a CreateHyperParameterTuningJob request, or a list of them simulated one after
the other in one engine (warm start children after their parents; the last one is reported).
`--curves synthetic` uses `SyntheticCurves` shaped after the request's objective.
`--compare` runs the request as given and variants of it (another strategy, early stopping
flipped, other parallel jobs and budgets; or those of VARIANTS.json) for every seed, prints
one table and writes a PNG (`simulator.compare`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from emulator.domain.builtin import builtin_metrics
from emulator.domain.documents import (
    definitions_of,
    objective_of,
    ranges_of,
    static_hyperparameters,
)
from emulator.errors import EmulatorError
from emulator.rules.service_rules import check_create_tuning_job
from emulator.rules.validation import validate_input
from emulator.simulator import compare, report
from emulator.simulator.compare_plot import write_compare_plot
from emulator.simulator.curves import (
    SYNTHETIC,
    CurveSet,
    CurveSource,
    NoRecordedCurve,
    RecordedCurves,
    SyntheticCurves,
    available_sets,
    load_set,
)
from emulator.simulator.engine import Engine, SimulationError, SimulationSettings
from emulator.simulator.fidelity import describe, measured
from emulator.tuner.hyperband import EPOCH_KEYS, infer_max_resource
from emulator.tuner.space import SearchSpace

Parser = argparse.ArgumentParser


def add_simulate_parser(sub: argparse._SubParsersAction[Parser]) -> None:
    """Register `simulate` on `amt`'s subcommands."""
    configure(sub.add_parser("simulate", help="run a tuning request in virtual time"))


def configure(parser: Parser) -> None:
    parser.add_argument("spec", nargs="?", type=Path, help="CreateHyperParameterTuningJob JSON")
    parser.add_argument("--curves", default=SYNTHETIC, help="recorded curve set, or synthetic")
    parser.add_argument("--list", action="store_true", help="name the recorded curve sets")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=1, help="runs (seeds S..S+N-1)")
    add_replay_options(parser, startup=0.0)
    parser.add_argument("--json", action="store_true", help="print one JSON summary")
    parser.add_argument("--csv", type=Path, metavar="FILE", help="write the analytics table")
    parser.add_argument("--plot", type=Path, metavar="FILE", help="write a PNG (matplotlib)")
    parser.add_argument(
        "--compare",
        nargs="?",
        const="",
        default=None,
        metavar="VARIANTS.json",
        help="compare the request with variants of it over the seeds: a table and a PNG "
        "(--plot, default SPEC-compare.png); VARIANTS.json: a list of objects with Strategy, "
        "TrainingJobEarlyStoppingType, MaxParallelTrainingJobs, MaxNumberOfTrainingJobs, "
        "Label; without it, the usual alternatives",
    )


def simulate(args: argparse.Namespace) -> int:
    """Run `amt simulate`; the exit status."""
    if args.list:
        print(listing())
        return 0
    if args.spec is None:
        print("amt simulate: a SPEC.json is needed (or --list)", file=sys.stderr)
        return 2
    try:
        if args.plot:
            report.require_matplotlib()
        requests = _requests(json.loads(args.spec.read_text()))
        for request in requests:
            validate_input("CreateHyperParameterTuningJob", request)
        if args.compare is not None:
            return _compare(args, requests)
        runs = [(r, curve_source(args.curves, r, replay=args.replay)) for r in requests]
        outcomes = [_simulate_once(args, runs, args.seed + i) for i in range(args.seeds)]
    except (
        EmulatorError,
        KeyError,
        NoRecordedCurve,
        SimulationError,
        ValueError,
        report.PlotUnavailable,
    ) as error:
        print(f"amt simulate: {_message(error)}", file=sys.stderr)
        return 2
    _emit(args, outcomes)
    _write_files(args, outcomes[0])
    return 0


def _message(error: Exception) -> str:
    return str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)


def _requests(spec: Any) -> list[dict[str, Any]]:
    requests = spec if isinstance(spec, list) else [spec]
    if not requests or not all(isinstance(r, dict) for r in requests):
        raise ValueError("SPEC.json must hold a request object or a list of them")
    return requests


def _compare(args: argparse.Namespace, requests: list[dict[str, Any]]) -> int:
    """`--compare`: every variant for every seed, one table, one PNG."""
    if args.csv:
        raise ValueError("--csv writes one run's jobs; it does not go with --compare")
    if args.compare:
        variants = compare.variants_from(json.loads(Path(args.compare).read_text()))
        for variant in variants:
            _check_variant(variant, requests[-1])
    else:
        variants = [v for v in compare.default_variants(requests[-1]) if _runs(v, requests[-1])]
    report.require_matplotlib()
    # A variant changes neither ranges, statics nor objective: each request keeps its curves.
    sources = [curve_source(args.curves, r, replay=args.replay) for r in requests]

    def simulate_for(runs: list[dict[str, Any]], seed: int) -> report.Outcome:
        return _simulate_once(args, list(zip(runs, sources, strict=True)), seed)

    seeds = [args.seed + i for i in range(args.seeds)]
    rows = compare.summarise(compare.run_variants(requests, variants, seeds, simulate_for))
    objective = requests[-1]["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    if args.json:
        print(json.dumps(compare.to_json(rows), indent=2))
    else:
        print(
            f"{len(seeds)} seeds ({seeds[0]}..{seeds[-1]}): median [min..max]; Δ best, saved "
            f"and jobs to given best paired by seed with the request {compare.AS_GIVEN}"
        )
        print(compare.table(rows))
    plot = args.plot or Path(f"{args.spec.stem}-compare.png")
    title = f"{requests[-1]['HyperParameterTuningJobName']} on {args.curves}, {len(seeds)} seeds"
    write_compare_plot(rows, plot, objective["MetricName"], title)
    print(f"wrote {plot}", file=sys.stderr)
    return 0


def _check_variant(variant: compare.Variant, request: dict[str, Any]) -> None:
    """Refuse a variant the service would refuse (before any simulation runs). Warm start
    parents are simulated first, so their rules are checked when the child starts."""
    changed = variant.apply(request)
    validate_input("CreateHyperParameterTuningJob", changed)
    changed.pop("WarmStartConfig", None)
    try:
        check_create_tuning_job(changed, lookup_tuning_job=_none, builtin_metrics=builtin_metrics)
    except EmulatorError as error:
        raise ValueError(f"variant {variant.label!r}: {error}") from error


def _none(name: str) -> None:
    return None


def _runs(variant: compare.Variant, request: dict[str, Any]) -> bool:
    """Whether a default variant can run this request (Hyperband needs an epoch count, for
    one); a note on stderr for one that cannot."""
    try:
        _check_variant(variant, request)
    except ValueError as error:
        print(f"amt simulate: note: left out {error}", file=sys.stderr)
        return False
    return True


def _simulate_once(
    args: argparse.Namespace, runs: list[tuple[dict[str, Any], CurveSource]], seed: int
) -> report.Outcome:
    """One engine, the requests one after the other (parents before warm start children)."""
    settings = SimulationSettings(
        startup_seconds=args.startup,
        stop_seconds=args.stop_delay,
        epoch_seconds=args.epoch_seconds,
        seed=seed,
    )
    engine = Engine(settings, builtin_metrics=builtin_metrics)

    async def run_all() -> report.Outcome:
        outcome = None
        for request, curves in runs:
            outcome = await engine.run(request, curves)
        assert outcome is not None
        return outcome

    try:
        return asyncio.run(run_all())
    finally:
        engine.store.close()


REPLAYS = ("nearest", "surrogate")
REPLAY_HELP = (
    "recorded curves: the nearest recorded run's, or surrogate final values (a GP fitted to "
    "the recorded runs) on recorded curve shapes"
)
EPOCH_SECONDS_HELP = (
    "each job's epochs average SECONDS, in their recorded proportions (the first epoch's "
    "program start-up left out); default: the recorded times"
)


def positive_seconds(text: str) -> float:
    """An argparse type: a number of seconds above zero."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def add_replay_options(parser: argparse.ArgumentParser, *, startup: float) -> None:
    """`--startup`, `--epoch-seconds`, `--stop-delay` and `--replay`: how simulated jobs are
    timed and drawn (the same options wherever a simulation is run from the command line;
    `amt serve --simulate` takes all but `--stop-delay`, with the same help)."""
    parser.add_argument(
        "--startup",
        type=float,
        default=startup,
        metavar="SECONDS",
        help="per-job start-up overhead: ~120 cold SageMaker, ~20 warm pool, 0 local",
    )
    parser.add_argument(
        "--epoch-seconds",
        type=positive_seconds,
        default=None,
        metavar="SECONDS",
        help=EPOCH_SECONDS_HELP,
    )
    parser.add_argument("--stop-delay", type=float, default=5.0, metavar="SECONDS")
    parser.add_argument("--replay", choices=REPLAYS, default="nearest", help=REPLAY_HELP)


def curve_source(
    name: str, request: dict[str, Any], *, exact: bool = False, replay: str = "nearest"
) -> CurveSource:
    """The curves for one request: a recorded set bound to its space, or synthetic ones."""
    definition = definitions_of(request)[0]
    ranges = ranges_of(request, definition)
    static = static_hyperparameters(definition)
    objective = objective_of(request, definition)
    if name == SYNTHETIC:
        return SyntheticCurves(
            metric=objective.get("MetricName", "validation:accuracy"),
            objective_type="Minimize" if objective.get("Type") == "Minimize" else "Maximize",
            epochs=infer_max_resource(static) or 10,
            ignored=frozenset(EPOCH_KEYS),
        )
    space = SearchSpace.from_parameter_ranges(ranges)
    source = RecordedCurves(load_set(name), space, static, exact=exact)
    if source.differing_static:
        print(
            f"amt simulate: note: no run of {name} was recorded with the request's "
            f"{', '.join(source.differing_static)}; their curves are replayed anyway",
            file=sys.stderr,
        )
    if replay == "surrogate" and not exact:
        from emulator.simulator.surrogate import SurrogateCurves  # noqa: PLC0415 - scikit-learn and scipy.stats cost ~1 s to import: `amt serve` parses these options too

        return SurrogateCurves(source, objective.get("MetricName", ""))
    return source


def listing() -> str:
    """One line per recorded curve set: runs, hyperparameters, metrics, replay fidelity."""
    lines = [f"{SYNTHETIC}\tany hyperparameters (a smooth function of them, with noise)"]
    for name in available_sets():
        curve_set = load_set(name)
        lines.append(
            f"{name}\t{len(curve_set.runs)} runs\t"
            f"hyperparameters: {', '.join(curve_set.hyperparameters)}\t"
            f"metrics: {', '.join(curve_set.metrics)}\t{_fidelity(curve_set)}"
        )
    return "\n".join(lines)


def _fidelity(curve_set: CurveSet) -> str:
    """The set's replay error, as `amt curves list` shows it: stored with the set when it was
    measured on these runs (the bundled sets and every import), else measured now."""
    try:
        return f"replay error: {describe(measured(curve_set))}"
    except (NoRecordedCurve, ValueError, KeyError) as error:
        return f"replay error unknown ({error})"


def _emit(args: argparse.Namespace, outcomes: list[report.Outcome]) -> None:
    if len(outcomes) == 1:
        only = outcomes[0]
        print(json.dumps(only.to_json(), indent=2) if args.json else report.console(only))
        return
    seeds = [args.seed + i for i in range(len(outcomes))]
    result = report.aggregate(outcomes, seeds)
    print(json.dumps(result, indent=2) if args.json else report.console_aggregate(result))


def _write_files(args: argparse.Namespace, outcome: report.Outcome) -> None:
    """Tables and plots are of the first seed's run."""
    if args.csv:
        report.write_csv(outcome, args.csv)
    if args.plot:
        report.write_plot(outcome, args.plot)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="amt simulate", description=__doc__)
    configure(parser)
    return simulate(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
