"""The ways an SDK v2 tuning job ends before its budget: `stop_tuning_job()` on a running
job, completion criteria (`TuningJobCompletionCriteriaConfig`) met early, and a tuning job whose
training jobs all fail (`wait()` raises UnexpectedStatusException, as on AWS)."""

from __future__ import annotations

import time
from typing import Any

import harness
from sagemaker.estimator import Estimator
from sagemaker.exceptions import UnexpectedStatusException
from sagemaker.tuner import (
    ContinuousParameter,
    HyperparameterTuner,
    TuningJobCompletionCriteriaConfig,
)

METRICS = [{"Name": "validation:accuracy", "Regex": r"validation:accuracy=([0-9\.]+)"}]


def make_tuner(
    session: Any, role: str, epochs: int, fail: bool = False, **kwargs: Any
) -> HyperparameterTuner:
    hyperparameters = {"epochs": epochs, "sleep_per_epoch": 1 if epochs > 3 else 0}
    estimator = Estimator(
        image_uri=harness.IMAGE,
        role=role,
        instance_count=1,
        instance_type="ml.m5.large",
        hyperparameters={**hyperparameters, **({"fail": "true"} if fail else {})},
        sagemaker_session=session,
    )
    return HyperparameterTuner(
        estimator,
        "validation:accuracy",
        {"learning_rate": ContinuousParameter(0.01, 0.3)},
        METRICS,
        strategy="Random",
        **kwargs,
    )


def stopped(session: Any, role: str, name: str) -> dict[str, Any]:
    """Start a long tuning job without waiting, stop it once a training job runs."""
    tuner = make_tuner(session, role, epochs=30, max_jobs=4, max_parallel_jobs=2)
    tuner.fit(job_name=name, wait=False)
    deadline = time.monotonic() + 120
    while tuner.describe()["TrainingJobStatusCounters"]["InProgress"] == 0:
        if time.monotonic() > deadline:
            raise TimeoutError("no training job started")
        time.sleep(1)
    tuner.stop_tuning_job()
    tuner.wait()
    description = tuner.describe()
    frame = tuner.analytics().dataframe()
    return {
        "status": description["HyperParameterTuningJobStatus"],
        "counters": description["TrainingJobStatusCounters"],
        "job_statuses": sorted(frame["TrainingJobStatus"].tolist()),
    }


def completed_early(session: Any, role: str, name: str) -> dict[str, Any]:
    """A target any job reaches: the tuning job completes after its first training job."""
    criteria = TuningJobCompletionCriteriaConfig(target_objective_metric_value=0.05)
    tuner = make_tuner(
        session,
        role,
        epochs=1,
        max_jobs=4,
        max_parallel_jobs=1,
        completion_criteria_config=criteria,
    )
    tuner.fit(job_name=name, wait=True)
    description = tuner.describe()
    return {
        "status": description["HyperParameterTuningJobStatus"],
        "counters": description["TrainingJobStatusCounters"],
        "criteria": description["HyperParameterTuningJobConfig"].get("TuningJobCompletionCriteria"),
        "completion_details": description.get("TuningJobCompletionDetails"),
        "best": tuner.best_training_job(),
    }


def failed(session: Any, role: str, name: str) -> dict[str, Any]:
    """Every training job fails (the program's own error): `wait()` raises."""
    tuner = make_tuner(session, role, epochs=1, fail=True, max_jobs=8, max_parallel_jobs=2)
    tuner.fit(job_name=name, wait=False)
    try:
        tuner.wait()
        raised = ""
    except UnexpectedStatusException as error:
        raised = str(error)
    description = tuner.describe()
    return {
        "raised": raised,
        "status": description["HyperParameterTuningJobStatus"],
        "reason": description.get("FailureReason"),
        "counters": description["TrainingJobStatusCounters"],
        "ended": "HyperParameterTuningEndTime" in description,
    }


def main() -> None:
    a = harness.args()
    session = harness.v2_session(a["bucket"])
    harness.emit(
        {
            "stopped": stopped(session, a["role"], f"{a['job']}-stop"),
            "criteria": completed_early(session, a["role"], f"{a['job']}-target"),
            "failed": failed(session, a["role"], f"{a['job']}-fail"),
        }
    )


if __name__ == "__main__":
    main()
