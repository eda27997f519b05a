"""Status machines of training jobs and tuning jobs.

A training job's state is its SecondaryStatus; the primary TrainingJobStatus follows from it.
Status changes only through `transition`, which checks the allowed edges, appends to
SecondaryStatusTransitions (always with a StatusMessage: the SDK indexes it unconditionally)
and stamps LastModifiedTime — so a describe never shows a history that could not happen.
"""

from __future__ import annotations

from typing import Any

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
