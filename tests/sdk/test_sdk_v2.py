"""SageMaker Python SDK v2 (2.257.7), unmodified, against a live emulator: estimators, the
tuner, analytics, and the seed notebooks' code adapted only in session set-up, data location
and image. Each test runs a program from `scripts/` in the SDK's own venv."""

from __future__ import annotations

import math
import re

import pytest

from tests.requests import BUCKET
from tests.sdk.conftest import Sdk, Unique

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_estimator_fit_streams_logs_attach_and_training_analytics(
    sdk_v2: Sdk, unique: Unique
) -> None:
    job = unique("sdk-est")
    run = sdk_v2.run("v2_estimator", job=job)
    result = run.result
    assert result["status"] == "Completed"
    assert result["train"] == f"s3://{BUCKET}/sdk-data/{job}"
    epochs = re.findall(r"epoch=(\d) train_loss=[0-9.]+ validation:accuracy", run.output)
    assert epochs == ["1", "2", "3"]  # the log streamed by fit(logs="All")
    assert result["model_data"].endswith(f"/{job}/output/model.tar.gz")
    attached = result["attached"]
    assert attached["hyperparameters"] == {"epochs": "3", "learning_rate": "0.05"}
    assert attached["image_uri"] == "local/sklearn-sgd:latest"
    assert attached["model_data"] == result["model_data"]
    assert attached["instance_type"] == "ml.m5.large"
    assert result["metrics"] == ["train:loss", "validation:accuracy"]
    printed = [float(x) for x in re.findall(r"validation:accuracy=([0-9.]+)", run.output)]
    # per-minute averages of the printed points (Period=60)
    assert result["accuracy"]
    assert all(min(printed) - 1e-9 <= v <= max(printed) + 1e-9 for v in result["accuracy"])


@pytest.mark.parametrize(
    ("kind", "repository"),
    [("pytorch", "pytorch-training"), ("sklearn", "sagemaker-scikit-learn")],
)
def test_framework_estimator_script_mode_fit_and_attach(
    sdk_v2: Sdk, unique: Unique, kind: str, repository: str
) -> None:
    job = unique(f"sdk-{kind}")
    run = sdk_v2.run("v2_framework", job=job, kind=kind)
    result = run.result
    assert result["status"] == "Completed"
    assert f"/{repository}:" in result["image"]
    assert "rows=3 optimizer=Adam" in run.output  # the script read the uploaded channel
    assert re.findall(r"Epoch\[(\d)\] Validation-accuracy", run.output) == ["1", "2"]
    assert [m["MetricName"] for m in result["final_metrics"]] == ["Validation-accuracy"]
    attached = result["attached"]
    assert attached["entry_point"] == "framework_train.py"
    assert attached["source_dir"].startswith(f"s3://{BUCKET}/{job}/source/sourcedir.tar.gz")
    # Framework.hyperparameters() JSON-encodes every value, as the SDK sends them
    assert {k: attached["hyperparameters"][k] for k in ("epochs", "optimizer")} == {
        "epochs": "2",
        "optimizer": '"Adam"',
    }
    # the framework version is parsed back from the image, which the estimator rebuilds
    assert attached["framework_version"] == ("2.1" if kind == "pytorch" else "1.2-1")
    assert attached["training_image_uri"] == result["image"]


def test_tuner_fit_best_attach_analytics_and_warm_start_helpers(
    sdk_v2: Sdk, unique: Unique
) -> None:
    name = unique("sdk-tune")
    result = sdk_v2.run("v2_tuner", job=name).result
    parent = result["parent"]
    assert parent["status"] == "Completed"
    assert parent["counters"]["Completed"] == 3
    rows = parent["rows"]
    assert len(rows) == 3
    values = [r["FinalObjectiveValue"] for r in rows]
    assert values == sorted(values, reverse=True)
    assert rows[0]["TrainingJobName"] == parent["best"]
    assert parent["best_value"] == pytest.approx(values[0])
    assert {"TrainingElapsedTimeSeconds", "TrainingJobStatus", "loss"} <= set(parent["columns"])
    assert all(0.001 <= r["learning_rate"] <= 0.5 for r in rows)

    best = result["best_estimator"]
    assert best["job"] == parent["best"]
    assert best["hyperparameters"]["epochs"] == "2"
    assert best["hyperparameters"]["loss"] in ("log_loss", "hinge", "modified_huber")
    assert best["model_data"].endswith(f"/{parent['best']}/output/model.tar.gz")

    attached = result["attached"]
    assert attached["objective"] == "validation:accuracy"
    assert attached["max_jobs"] == 3 and attached["max_parallel_jobs"] == 2
    assert attached["image"] == "local/sklearn-sgd:latest"
    assert attached["ranges"]["ContinuousParameterRanges"][0]["Name"] == "learning_rate"
    assert attached["ranges"]["CategoricalParameterRanges"][0]["Values"] == [
        "log_loss",
        "hinge",
        "modified_huber",
    ]
    assert attached["metric_definitions"][0]["Name"] == "validation:accuracy"
    assert attached["static"] == {"epochs": "2", "alpha": "0.0001"}

    identical, transfer = result["identical"], result["transfer"]
    assert identical["warm_start"] == {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": name}],
        "WarmStartType": "IdenticalDataAndAlgorithm",
    }
    assert transfer["warm_start"]["WarmStartType"] == "TransferLearning"
    assert sorted(
        p["HyperParameterTuningJobName"]
        for p in transfer["warm_start"]["ParentHyperParameterTuningJobs"]
    ) == sorted([name, f"{name}-ida"])
    assert transfer["static"]["alpha"] == "0.001"
    for child in (identical, transfer):
        assert child["status"] == "Completed"
        assert len(child["rows"]) == 3  # the child's own jobs only, not the parents'
    assert identical["overall_best"] is not None  # best over the child and its parent


