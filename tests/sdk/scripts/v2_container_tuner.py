"""The seed notebooks' SDK v2 script-mode tuning flow, run in real containers: an SKLearn
estimator whose image is the locally built toolkit image (AWS's sagemaker-training as its
entry point), a Bayesian `HyperparameterTuner` with Auto early stopping, `fit()`, `wait()`,
the analytics table and the best job's log. Only the session set-up and the image differ
from the notebooks."""

from __future__ import annotations

import harness
from sagemaker.sklearn import SKLearn
from sagemaker.tuner import ContinuousParameter, HyperparameterTuner

METRICS = [{"Name": "validation:accuracy", "Regex": r"validation:accuracy=([0-9\.]+)"}]


def main() -> None:
    a = harness.args()
    session = harness.v2_session(a["bucket"])
    train = session.upload_string_as_file_body(
        "1,2\n3,4\n5,6\n", a["bucket"], f"sdk-data/{a['job']}/train/data.csv"
    )
    estimator = SKLearn(
        entry_point="train.py",
        source_dir=str(harness.HERE / "toolkit_source"),
        image_uri=a["image"],
        role=a["role"],
        instance_count=1,
        instance_type="ml.m5.large",
        hyperparameters={"epochs": 8, "sleep": 0.3},
        sagemaker_session=session,
    )
    tuner = HyperparameterTuner(
        estimator,
        "validation:accuracy",
        {"learning_rate": ContinuousParameter(0.0001, 1.0, scaling_type="Logarithmic")},
        METRICS,
        objective_type="Maximize",
        strategy="Bayesian",
        max_jobs=6,
        max_parallel_jobs=1,
        early_stopping_type="Auto",
        random_seed=7,
    )
    tuner.fit({"train": train.rsplit("/", 1)[0]}, job_name=a["job"], include_cls_metadata=False)
    tuner.wait()
    description = tuner.describe()
    frame = tuner.analytics().dataframe()
    best = tuner.best_training_job()
    session.logs_for_job(best, wait=False)  # prints the job's log, as in the notebooks
    best_job = session.describe_training_job(best)
    harness.emit(
        {
            "status": description["HyperParameterTuningJobStatus"],
            "counters": description["TrainingJobStatusCounters"],
            "early_stopping": description["HyperParameterTuningJobConfig"][
                "TrainingJobEarlyStoppingType"
            ],
            "statuses": frame["TrainingJobStatus"].tolist(),
            "stopped": frame[frame.TrainingJobStatus == "Stopped"]["TrainingJobName"].tolist(),
            "best": best,
            "best_image": best_job["AlgorithmSpecification"]["TrainingImage"],
            "best_model": best_job["ModelArtifacts"]["S3ModelArtifacts"],
        }
    )


if __name__ == "__main__":
    main()
