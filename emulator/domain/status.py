"""Status machines of training jobs and tuning jobs.

A training job's state is its SecondaryStatus; the primary TrainingJobStatus follows from it.
Status changes only through `transition`, which checks the allowed edges, appends to
SecondaryStatusTransitions (always with a StatusMessage: the SDK indexes it unconditionally)
and stamps LastModifiedTime — so a describe never shows a history that could not happen.

A tuning job's state says, besides its public status, how it is going to end while its
training jobs wind down: Completing and Failing still show InProgress (the running children
finish or are stopped first), Stopping shows Stopping. It changes only through `move_tuning`,
which checks the edges and, on the way into an end, stamps the end time, the consumed runtime
and the FailureReason.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

PRIMARY_OF: dict[str, str] = {
    "Starting": "InProgress",
    "Pending": "InProgress",
    "Downloading": "InProgress",
    "Training": "InProgress",
    "Uploading": "InProgress",
    "Stopping": "Stopping",
    "Stopped": "Stopped",
    "MaxRuntimeExceeded": "Stopped",
    "Completed": "Completed",
    "Failed": "Failed",
}

_ENDINGS = frozenset({"Stopped", "MaxRuntimeExceeded", "Completed", "Failed"})

ALLOWED: dict[str, frozenset[str]] = {
    "Starting": frozenset({"Pending", "Downloading", "Training", "Stopping"} | _ENDINGS),
    "Pending": frozenset({"Starting", "Downloading", "Stopping"} | _ENDINGS),
    "Downloading": frozenset({"Training", "Stopping"} | _ENDINGS),
    "Training": frozenset({"Uploading", "Stopping"} | _ENDINGS),
    "Uploading": frozenset({"Stopping"} | _ENDINGS),
    "Stopping": _ENDINGS,
}

TERMINAL_TRAINING = frozenset({"Completed", "Failed", "Stopped"})
ACTIVE_TRAINING = frozenset({"InProgress", "Stopping"})
TERMINAL_TUNING = frozenset({"Completed", "Failed", "Stopped"})
ACTIVE_TUNING = frozenset({"InProgress", "Stopping"})

DEFAULT_MESSAGES: dict[str, str] = {
    "Starting": "Launching requested ML instances",
    "Pending": "Waiting for capacity: no agent has a free slot for this instance type",
    "Downloading": "Downloading input data",
    "Training": "Training image download completed. Training in progress.",
    "Uploading": "Uploading generated training model",
    "Stopping": "Stopping the training job",
    "Stopped": "Training job stopped",
    "MaxRuntimeExceeded": "Training job exceeded MaxRuntimeInSeconds and was stopped",
    "Completed": "Training job completed",
    "Failed": "Training job failed",
}


class TransitionRefused(Exception):
    """A status change that the machine does not allow (e.g. a late event for a finished job)."""


def can_transition(current: str, target: str) -> bool:
    """Whether SecondaryStatus `current` may move to `target`."""
    return target in ALLOWED.get(current, frozenset())


def last_transition_time(job: dict[str, Any]) -> float:
    """When a training-job document last changed SecondaryStatus (its creation, if never)."""
    transitions = job.get("SecondaryStatusTransitions") or []
    if transitions:
        return float(transitions[-1]["StartTime"])
    return float(job.get("CreationTime", 0.0))


def transition(job: dict[str, Any], target: str, message: str | None, now: float) -> None:
    """Move a training-job document to SecondaryStatus `target`, recording the step.

    Raises TransitionRefused when the edge is not allowed; the caller decides whether that is
    a bug or a duplicate/late event to drop.
    """
    current = job.get("SecondaryStatus")
    if current is not None and not can_transition(current, target):
        raise TransitionRefused(f"{job.get('TrainingJobName')}: {current} -> {target}")
    transitions: list[dict[str, Any]] = job.setdefault("SecondaryStatusTransitions", [])
    if transitions and "EndTime" not in transitions[-1]:
        transitions[-1]["EndTime"] = now
    step: dict[str, Any] = {
        "Status": target,
        "StartTime": now,
        "StatusMessage": message or DEFAULT_MESSAGES[target],
    }
    primary = PRIMARY_OF[target]
    if primary in TERMINAL_TRAINING:
        step["EndTime"] = now
        job["TrainingEndTime"] = now
    if target in ("Downloading", "Training") and "TrainingStartTime" not in job:
        job["TrainingStartTime"] = now
    transitions.append(step)
    job["SecondaryStatus"] = target
    job["TrainingJobStatus"] = primary
    job["LastModifiedTime"] = now


# ---- tuning jobs ---------------------------------------------------------------------------

TuningState = Literal[
    "InProgress", "Completing", "Failing", "Stopping", "Completed", "Failed", "Stopped"
]

TUNING_PUBLIC: dict[TuningState, str] = {
    "InProgress": "InProgress",
    "Completing": "InProgress",
    "Failing": "InProgress",
    "Stopping": "Stopping",
    "Completed": "Completed",
    "Failed": "Failed",
    "Stopped": "Stopped",
}
"""The HyperParameterTuningJobStatus each state shows."""

TUNING_ALLOWED: dict[TuningState, frozenset[TuningState]] = {
    "InProgress": frozenset({"Completing", "Failing", "Stopping"}),
    "Completing": frozenset({"Completed", "Stopping"}),
    "Failing": frozenset({"Failed", "Stopping"}),
    "Stopping": frozenset({"Stopped"}),
}
"""A user may stop a tuning job that is still winding down towards Completed or Failed."""

ENDING_OF: dict[TuningState, TuningState] = {
    "Completing": "Completed",
    "Failing": "Failed",
    "Stopping": "Stopped",
}
"""Where a winding-down state ends once no training job runs."""


class TuningRecord(Protocol):
    """What `move_tuning` changes: a tuning job's document, state and reasons."""

    doc: dict[str, Any]
    state: TuningState
    completion_reason: str | None
    failure_reason: str | None


def winding_down(state: TuningState) -> bool:
    """Completing, Failing or Stopping: its end is decided, its children still run."""
    return state in ENDING_OF


def move_tuning(job: TuningRecord, target: TuningState, now: float, reason: str = "") -> None:
    """Move a tuning job to `target`; `reason` says why it completes or fails.

    The public status follows; LastModifiedTime is stamped when the public status changes;
    an end stamps HyperParameterTuningEndTime, ConsumedResources and, for Failed, the
    FailureReason given when it began to fail. Raises TransitionRefused for an edge the
    machine does not have.
    """
    if target not in TUNING_ALLOWED.get(job.state, frozenset()):
        name = job.doc.get("HyperParameterTuningJobName")
        raise TransitionRefused(f"{name}: {job.state} -> {target}")
    if target == "Completing":
        job.completion_reason = reason
    elif target == "Failing":
        job.failure_reason = reason
    doc = job.doc
    public = TUNING_PUBLIC[target]
    if public != doc["HyperParameterTuningJobStatus"]:
        doc["HyperParameterTuningJobStatus"] = public
        doc["LastModifiedTime"] = now
    job.state = target
    if public in TERMINAL_TUNING:
        if target == "Failed":
            doc["FailureReason"] = job.failure_reason
        doc["HyperParameterTuningEndTime"] = now
        doc["ConsumedResources"] = {"RuntimeInSeconds": int(now - doc["CreationTime"])}