def test_tuner_stop_completion_criteria_and_failure(sdk_v2: Sdk, unique: Unique) -> None:
    result = sdk_v2.run("v2_tuner_ending", job=unique("sdk-end")).result
    stopped = result["stopped"]
    assert stopped["status"] == "Stopped"
    assert stopped["counters"]["Completed"] == 0
    assert stopped["job_statuses"] and set(stopped["job_statuses"]) == {"Stopped"}
    criteria = result["criteria"]
    assert criteria["criteria"] == {"TargetObjectiveMetricValue": 0.05}
    assert criteria["status"] == "Completed"
    assert criteria["counters"]["Completed"] == 1  # the target was met by the first job
    assert criteria["best"]
    failed = result["failed"]
    reason = (
        "No training job succeeded after 5 attempts. Please take a look at the training job "
        "failures to get more details."
    )
    assert f"Failed. Reason: {reason}." in failed["raised"]
    assert (failed["status"], failed["reason"], failed["ended"]) == ("Failed", reason, True)
    counters = failed["counters"]
    assert counters["InProgress"] == counters["Completed"] == 0
    assert 5 <= counters["NonRetryableError"] <= 6  # the 5th failure, and one still running


def test_seed_early_stopping_comparison(sdk_v2: Sdk, unique: Unique) -> None:
    result = sdk_v2.run("seed_early_stopping", job=unique("seed-es")).result
    off, auto = result["off"], result["auto"]
    assert off["early_stopping_type"] == "Off"
    assert auto["early_stopping_type"] == "Auto"
    for table in (off, auto):
        assert table["rows"] == 4
        assert table["top"] == sorted(table["top"], reverse=True)
        assert all(0 < v <= 1 for v in table["top"])
        assert table["total_time_hours"] > 0
    assert off["status_counts"] == {"Completed": 4}
    assert set(auto["status_counts"]) <= {"Completed", "Stopped"}
    assert len(auto["stopped"]) == auto["status_counts"].get("Stopped", 0)


def test_seed_warm_start_sequence(sdk_v2: Sdk, unique: Unique) -> None:
    prefix = unique("seed-ws")
    parent, warm, transfer = sdk_v2.run("seed_warm_start", job=prefix).result["jobs"]
    for job in (parent, warm, transfer):
        assert job["status"] == "Completed"
        assert len(job["values"]) == 3
        assert job["values"] == sorted(job["values"], reverse=True)
    assert parent["warm_start"] is None
    assert warm["warm_start"] == {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": f"{prefix}-parent"}],
        "WarmStartType": "IdenticalDataAndAlgorithm",
    }
    assert transfer["warm_start"]["WarmStartType"] == "TransferLearning"
    assert {
        p["HyperParameterTuningJobName"]
        for p in transfer["warm_start"]["ParentHyperParameterTuningJobs"]
    } == {f"{prefix}-parent", f"{prefix}-warm"}
    assert parent["static"]["augmentation_type"] == "crop"
    assert transfer["static"]["augmentation_type"] == "crop_color_transform"


def test_seed_custom_metric_regex_with_framework_estimator(sdk_v2: Sdk, unique: Unique) -> None:
    result = sdk_v2.run("seed_custom_metric", job=unique("seed-mx")).result
    assert result["started"] == "InProgress"
    assert result["status"] == "Completed"
    rows = result["rows"]
    assert len(rows) == 3
    assert rows[0]["TrainingJobName"] == result["best"]
    values = [r["FinalObjectiveValue"] for r in rows]
    assert values == sorted(values, reverse=True)
    for row in rows:
        assert row["optimizer"] in ('"sgd"', '"Adam"')  # Framework estimators JSON-quote
        assert 1 <= row["num_epoch"] <= 3
        # the metric the regex read is the last epoch's line the script printed
        bonus = 0.05 if row["optimizer"] == '"Adam"' else 0.0
        expected = 0.9 - abs(math.log10(row["learning_rate"]) + 1.0) / 4 + bonus
        assert row["FinalObjectiveValue"] == pytest.approx(
            expected + row["num_epoch"] / 100, abs=1e-4
        )
