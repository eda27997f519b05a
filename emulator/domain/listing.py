"""The summaries List operations return, computed once when a job is written."""

from __future__ import annotations

from typing import Any

_TUNING_LIST_KEYS = (
    "HyperParameterTuningJobName",
    "HyperParameterTuningJobArn",
    "HyperParameterTuningJobStatus",
    "CreationTime",
    "HyperParameterTuningEndTime",
    "LastModifiedTime",
    "TrainingJobStatusCounters",
    "ObjectiveStatusCounters",
)
_TRAINING_LIST_KEYS = (
    "TrainingJobName",
    "TrainingJobArn",
    "CreationTime",
    "TrainingEndTime",
    "LastModifiedTime",
    "TrainingJobStatus",
    "SecondaryStatus",
)


def tuning_list_summary(doc: dict[str, Any]) -> dict[str, Any]:
    """The HyperParameterTuningJobSummary ListHyperParameterTuningJobs returns."""
    summary = {k: doc[k] for k in _TUNING_LIST_KEYS if k in doc}
    config = doc["HyperParameterTuningJobConfig"]
    summary["Strategy"] = config["Strategy"]
    summary["ResourceLimits"] = config["ResourceLimits"]
    return summary


def training_list_summary(doc: dict[str, Any]) -> dict[str, Any]:
    """The TrainingJobSummary ListTrainingJobs returns."""
    return {k: doc[k] for k in _TRAINING_LIST_KEYS if k in doc}
