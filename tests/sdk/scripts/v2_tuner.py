"""SDK v2 `HyperparameterTuner` on a mapped image: `fit()`, `wait()`, `best_training_job()`,
`best_estimator()`, `attach()`, `analytics().dataframe()`, then the warm-start helpers
`identical_dataset_and_algorithm_tuner()` and `transfer_learning_tuner()`."""

from __future__ import annotations

from typing import Any

import harness
from sagemaker.estimator import Estimator
from sagemaker.tuner import (
    CategoricalParameter,
    ContinuousParameter,
    HyperparameterTuner,
)

METRICS = [{"Name": "validation:accuracy", "Regex": r"validation:accuracy=([0-9\.]+)"}]


def make_estimator(session: Any, role: str, **hyperparameters: Any) -> Estimator:
    return Estimator(
        image_uri=harness.IMAGE,
        role=role,
        instance_count=1,
        instance_type="ml.m5.large",
        hyperparameters={"epochs": 2, "alpha": 0.0001, **hyperparameters},
        sagemaker_session=session,
    )


def summary(tuner: HyperparameterTuner) -> dict[str, Any]:
    """What a user reads after a tuning job: its description and the analytics table."""
    description = tuner.describe()
    frame = tuner.analytics().dataframe()
    ordered = frame.sort_values(["FinalObjectiveValue"], ascending=False)
    return {
        "name": tuner.latest_tuning_job.name,
        "status": description["HyperParameterTuningJobStatus"],
        "counters": description["TrainingJobStatusCounters"],
        "warm_start": description.get("WarmStartConfig"),
        "overall_best": description.get("OverallBestTrainingJob", {}).get("TrainingJobName"),
        "best": tuner.best_training_job(),
        "best_value": description["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"][
            "Value"
        ],
        "rows": ordered[["TrainingJobName", "FinalObjectiveValue", "learning_rate"]].to_dict(
            "records"
        ),
        "columns": sorted(frame.columns),
        "static": description["TrainingJobDefinition"]["StaticHyperParameters"],
    }


def main() -> None:
    a = harness.args()
    session = harness.v2_session(a["bucket"])
    tuner = HyperparameterTuner(
        make_estimator(session, a["role"]),
        "validation:accuracy",
        {
            "learning_rate": ContinuousParameter(0.001, 0.5, scaling_type="Logarithmic"),
            "loss": CategoricalParameter(["log_loss", "hinge", "modified_huber"]),
        },
        METRICS,
        objective_type="Maximize",
        max_jobs=3,
        max_parallel_jobs=2,
    )
    tuner.fit(job_name=a["job"], wait=True)
    tuner.wait()
    parent = summary(tuner)

    best = tuner.best_estimator()
    attached = HyperparameterTuner.attach(a["job"], sagemaker_session=session)

    # SDK v2's warm-start helpers build the new tuner without the parent's tuner-level
    # metric_definitions (only built-in algorithms need none), so a custom image's are set again.
    identical = attached.identical_dataset_and_algorithm_tuner()
    identical.metric_definitions = METRICS
    identical.fit(job_name=f"{a['job']}-ida", wait=True)
    transfer = tuner.transfer_learning_tuner(
        additional_parents={f"{a['job']}-ida"},
        estimator=make_estimator(session, a["role"], alpha=0.001),  # a changed static value
    )
    transfer.metric_definitions = METRICS
    transfer.fit(job_name=f"{a['job']}-tl", wait=True)
    harness.emit(
        {
            "parent": parent,
            "best_estimator": {
                "job": best.latest_training_job.name,
                "hyperparameters": best.hyperparameters(),
                "model_data": best.model_data,
            },
            "attached": {
                "objective": attached.objective_metric_name,
                "ranges": attached.hyperparameter_ranges(),
                "max_jobs": attached.max_jobs,
                "max_parallel_jobs": attached.max_parallel_jobs,
                "metric_definitions": attached.metric_definitions,
                "image": attached.estimator.image_uri,
                "static": attached.estimator.hyperparameters(),
            },
            "identical": summary(identical),
            "transfer": summary(transfer),
        }
    )


if __name__ == "__main__":
    main()
