"""SageMaker Python SDK v3 (3.27.0) against a live emulator: `HyperparameterTuner.tune()`
with a `ModelTrainer`, run in v3's own venv (v2 and v3 share the package name), with the
environment alone (v3 validates the execution role through IAM, as on AWS); and the README's
v3 example, run exactly as the README shows it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.sdk.conftest import Sdk, Unique

README_MARK = "<!-- sdk-v3-example -->"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_v3_tuner_tune_with_model_trainer(sdk_v3: Sdk, unique: Unique) -> None:
    name = unique("sdk-v3")
    result = sdk_v3.run("v3_tuner", job=name).result
    assert result["status"] == "Completed"
    assert result["completed"] == 3
    assert result["best"].startswith(f"{name}-")
    assert 0 < result["best_value"] <= 1
    best = result["best_hyperparameters"]
    assert 0.001 <= float(best["learning_rate"]) <= 0.5
    assert best["loss"] in ("log_loss", "hinge")


def readme_example() -> str:
    """The Python block that follows the README's v3 example mark: the one copy there is."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(re.escape(README_MARK) + r"\s*```python\n(.*?)```", text, re.DOTALL)
    assert found, f"README.md has no python block after {README_MARK}"
    return found.group(1)


def test_the_readme_v3_example_runs_as_shown(sdk_v3: Sdk, tmp_path: Path) -> None:
    program = tmp_path / "readme_v3_example.py"
    program.write_text(readme_example())
    run = sdk_v3.run_program(program, result=False)
    printed = re.search(r"^(\S+-\d{3}-[0-9a-f]{8}) ([0-9.]+)$", run.output, re.MULTILINE)
    assert printed, run.output[-2000:]
    best_name, best_value = printed.groups()
    sm = sdk_v3.server.sagemaker
    best = sm.describe_training_job(TrainingJobName=best_name)
    assert best["TrainingJobStatus"] == "Completed"
    assert "/sagemaker-xgboost:1.7-1" in best["AlgorithmSpecification"]["TrainingImage"]
    tuning = sm.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=best["TuningJobArn"].rsplit("/", 1)[-1]
    )
    assert tuning["HyperParameterTuningJobStatus"] == "Completed"
    assert tuning["TrainingJobStatusCounters"]["Completed"] == 4
    assert tuning["BestTrainingJob"]["TrainingJobName"] == best_name
    objective = tuning["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]
    assert objective["MetricName"] == "validation:auc"
    assert objective["Value"] == pytest.approx(float(best_value))
