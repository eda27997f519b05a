"""Seed 003 (warm start): a parent tuning job, an IDENTICAL_DATA_AND_ALGORITHM child, then a
TRANSFER_LEARNING job from both with a changed static hyperparameter (augmentation_type),
adapted only in session set-up, data location and image (the mapped sklearn-sgd program, so
the metric regex is given); 3 jobs each instead of 10. `sagemaker.s3_input` is spelled
`TrainingInput`, its SDK v2 name."""

from __future__ import annotations

from typing import Any

import harness
import sagemaker
from sagemaker.inputs import TrainingInput
from sagemaker.tuner import (
    ContinuousParameter,
    HyperparameterTuner,
    WarmStartConfig,
    WarmStartTypes,
)

METRICS = [{"Name": "validation:accuracy", "Regex": r"validation:accuracy=([0-9\.]+)"}]


def outcome(name: str) -> dict[str, Any]:
    frame = sagemaker.HyperparameterTuningJobAnalytics(name).dataframe()
    frame = frame.sort_values(["FinalObjectiveValue"], ascending=False)
    description = sagemaker.HyperparameterTuningJobAnalytics(name).description()
    return {
        "name": name,
        "status": description["HyperParameterTuningJobStatus"],
        "values": frame["FinalObjectiveValue"].tolist(),
        "warm_start": description.get("WarmStartConfig"),
        "static": description["TrainingJobDefinition"]["StaticHyperParameters"],
    }


def main() -> None:
    a = harness.args()
    role, bucket, prefix = a["role"], a["bucket"], a["job"]
    training_image = harness.IMAGE
    sess = harness.v2_session(bucket)
    sess.upload_string_as_file_body(
        "".join(f"{i % 3},{(i % 7) / 7 + i % 3:.3f},{(i % 5) / 5:.3f}\n" for i in range(240)),
        bucket,
        f"{prefix}/train/data.csv",
    )

    s3_output_location = f"s3://{bucket}/{prefix}/output"
    s3_input_train = TrainingInput(s3_data=f"s3://{bucket}/{prefix}/train", content_type="text/csv")
    imageclassification = sagemaker.estimator.Estimator(
        training_image,
        role,
        train_instance_count=1,
        train_instance_type="ml.p3.8xlarge",
        output_path=s3_output_location,
        sagemaker_session=sess,
    )
    static = {
        "num_layers": 18,
        "image_shape": "3,224,224",
        "num_classes": 257,
        "num_training_samples": 15420,
        "mini_batch_size": 128,
        "epochs": 2,
        "optimizer": "sgd",
        "top_k": "2",
        "precision_dtype": "float32",
    }
    imageclassification.set_hyperparameters(**static, augmentation_type="crop")

    hyperparameter_ranges = {
        "learning_rate": ContinuousParameter(0.0001, 0.05),
        "momentum": ContinuousParameter(0.0, 0.99),
        "weight_decay": ContinuousParameter(0.0, 0.99),
    }
    objective_metric_name = "validation:accuracy"

    def tuner_for(name: str, **kwargs: Any) -> HyperparameterTuner:
        tuner = HyperparameterTuner(
            imageclassification,
            objective_metric_name,
            hyperparameter_ranges,
            METRICS,
            objective_type="Maximize",
            max_jobs=3,
            max_parallel_jobs=2,
            **kwargs,
        )
        tuner.fit({"train": s3_input_train}, job_name=name, include_cls_metadata=False)
        tuner.wait()
        return tuner

    parent_tuning_job_name = f"{prefix}-parent"
    tuner_for(parent_tuning_job_name)

    warmstart_tuning_job_name = f"{prefix}-warm"
    identical_config = WarmStartConfig(
        WarmStartTypes.IDENTICAL_DATA_AND_ALGORITHM, parents={parent_tuning_job_name}
    )
    tuner_for(warmstart_tuning_job_name, warm_start_config=identical_config)

    parent_tuning_job_name_2 = warmstart_tuning_job_name
    transfer_learning_config = WarmStartConfig(
        WarmStartTypes.TRANSFER_LEARNING,
        parents={parent_tuning_job_name, parent_tuning_job_name_2},
    )
    imageclassification.set_hyperparameters(**static, augmentation_type="crop_color_transform")
    transfer = tuner_for(f"{prefix}-transfer", warm_start_config=transfer_learning_config)

    harness.emit(
        {
            "jobs": [
                outcome(name)
                for name in (
                    parent_tuning_job_name,
                    warmstart_tuning_job_name,
                    transfer.latest_tuning_job.name,
                )
            ]
        }
    )


if __name__ == "__main__":
    main()
