"""SDK v2 framework estimators in script mode (`PyTorch`, `SKLearn`): the SDK uploads
`source_dir` as sourcedir.tar.gz, the emulator runs the entry point with the local Python;
`fit()` streams the log, `attach()` rebuilds the estimator from the job."""

from __future__ import annotations

from typing import Any

import harness


def estimator(kind: str, session: Any, role: str, **kwargs: Any) -> Any:
    """A framework estimator of `kind` running `framework_train.py` from this directory."""
    common = {
        "entry_point": "framework_train.py",
        "source_dir": str(harness.HERE),
        "role": role,
        "instance_count": 1,
        "instance_type": "ml.m5.large",
        "sagemaker_session": session,
        **kwargs,
    }
    if kind == "pytorch":
        from sagemaker.pytorch import PyTorch

        return PyTorch(framework_version="2.1", py_version="py310", **common)
    from sagemaker.sklearn import SKLearn

    return SKLearn(framework_version="1.2-1", py_version="py3", **common)


def framework_class(kind: str) -> Any:
    if kind == "pytorch":
        from sagemaker.pytorch import PyTorch

        return PyTorch
    from sagemaker.sklearn import SKLearn

    return SKLearn


def main() -> None:
    a = harness.args()
    session = harness.v2_session(a["bucket"])
    train = session.upload_string_as_file_body(
        "1,2\n3,4\n5,6\n", a["bucket"], f"sdk-data/{a['job']}/train/data.csv"
    )
    est = estimator(
        a["kind"],
        session,
        a["role"],
        hyperparameters={"epochs": 2, "learning_rate": 0.1, "optimizer": "Adam"},
        metric_definitions=[
            {"Name": "Validation-accuracy", "Regex": r"Validation-accuracy=([0-9\.]+)"}
        ],
    )
    est.fit({"train": train.rsplit("/", 1)[0]}, job_name=a["job"], logs="All")
    attached = framework_class(a["kind"]).attach(a["job"], sagemaker_session=session)
    description = est.latest_training_job.describe()
    harness.emit(
        {
            "status": description["TrainingJobStatus"],
            "image": description["AlgorithmSpecification"]["TrainingImage"],
            "final_metrics": description.get("FinalMetricDataList", []),
            "attached": {
                "entry_point": attached.entry_point,
                "source_dir": attached.source_dir,
                "hyperparameters": attached.hyperparameters(),
                "framework_version": attached.framework_version,
                "training_image_uri": attached.training_image_uri(),
            },
        }
    )


if __name__ == "__main__":
    main()
