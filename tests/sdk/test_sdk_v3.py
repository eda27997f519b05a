"""SageMaker Python SDK v3 (3.27.0) against a live emulator: `HyperparameterTuner.tune()`
with a `ModelTrainer`, run in v3's own venv (v2 and v3 share the package name)."""

from __future__ import annotations

import pytest

from tests.sdk.conftest import Sdk, Unique

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
