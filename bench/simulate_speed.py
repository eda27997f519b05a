"""How fast the simulator runs a big tuning job: 500 jobs of 50 epochs, early stopping Auto.

    python bench/simulate_speed.py [--jobs 500] [--epochs 50] [--parallel 10] [--profile]

Targets (issue 5, on the 2-core development machine): Bayesian under 60 s, Random under 10 s.
Prints, per strategy, the wall-clock and CPU seconds (CPU time is the steadier figure on a
shared machine), the virtual time simulated and its ratio to wall-clock time, how many jobs
early stopping ended, and the best objective. Curves are synthetic (60 s per epoch), so the numbers
measure the tuner, store and engine, not a data file.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emulator.clock import SystemClock  # noqa: E402
from emulator.simulator.curves import SyntheticCurves  # noqa: E402
from emulator.simulator.engine import Engine, SimulationSettings  # noqa: E402
from emulator.simulator.report import Outcome  # noqa: E402
from tests.requests import tuning_request  # noqa: E402

TARGETS = {"Bayesian": 60.0, "Random": 10.0}


def request(strategy: str, jobs: int, epochs: int, parallel: int) -> dict[str, Any]:
    return tuning_request(
        f"speed-{strategy.lower()}",
        HyperParameterTuningJobConfig={
            "Strategy": strategy,
            "RandomSeed": 1,
            "TrainingJobEarlyStoppingType": "Auto",
            "ResourceLimits": {
                "MaxNumberOfTrainingJobs": jobs,
                "MaxParallelTrainingJobs": parallel,
            },
        },
        TrainingJobDefinition={"StaticHyperParameters": {"epochs": str(epochs)}},
    )


def simulate(strategy: str, args: argparse.Namespace) -> tuple[Outcome, float, float]:
    """The outcome, wall-clock seconds and CPU seconds of one simulation."""
    curves = SyntheticCurves(epochs=args.epochs, ignored=frozenset({"epochs"}))
    engine = Engine(SimulationSettings(startup_seconds=120, seed=1))
    clock = SystemClock()
    started, cpu = clock.monotonic(), time.process_time()
    outcome = asyncio.run(
        engine.run(request(strategy, args.jobs, args.epochs, args.parallel), curves)
    )
    return outcome, clock.monotonic() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--parallel", type=int, default=10)
    parser.add_argument("--strategies", nargs="+", default=["Random", "Bayesian"])
    parser.add_argument("--profile", action="store_true", help="print the top 25 functions")
    args = parser.parse_args()
    print(f"{args.jobs} jobs x {args.epochs} epochs, {args.parallel} parallel, early stopping Auto")
    print(
        f"{'strategy':<10}{'wall s':>8}{'cpu s':>8}{'target':>8}{'':>6}"
        f"{'virtual h':>11}{'ratio':>9}{'stopped':>9}{'best':>9}"
    )
    for strategy in args.strategies:
        profiler = cProfile.Profile() if args.profile else None
        if profiler:
            profiler.enable()
        outcome, seconds, cpu = simulate(strategy, args)
        if profiler:
            profiler.disable()
        target = TARGETS.get(strategy, float("inf"))
        print(
            f"{strategy:<10}{seconds:>8.1f}{cpu:>8.1f}{target:>8.0f}"
            f"{'ok' if seconds < target else 'SLOW':>6}{outcome.wall_seconds / 3600:>11.1f}"
            f"{outcome.wall_seconds / seconds:>8.0f}x{outcome.early_stopped_jobs:>9}"
            f"{outcome.best_objective or float('nan'):>9.4f}"
        )
        if profiler:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
