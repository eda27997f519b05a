"""What a simulated tuning job did, read back from the store, and the ways to show it.

`outcome_of` reads the tuning job and its training jobs exactly as Describe and
ListTrainingJobsForHyperParameterTuningJob would; `console` prints it the way the SageMaker
console summarises a tuning job; `write_csv` writes the analytics table (the columns of the
SDK's `HyperparameterTuningJobAnalytics.dataframe()`); `write_plot` draws objective against
time (needs matplotlib); `aggregate` gives the median and spread over several seeds.
"""

from __future__ import annotations

import csv
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from emulator.domain import summary
from emulator.domain.jobs import TrainingJob
from emulator.store.sqlite import Store

NUMBERS = ("best_objective", "total_training_seconds", "wall_seconds", "stopped_jobs")


@dataclass(frozen=True)
class JobOutcome:
    name: str
    hyperparameters: dict[str, str]
    status: str
    final_objective: float | None
    epochs: int
    training_seconds: int
    early_stopped: bool
    start: float | None
    end: float | None


@dataclass(frozen=True)
class Outcome:
    name: str
    status: str
    objective_metric: str
    objective_type: str
    best_objective: float | None
    best_job: str | None
    total_training_seconds: int
    """Sum of the training jobs' BillableTimeInSeconds."""
    wall_seconds: float
    """Virtual seconds from the tuning job's creation to its end."""
    status_counters: dict[str, int]
    objective_counters: dict[str, int]
    stopped_jobs: int
    """Training jobs that ended Stopped (early stopping, Hyperband, or the tuning job ending)."""
    early_stopped_jobs: int
    """Of those, the ones early stopping or Hyperband stopped."""
    completion_reason: str | None
    jobs: list[JobOutcome]
    failure_reason: str | None = None
    """Why the tuning job ended Failed (e.g. no training job succeeded in 5 attempts)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def outcome_of(store: Store, name: str) -> Outcome:
    """The outcome of a finished (or running) tuning job in `store`."""
    row = store.get_tuning_job(name)
    if row is None:
        raise KeyError(name)
    doc = row.doc
    objective = doc["HyperParameterTuningJobConfig"].get("HyperParameterTuningJobObjective") or {}
    metric = objective.get("MetricName", "")
    jobs = [_job(store, child, metric) for child in store.children(name)]
    best = doc.get("BestTrainingJob") or {}
    end = doc.get("HyperParameterTuningEndTime", doc["LastModifiedTime"])
    return Outcome(
        name=name,
        status=doc["HyperParameterTuningJobStatus"],
        objective_metric=metric,
        objective_type=objective.get("Type", ""),
        best_objective=(best.get("FinalHyperParameterTuningJobObjectiveMetric") or {}).get("Value"),
        best_job=best.get("TrainingJobName"),
        total_training_seconds=sum(j.training_seconds for j in jobs),
        wall_seconds=float(end - doc["CreationTime"]),
        status_counters=dict(doc["TrainingJobStatusCounters"]),
        objective_counters=dict(doc["ObjectiveStatusCounters"]),
        stopped_jobs=sum(j.status == "Stopped" for j in jobs),
        early_stopped_jobs=sum(j.early_stopped for j in jobs),
        completion_reason=row.completion_reason,
        jobs=jobs,
        failure_reason=doc.get("FailureReason"),
    )


def _job(store: Store, child: TrainingJob, metric: str) -> JobOutcome:
    doc = child.doc
    final = child.objective_value if summary.objective_status(child) == "Succeeded" else None
    return JobOutcome(
        name=doc["TrainingJobName"],
        hyperparameters=dict(child.tuned),
        status=doc["TrainingJobStatus"],
        final_objective=final,
        epochs=len(store.metric_series(doc["TrainingJobName"], metric)),
        training_seconds=int(doc.get("BillableTimeInSeconds", 0)),
        early_stopped=child.early_stopped,
        start=doc.get("TrainingStartTime"),
        end=doc.get("TrainingEndTime"),
    )


# ---- console ---------------------------------------------------------------------------------


def _duration(seconds: float) -> str:
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours} h {minutes:02d} min {secs:02d} s"


def console(outcome: Outcome) -> str:
    """The tuning job's result as the SageMaker console would summarise it."""
    counters = outcome.status_counters
    best = "-" if outcome.best_objective is None else f"{outcome.best_objective:.6g}"
    why = outcome.failure_reason or outcome.completion_reason
    lines = [
        f"Tuning job            {outcome.name}  ({outcome.status}" + (f": {why})" if why else ")"),
        f"Objective             {outcome.objective_type} {outcome.objective_metric}",
        f"Best objective        {best}  ({outcome.best_job or 'no job succeeded'})",
        "Training jobs         "
        + ", ".join(f"{k} {v}" for k, v in counters.items())
        + f"  (total {len(outcome.jobs)})",
        f"Stopped jobs          {outcome.stopped_jobs} "
        f"({outcome.early_stopped_jobs} by early stopping)",
        f"Total training time   {_duration(outcome.total_training_seconds)}"
        f"  ({outcome.total_training_seconds} billable seconds)",
        f"Wall-clock time       {_duration(outcome.wall_seconds)}  (virtual)",
    ]
    return "\n".join(lines)


