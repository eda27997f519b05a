"""SDK v3 (3.27.0): `sagemaker.train.tuner.HyperparameterTuner(...).tune()` with a
`ModelTrainer` on the mapped image, waiting for completion and reading the best job.
Set-up as for v2: a session with an explicit default bucket, an explicit role and output
path (v3's session helper also asks the hard-coded public STS endpoint otherwise)."""

from __future__ import annotations

import harness
from sagemaker.core.helper.session_helper import Session
from sagemaker.core.parameter import CategoricalParameter, ContinuousParameter
from sagemaker.train import ModelTrainer
from sagemaker.train.configs import Compute, OutputDataConfig
from sagemaker.train.tuner import HyperparameterTuner


def main() -> None:
    a = harness.args()
    session = Session(default_bucket=a["bucket"])
    trainer = ModelTrainer(
        training_image=harness.IMAGE,
        role=a["role"],
        sagemaker_session=session,
        compute=Compute(instance_type="ml.m5.large", instance_count=1),
        output_data_config=OutputDataConfig(s3_output_path=f"s3://{a['bucket']}/v3-output"),
        hyperparameters={"epochs": 2},
        base_job_name="v3-sgd",
    )
    tuner = HyperparameterTuner(
        model_trainer=trainer,
        objective_metric_name="validation:accuracy",
        hyperparameter_ranges={
            "learning_rate": ContinuousParameter(0.001, 0.5),
            "loss": CategoricalParameter(["log_loss", "hinge"]),
        },
        metric_definitions=[
            {"Name": "validation:accuracy", "Regex": r"validation:accuracy=([0-9\.]+)"}
        ],
        max_jobs=3,
        max_parallel_jobs=2,
    )
    tuner.tune(job_name=a["job"], wait=True)
    description = tuner.describe()
    best = description.best_training_job
    harness.emit(
        {
            "status": description.hyper_parameter_tuning_job_status,
            "completed": description.training_job_status_counters.completed,
            "best": tuner.best_training_job(),
            "best_value": best.final_hyper_parameter_tuning_job_objective_metric.value,
            "best_hyperparameters": dict(best.tuned_hyper_parameters),
        }
    )


if __name__ == "__main__":
    main()
