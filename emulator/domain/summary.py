"""What a tuning job reports about its training jobs: counters, summaries, the best job.

Always derived from the children's stored state (never incremented by hand), so the counters
equal the jobs' actual statuses after any crash or duplicate event.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, TypeVar

from emulator.domain.documents import zero_objective_counters, zero_training_counters


class StoredJob(Protocol):
    """A training job as stored: its Describe document and our bookkeeping beside it (the
    store's `Row` is one; the domain needs only these two fields)."""

    doc: dict[str, Any]
    meta: dict[str, Any]


Job = TypeVar("Job", bound=StoredJob)


def objective_status(row: StoredJob) -> str:
    """Succeeded once a final objective exists and the job ended; Pending while it runs."""
    status = row.doc["TrainingJobStatus"]
    if status in ("InProgress", "Stopping"):
        return "Pending"
    if status == "Failed" or row.meta.get("objective_value") is None:
        return "Failed"
    return "Succeeded"


def counter_key(row: StoredJob) -> str:
    status = row.doc["TrainingJobStatus"]
    if status in ("InProgress", "Stopping"):
        return "InProgress"
    if status == "Failed":
        return "RetryableError" if row.meta.get("retryable") else "NonRetryableError"
    return status


def counters(children: Iterable[StoredJob]) -> tuple[dict[str, int], dict[str, int]]:
    training = zero_training_counters()
    objective = zero_objective_counters()
    for row in children:
        training[counter_key(row)] += 1
        objective[objective_status(row)] += 1
    return training, objective


def training_summary(row: StoredJob) -> dict[str, Any]:
    """A HyperParameterTrainingJobSummary of one child."""
    doc, meta = row.doc, row.meta
    summary: dict[str, Any] = {
        "TrainingJobName": doc["TrainingJobName"],
        "TrainingJobArn": doc["TrainingJobArn"],
        "TuningJobName": meta["tuning_job"],
        "CreationTime": doc["CreationTime"],
        "TrainingJobStatus": doc["TrainingJobStatus"],
        "TunedHyperParameters": meta.get("tuned", {}),
        "ObjectiveStatus": objective_status(row),
    }
    if meta.get("definition"):
        summary["TrainingJobDefinitionName"] = meta["definition"]
    for key in ("TrainingStartTime", "TrainingEndTime", "FailureReason"):
        if key in doc:
            summary[key] = doc[key]
    if meta.get("objective_value") is not None:
        objective = meta["objective"]
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "Type": objective["Type"],
            "MetricName": objective["MetricName"],
            "Value": meta["objective_value"],
        }
    return summary


def best_of(rows: Iterable[Job]) -> Job | None:
    """The child with the best final objective among those that succeeded (earliest on ties)."""
    best: Job | None = None
    for row in rows:
        if objective_status(row) != "Succeeded":
            continue
        if best is None or _better(row, best):
            best = row
    return best


def _better(a: StoredJob, b: StoredJob) -> bool:
    va, vb = a.meta["objective_value"], b.meta["objective_value"]
    return bool(va < vb) if a.meta["objective"]["Type"] == "Minimize" else bool(va > vb)
