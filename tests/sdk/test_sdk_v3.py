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

README_MARK = "<!-- sdk-v3:"

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


def readme_programs() -> dict[str, str]:
    """Every Python block after a `<!-- sdk-v3: PATH -->` mark in the README, by PATH: the one
    copy there is."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.findall(re.escape(README_MARK) + r" (\S+) -->\s*```python\n(.*?)```", text, re.S)
    return dict(found)


def test_the_readme_v3_examples_run_as_shown(sdk_v3: Sdk, tmp_path: Path) -> None:
    programs = readme_programs()
    assert list(programs) == ["prepare.py", "tune_xgboost.py", "code/train.py", "tune_script.py"]
    for path, text in programs.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    sdk_v3.run_program(tmp_path / "prepare.py", result=False, cwd=tmp_path)
    for program, image, metric in (
        ("tune_xgboost.py", "/sagemaker-xgboost:1.7-1", "validation:auc"),
        ("tune_script.py", "/sagemaker-scikit-learn:1.2-1-cpu-py3", "validation:accuracy"),
    ):
        run = sdk_v3.run_program(tmp_path / program, result=False, cwd=tmp_path)
        check_best(sdk_v3, run.output, image, metric)


def check_best(sdk: Sdk, output: str, image: str, metric: str) -> None:
    """The best job a README program printed is its tuning job's best, as the API says."""
    printed = re.search(r"^(\S+-\d{3}-[0-9a-f]{8}) ([0-9.]+)$", output, re.MULTILINE)
    assert printed, output[-2000:]
    best_name, best_value = printed.groups()
    sm = sdk.server.sagemaker
    best = sm.describe_training_job(TrainingJobName=best_name)
    assert best["TrainingJobStatus"] == "Completed"
    assert best["AlgorithmSpecification"]["TrainingImage"].endswith(image)
    tuning = sm.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=best["TuningJobArn"].rsplit("/", 1)[-1]
    )
    assert tuning["HyperParameterTuningJobStatus"] == "Completed"
    assert tuning["TrainingJobStatusCounters"]["Completed"] == 4
    assert tuning["BestTrainingJob"]["TrainingJobName"] == best_name
    objective = tuning["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]
    assert objective["MetricName"] == metric
    assert objective["Value"] == pytest.approx(float(best_value))
