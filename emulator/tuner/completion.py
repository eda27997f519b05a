"""TuningJobCompletionCriteria, checked as pure functions of the finished jobs' objective values.

`values` are the final objective values of this tuning job's finished training jobs in the order
they finished (None for a job that failed or never reported the objective). Warm-start parents'
jobs are not included: each criterion speaks about the jobs this tuning job ran.

Definitions the API leaves open:

- **Improvement by 1%**: a job improves the best when it is strictly better than the best of the
  jobs before it by at least `0.01 * |best|` (a best of exactly 0 needs any strict improvement).
  The first job with a value always improves (there was no best). A job without a value never
  improves.
- **NumberOfTrainingJobsObjectiveNotImproving** is the number of jobs that finished since the last
  improvement; it stays 0 until some job has reported a value, so a run of early failures does
  not count as "not improving" a best that does not exist yet.
- **BestObjectiveNotImproving** fires when that number reaches MaxNumberOfTrainingJobsNotImproving.
- **ConvergenceDetected** (AWS: "no job will improve by more than 1%"): ours fires when
  the last `max(10, 3 * d)` finished jobs, `d` the number of tuned hyperparameters, did not
  improve the best by 1% — a plateau long enough that a model of `d` dimensions has had a few
  tries per dimension. A Bayesian strategy could later replace this by an expected-improvement
  test.
- **TargetObjectiveMetricValue** fires when any job's value is at least as good as the target
  (<= when minimizing, >= when maximizing).

When several criteria hold, the first in that order (target, not improving, convergence) is
reported. MaxNumberOfTrainingJobs and MaxRuntimeInSeconds belong to ResourceLimits and are the
caller's to check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from emulator.tuner.model import ObjectiveType

IMPROVEMENT = 0.01
RELATIVE_TOLERANCE = 1e-9
"""So that exactly 1% (10.0 -> 9.9) counts despite binary floating point."""
CONVERGENCE_MIN_WINDOW = 10
CONVERGENCE_JOBS_PER_DIMENSION = 3

TARGET = "TargetObjectiveMetricValue"
NOT_IMPROVING = "BestObjectiveNotImproving"
CONVERGENCE = "ConvergenceDetected"


@dataclass(frozen=True)
class Completion:
    """Which completion criterion ended the tuning job, and a sentence saying why."""

    criterion: str
    """One of TARGET, NOT_IMPROVING, CONVERGENCE (the API's member names)."""
    reason: str


def _strictly_better(a: float, b: float, objective_type: ObjectiveType) -> bool:
    return a < b if objective_type == "Minimize" else a > b


def improves(value: float, best: float | None, objective_type: ObjectiveType) -> bool:
    """True when `value` beats `best` by at least 1% of |best| (anything beats no best)."""
    if best is None:
        return True
    needed = IMPROVEMENT * abs(best) * (1 - RELATIVE_TOLERANCE)
    return _strictly_better(value, best, objective_type) and abs(value - best) >= needed


def jobs_not_improving(values: Sequence[float | None], objective_type: ObjectiveType) -> int:
    """NumberOfTrainingJobsObjectiveNotImproving: jobs finished since the best last improved."""
    best: float | None = None
    count = 0
    for value in values:
        if value is not None and improves(value, best, objective_type):
            count = 0
        elif best is not None:
            count += 1
        if value is not None and (best is None or _strictly_better(value, best, objective_type)):
            best = value
    return count


def convergence_window(num_hyperparameters: int) -> int:
    """How many non-improving jobs in a row count as converged."""
    return max(CONVERGENCE_MIN_WINDOW, CONVERGENCE_JOBS_PER_DIMENSION * num_hyperparameters)


def target_reached(
    values: Sequence[float | None], target: float, objective_type: ObjectiveType
) -> bool:
    """True when some job's value is at least as good as `target`."""
    return any(v is not None and not _strictly_better(target, v, objective_type) for v in values)


def check_completion(
    criteria: Mapping[str, Any] | None,
    values: Sequence[float | None],
    objective_type: ObjectiveType,
    num_hyperparameters: int,
) -> Completion | None:
    """The first of the API's TuningJobCompletionCriteria that holds, or None."""
    criteria = criteria or {}
    target = criteria.get(TARGET)
    if target is not None and target_reached(values, float(target), objective_type):
        return Completion(TARGET, f"a training job reached the target objective value {target}")
    stale = jobs_not_improving(values, objective_type)
    limit = (criteria.get(NOT_IMPROVING) or {}).get("MaxNumberOfTrainingJobsNotImproving")
    if limit is not None and stale >= int(limit):
        return Completion(
            NOT_IMPROVING, f"{stale} training jobs in a row did not improve the best objective"
        )
    enabled = (criteria.get(CONVERGENCE) or {}).get("CompleteOnConvergence") == "Enabled"
    window = convergence_window(num_hyperparameters)
    if enabled and stale >= window:
        return Completion(
            CONVERGENCE, f"the best objective has not improved by 1% in the last {window} jobs"
        )
    return None
