"""Seed 002 (tuning an MXNet MNIST script with a custom metric regex), adapted only in session
set-up, data location (small files uploaded to the emulator's S3) and image: the SKLearn
framework estimator runs `framework_train.py` in script mode (the MXNet images are not mapped
here and MNIST is not needed), printing the `Validation-accuracy=` lines the regex reads.
3 jobs instead of 9, epochs 1..3 instead of 10..50."""

from __future__ import annotations

import boto3
import harness
from sagemaker.sklearn import SKLearn
from sagemaker.tuner import (
    CategoricalParameter,
    ContinuousParameter,
    HyperparameterTuner,
    IntegerParameter,
)

COLUMNS = ["TrainingJobName", "FinalObjectiveValue", "optimizer", "num_epoch", "learning_rate"]


def main() -> None:
    a = harness.args()
    role, bucket = a["role"], a["bucket"]
    session = harness.v2_session(bucket)
    for channel in ("train", "test"):
        session.upload_string_as_file_body(
            "0,1\n1,0\n", bucket, f"{a['job']}/mnist/{channel}/data.csv"
        )
    train_data_location = "s3://{}/{}/mnist/train".format(bucket, a["job"])
    test_data_location = "s3://{}/{}/mnist/test".format(bucket, a["job"])

    estimator = SKLearn(
        entry_point="framework_train.py",
        source_dir=str(harness.HERE),
        role=role,
        train_instance_count=1,
        train_instance_type="ml.m4.xlarge",
        sagemaker_session=session,
        py_version="py3",
        framework_version="1.2-1",
        base_job_name="DEMO-hpo-sklearn",
        hyperparameters={"batch_size": 100},
    )
    hyperparameter_ranges = {
        "optimizer": CategoricalParameter(["sgd", "Adam"]),
        "learning_rate": ContinuousParameter(0.01, 0.2),
        "num_epoch": IntegerParameter(1, 3),
    }
    objective_metric_name = "Validation-accuracy"
    metric_definitions = [
        {"Name": "Validation-accuracy", "Regex": "Validation-accuracy=([0-9\\.]+)"}
    ]
    tuner = HyperparameterTuner(
        estimator,
        objective_metric_name,
        hyperparameter_ranges,
        metric_definitions,
        max_jobs=3,
        max_parallel_jobs=3,
    )
    tuner.fit(
        {"train": train_data_location, "test": test_data_location}, job_name=a["job"], wait=False
    )
    started = boto3.client("sagemaker").describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=tuner.latest_tuning_job.job_name
    )["HyperParameterTuningJobStatus"]
    tuner.wait()
    frame = tuner.analytics().dataframe().sort_values(["FinalObjectiveValue"], ascending=False)
    harness.emit(
        {
            "started": started,
            "status": tuner.describe()["HyperParameterTuningJobStatus"],
            "best": tuner.best_training_job(),
            "rows": frame[COLUMNS].to_dict("records"),
        }
    )


if __name__ == "__main__":
    main()
