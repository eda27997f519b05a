"""What a tuning job reports about its training jobs: counters, summaries, the best job.

Always derived from the children's stored state (never incremented by hand), so the counters
equal the jobs' actual statuses after any crash or duplicate event.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from emulator.domain.documents import zero_objective_counters, zero_training_counters
from emulator.domain.jobs import TrainingJob
from emulator.domain.status import ACTIVE_TRAINING


def objective_status(job: TrainingJob) -> str:
    """Succeeded once a final objective exists and the job ended; Pending while it runs."""
    if job.status in ACTIVE_TRAINING:
        return "Pending"
    if job.status == "Failed" or job.objective_value is None:
        return "Failed"
    return "Succeeded"


def counter_key(job: TrainingJob) -> str:
    if job.status in ACTIVE_TRAINING:
        return "InProgress"
    if job.status == "Failed":
        return "RetryableError" if job.retryable else "NonRetryableError"
    return job.status


def counters(children: Iterable[TrainingJob]) -> tuple[dict[str, int], dict[str, int]]:
    training = zero_training_counters()
    objective = zero_objective_counters()
    for job in children:
        training[counter_key(job)] += 1
        objective[objective_status(job)] += 1
    return training, objective


def training_summary(job: TrainingJob) -> dict[str, Any]:
    """A HyperParameterTrainingJobSummary of one child."""
    doc = job.doc
    summary: dict[str, Any] = {
        "TrainingJobName": doc["TrainingJobName"],
        "TrainingJobArn": doc["TrainingJobArn"],
        "TuningJobName": job.tuning_job,
        "CreationTime": doc["CreationTime"],
        "TrainingJobStatus": doc["TrainingJobStatus"],
        "TunedHyperParameters": job.tuned,
        "ObjectiveStatus": objective_status(job),
    }
    if job.definition:
        summary["TrainingJobDefinitionName"] = job.definition
    for key in ("TrainingStartTime", "TrainingEndTime", "FailureReason"):
        if key in doc:
            summary[key] = doc[key]
    if job.objective_value is not None:
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "Type": job.objective["Type"],
            "MetricName": job.objective["MetricName"],
            "Value": job.objective_value,
        }
    return summary


def best_of(jobs: Iterable[TrainingJob]) -> TrainingJob | None:
    """The child with the best final objective among those that succeeded (earliest on ties)."""
    best: TrainingJob | None = None
    for job in jobs:
        if objective_status(job) != "Succeeded":
            continue
        if best is None or _better(job, best):
            best = job
    return best


def _better(a: TrainingJob, b: TrainingJob) -> bool:
    va, vb = a.objective_value, b.objective_value
    assert va is not None and vb is not None  # both succeeded
    return bool(va < vb) if a.objective["Type"] == "Minimize" else bool(va > vb)
