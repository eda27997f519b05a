"""SDK v2 generic `Estimator` on a mapped image: `fit()` streaming the job's CloudWatch log,
`attach()`, and `TrainingJobAnalytics(...).dataframe()` over the CloudWatch metrics."""

from __future__ import annotations

import tempfile
from pathlib import Path

import harness
from sagemaker.analytics import TrainingJobAnalytics
from sagemaker.estimator import Estimator

METRICS = [
    {"Name": "validation:accuracy", "Regex": r"validation:accuracy=([0-9\.]+)"},
    {"Name": "train:loss", "Regex": r"train_loss=([0-9\.]+)"},
]


def main() -> None:
    a = harness.args()
    session = harness.v2_session(a["bucket"])
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "train.csv").write_text(digits_csv())
        train = session.upload_data(tmp, key_prefix=f"sdk-data/{a['job']}")
    estimator = Estimator(
        image_uri=harness.IMAGE,
        role=a["role"],
        instance_count=1,
        instance_type="ml.m5.large",
        metric_definitions=METRICS,
        hyperparameters={"epochs": 3, "learning_rate": 0.05},
        sagemaker_session=session,
    )
    estimator.fit({"train": train}, job_name=a["job"], logs="All")
    attached = Estimator.attach(a["job"], sagemaker_session=session)
    frame = TrainingJobAnalytics(a["job"], sagemaker_session=session).dataframe()
    harness.emit(
        {
            "status": estimator.latest_training_job.describe()["TrainingJobStatus"],
            "model_data": estimator.model_data,
            "train": train,
            "attached": {
                "hyperparameters": attached.hyperparameters(),
                "image_uri": attached.image_uri,
                "model_data": attached.model_data,
                "instance_type": attached.instance_type,
            },
            "metrics": sorted(frame["metric_name"].unique().tolist()),
            "accuracy": frame[frame["metric_name"] == "validation:accuracy"]["value"].tolist(),
        }
    )


def digits_csv() -> str:
    """A small CSV (label first) that the sklearn-sgd program trains on instead of its digits."""
    rows = []
    for i in range(120):
        label = i % 3
        features = [((i * 7 + j * 3) % 11) / 10 + label for j in range(4)]
        rows.append(",".join([str(label), *(f"{x:.2f}" for x in features)]))
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    main()
