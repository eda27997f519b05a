"""Seed notebooks 000/001 (automatic training job early stopping), adapted only in session
set-up (explicit role and bucket), data location (a small CSV uploaded to the emulator's S3)
and image (the mapped sklearn-sgd program instead of the built-in image-classification, so
the metric regex is given). Counts are shrunk: 4 jobs, 4 epochs. The v1 names the notebook
used (`sagemaker.s3_input`) are spelled as SDK v2 spells them (`TrainingInput`)."""

from __future__ import annotations

from typing import Any

import boto3
import harness
import sagemaker
from sagemaker.inputs import TrainingInput
from sagemaker.tuner import (
    CategoricalParameter,
    ContinuousParameter,
    HyperparameterTuner,
    IntegerParameter,
)


def upload_to_s3(bucket: str, channel: str, file: str, body: str) -> None:
    s3 = boto3.resource("s3")
    key = channel + "/" + file
    s3.Bucket(bucket).put_object(Key=key, Body=body.encode())


def table(tuning_job_name: str) -> dict[str, Any]:
    """The notebook's cells after each tuning job: top jobs, total time, status counts."""
    tuner_metrics = sagemaker.HyperparameterTuningJobAnalytics(tuning_job_name)
    top = tuner_metrics.dataframe().sort_values(["FinalObjectiveValue"], ascending=False).head(5)
    df = tuner_metrics.dataframe()
    total_time = df["TrainingElapsedTimeSeconds"].sum() / 3600
    print(f"The total training time is {total_time:.4f} hours")
    return {
        "top": top["FinalObjectiveValue"].tolist(),
        "total_time_hours": float(total_time),
        "status_counts": {
            str(k): int(v) for k, v in df["TrainingJobStatus"].value_counts().items()
        },
        "stopped": df[df.TrainingJobStatus == "Stopped"]["TrainingJobName"].tolist(),
        "rows": len(df),
    }


def main() -> None:
    a = harness.args()
    role, bucket = a["role"], a["bucket"]
    training_image = harness.IMAGE

    s3_train_key = f"{a['job']}/image-classification-full-training/train"
    s3_validation_key = f"{a['job']}/image-classification-full-training/validation"
    data = "".join(f"{i % 3},{(i % 7) / 7 + i % 3:.3f},{(i % 5) / 5:.3f}\n" for i in range(240))
    upload_to_s3(bucket, s3_train_key, "train.csv", data)
    upload_to_s3(bucket, s3_validation_key, "validation.csv", data)

    s3_train_data = f"s3://{bucket}/{s3_train_key}/"
    s3_validation_data = f"s3://{bucket}/{s3_validation_key}/"
    s3_output_key = f"{a['job']}/image-classification-full-training/output"
    s3_output = f"s3://{bucket}/{s3_output_key}/"
    s3_input_train = TrainingInput(s3_data=s3_train_data, content_type="text/csv")
    s3_input_validation = TrainingInput(s3_data=s3_validation_data, content_type="text/csv")

    sess = harness.v2_session(bucket)
    imageclassification = sagemaker.estimator.Estimator(
        training_image,
        role,
        train_instance_count=1,
        train_instance_type="ml.p3.2xlarge",
        output_path=s3_output,
        sagemaker_session=sess,
    )
    imageclassification.set_hyperparameters(
        num_layers=18,
        image_shape="3,224,224",
        num_classes=257,
        epochs=4,
        top_k="2",
        num_training_samples=15420,
        precision_dtype="float32",
        augmentation_type="crop",
    )

    hyperparameter_ranges = {
        "learning_rate": ContinuousParameter(0.00001, 1.0),
        "mini_batch_size": IntegerParameter(16, 64),
        "optimizer": CategoricalParameter(["sgd", "adam", "rmsprop", "nag"]),
    }
    objective_metric_name = "validation:accuracy"
    metric_definitions = [
        {"Name": "validation:accuracy", "Regex": r"validation:accuracy=([0-9\.]+)"}
    ]

    tuning_job_name = a["job"]
    tuner = HyperparameterTuner(
        imageclassification,
        objective_metric_name,
        hyperparameter_ranges,
        metric_definitions,
        objective_type="Maximize",
        max_jobs=4,
        max_parallel_jobs=2,
    )
    tuner.fit(
        {"train": s3_input_train, "validation": s3_input_validation},
        job_name=tuning_job_name,
        include_cls_metadata=False,
    )
    tuner.wait()
    off = table(tuning_job_name)

    tuning_job_name_es = a["job"] + "-es"
    tuner_es = HyperparameterTuner(
        imageclassification,
        objective_metric_name,
        hyperparameter_ranges,
        metric_definitions,
        objective_type="Maximize",
        max_jobs=4,
        max_parallel_jobs=2,
        early_stopping_type="Auto",
    )
    tuner_es.fit(
        {"train": s3_input_train, "validation": s3_input_validation},
        job_name=tuning_job_name_es,
        include_cls_metadata=False,
    )
    tuner_es.wait()
    es = table(tuning_job_name_es)
    es["early_stopping_type"] = tuner_es.describe()["HyperParameterTuningJobConfig"][
        "TrainingJobEarlyStoppingType"
    ]
    off["early_stopping_type"] = tuner.describe()["HyperParameterTuningJobConfig"][
        "TrainingJobEarlyStoppingType"
    ]
    harness.emit({"off": off, "auto": es})


if __name__ == "__main__":
    main()