def aggregate(outcomes: Sequence[Outcome], seeds: Sequence[int]) -> dict[str, Any]:
    """Median and spread (min, max) of the headline numbers over several seeds."""
    out: dict[str, Any] = {"seeds": list(seeds), "median": {}, "min": {}, "max": {}}
    for key in NUMBERS:
        values = [getattr(o, key) for o in outcomes if getattr(o, key) is not None]
        if not values:
            continue
        out["median"][key] = statistics.median(values)
        out["min"][key] = min(values)
        out["max"][key] = max(values)
    out["runs"] = [{k: v for k, v in o.to_json().items() if k != "jobs"} for o in outcomes]
    return out


def console_aggregate(result: dict[str, Any]) -> str:
    lines = [f"{len(result['seeds'])} seeds: median [min .. max]"]
    for key in NUMBERS:
        if key in result["median"]:
            lines.append(
                f"  {key:<24}{result['median'][key]:>14.6g}   "
                f"[{result['min'][key]:.6g} .. {result['max'][key]:.6g}]"
            )
    return "\n".join(lines)


# ---- files -----------------------------------------------------------------------------------


def write_csv(outcome: Outcome, path: Path) -> None:
    """The analytics table: one row per training job, hyperparameters first."""
    names = sorted({k for j in outcome.jobs for k in j.hyperparameters})
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            [
                *names,
                "TrainingJobName",
                "TrainingJobStatus",
                "FinalObjectiveValue",
                "TrainingStartTime",
                "TrainingEndTime",
                "TrainingElapsedTimeSeconds",
                "Epochs",
                "EarlyStopped",
            ]
        )
        for j in outcome.jobs:
            elapsed = "" if j.start is None or j.end is None else f"{j.end - j.start:g}"
            writer.writerow(
                [
                    *(j.hyperparameters.get(n, "") for n in names),
                    j.name,
                    j.status,
                    "" if j.final_objective is None else repr(j.final_objective),
                    "" if j.start is None else f"{j.start:g}",
                    "" if j.end is None else f"{j.end:g}",
                    elapsed,
                    j.epochs,
                    j.early_stopped,
                ]
            )


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed."""


def require_matplotlib() -> None:
    """Raise PlotUnavailable unless a plot can be drawn (checked before a long simulation)."""
    try:
        import matplotlib  # noqa: PLC0415 - matplotlib is optional (the plots extra) and slow to import
    except ImportError as exc:
        raise PlotUnavailable("--plot needs matplotlib (pip install matplotlib)") from exc
    matplotlib.use("Agg")


def write_plot(outcome: Outcome, path: Path) -> None:
    """Final objective of each job at its end time, and the best so far (PNG)."""
    require_matplotlib()
    import matplotlib.pyplot as plt  # noqa: PLC0415 - matplotlib is optional (the plots extra) and slow to import

    ended = sorted(
        (j for j in outcome.jobs if j.end is not None and j.final_objective is not None),
        key=lambda j: j.end or 0.0,
    )
    origin = min((j.start for j in outcome.jobs if j.start is not None), default=0.0)
    hours = [((j.end or 0.0) - origin) / 3600 for j in ended]
    values = [j.final_objective or 0.0 for j in ended]
    pick = min if outcome.objective_type == "Minimize" else max
    best = [pick(values[: i + 1]) for i in range(len(values))]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    colors = ["tab:red" if j.early_stopped else "tab:blue" for j in ended]
    ax.scatter(hours, values, c=colors, s=14, label="training jobs (red: early stopped)")
    ax.step(hours, best, where="post", color="black", label="best so far")
    ax.set_xlabel("virtual time (hours)")
    ax.set_ylabel(outcome.objective_metric)
    ax.set_title(outcome.name)
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
