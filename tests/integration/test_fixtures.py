"""The training fixtures run through the container contract (a job directory, its
hyperparameters.json, SAGEMAKER_BASE_DIR) and print lines the official regexes parse."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agents import images
from agents.metrics import MetricExtractor
from emulator.domain.builtin import builtin_for

ROOT = Path(__file__).resolve().parents[2]
IC_IMAGE = "433757028032.dkr.ecr.us-west-2.amazonaws.com/image-classification:1"
XGB_IMAGE = "246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-xgboost:1.7-1"
HAS_TORCH = importlib.util.find_spec("torch") is not None
IC_STATIC = {
    "num_classes": "10",
    "num_training_samples": "600",
    "image_shape": "1,8,8",
    "num_layers": "18",
    "epochs": "2",
    "optimizer": "adam",
    "learning_rate": "0.01",
    "mini_batch_size": "64",
}


def run_builtin(
    image: str, hyperparameters: dict[str, str], base: Path, *, python: tuple[str, ...] = ()
) -> tuple[int, str]:
    """Run the built-in algorithm's command as the agent would; (exit status, output)."""
    algorithm = builtin_for(image)
    assert algorithm is not None
    (base / "input" / "config").mkdir(parents=True)
    (base / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(base), "OMP_NUM_THREADS": "1"}
    argv = algorithm.argv(sys.executable)
    done = subprocess.run(
        [argv[0], *python, *argv[1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def metrics(image: str, output: str) -> dict[str, list[float]]:
    algorithm = builtin_for(image)
    assert algorithm is not None
    extractor = MetricExtractor.from_definitions(algorithm.metric_definitions)
    found: dict[str, list[float]] = {}
    for line in output.splitlines():
        for name, value in extractor.extract(line):
            found.setdefault(name, []).append(value)
    return found


@pytest.mark.slow
@pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed (pip install .[torch])")
def test_image_classification_trains_two_epochs_and_reports_official_metrics(tmp_path):
    rc, output = run_builtin(IC_IMAGE, {**IC_STATIC, "top_k": "2"}, tmp_path)
    assert rc == 0, output
    found = metrics(IC_IMAGE, output)
    assert len(found["validation:accuracy"]) == 2
    assert len(found["train:accuracy"]) == 2
    assert all(0.0 <= v <= 1.0 for v in found["validation:accuracy"])
    assert found["validation:accuracy"][-1] > 0.5  # adam at 0.01 learns the digits quickly
    assert "Epoch[1] Train-top_k_accuracy_2=" in output
    assert (tmp_path / "model" / "model.pt").is_file()


@pytest.mark.slow
@pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed (pip install .[torch])")
def test_image_classification_is_deterministic_for_a_seed(tmp_path):
    outputs = []
    for attempt in ("a", "b"):
        rc, output = run_builtin(IC_IMAGE, {**IC_STATIC, "seed": "7"}, tmp_path / attempt)
        assert rc == 0, output
        outputs.append(metrics(IC_IMAGE, output))
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"optimizer": "lbfgs"}, "optimizer must be one of sgd, adam, rmsprop, nag"),
        ({"learning_rate": "1.5"}, "learning_rate must be in [0, 1]"),
        ({"num_layers": "19"}, "num_layers must be one of"),
        ({"top_k": "1"}, "top_k must be an integer >= 2"),
        ({"image_shape": "3,224"}, "image_shape must be 'channels,height,width'"),
        ({"num_classes": "5"}, "smaller than the 10 classes"),
        ({"colour": "red"}, "Additional hyperparameters are not allowed ('colour'"),
    ],
)
def test_image_classification_refuses_what_the_real_one_refuses(tmp_path, change, reason):
    rc, _ = run_builtin(IC_IMAGE, {**IC_STATIC, **change}, tmp_path)
    assert rc == 1
    failure = (tmp_path / "output" / "failure").read_text()
    assert failure.startswith("ClientError: Invalid hyperparameter")
    assert reason in failure


def test_image_classification_without_torch_says_how_to_get_it(tmp_path):
    # `python -S` hides site-packages, where torch lives; the fixture needs only the stdlib
    # to get as far as looking for torch.
    rc, _ = run_builtin(IC_IMAGE, IC_STATIC, tmp_path, python=("-S",))
    assert rc == 1
    assert "install the torch extra" in (tmp_path / "output" / "failure").read_text()


@pytest.mark.slow
def test_xgboost_reports_rounds_with_the_tuning_objective(tmp_path):
    hyperparameters = {
        "num_round": "3",
        "objective": "binary:logistic",
        "eta": "0.3",
        "max_depth": "3",
        "subsample": "0.8",
        "eval_metric": "error",
        "_tuning_objective_metric": "validation:auc",
    }
    rc, output = run_builtin(XGB_IMAGE, hyperparameters, tmp_path)
    assert rc == 0, output
    found = metrics(XGB_IMAGE, output)
    for name in ("train:logloss", "validation:logloss", "validation:error", "validation:auc"):
        assert len(found[name]) == 3, name
    assert found["validation:logloss"][2] < found["validation:logloss"][0]
    assert 0.5 < found["validation:auc"][-1] <= 1.0
    assert "validation:rmse" not in found
    assert (tmp_path / "model" / "xgboost-model").is_file()


@pytest.mark.slow
def test_xgboost_trains_on_csv_channels(tmp_path):
    data = tmp_path / "input" / "data"
    rows = [f"{i % 2},{i},{(i * 7) % 5}" for i in range(60)]
    for channel in ("train", "validation"):
        (data / channel).mkdir(parents=True)
        (data / channel / "part.csv").write_text("\n".join(rows))
    hyperparameters = {"num_round": "2", "objective": "reg:squarederror"}
    rc, output = run_builtin(XGB_IMAGE, hyperparameters, tmp_path)
    assert rc == 0, output
    assert len(metrics(XGB_IMAGE, output)["validation:rmse"]) == 2


@pytest.mark.parametrize(
    ("hyperparameters", "reason"),
    [
        ({"eta": "0.1"}, "Missing required hyperparameter: num_round"),
        ({"num_round": "2", "eta": "2"}, "eta must be a number in [0, 1]"),
        ({"num_round": "2", "subsample": "0"}, "subsample must be a number in (0, 1]"),
        ({"num_round": "2", "objective": "rank:pairwise"}, "objective must be one of"),
        ({"num_round": "2", "objective": "multi:softmax"}, "num_class is required"),
        (
            {"num_round": "2", "objective": "binary:logistic", "eval_metric": "rmse"},
            "eval_metric 'rmse' is not available",
        ),
    ],
)
def test_xgboost_refuses_invalid_hyperparameters(tmp_path, hyperparameters, reason):
    rc, _ = run_builtin(XGB_IMAGE, hyperparameters, tmp_path)
    assert rc == 1
    assert reason in (tmp_path / "output" / "failure").read_text()


@pytest.mark.slow
def test_script_mode_example_runs_through_a_framework_image(tmp_path):
    job = {
        "AlgorithmSpecification": {
            "TrainingImage": "763104351884.dkr.ecr.us-west-2.amazonaws.com/"
            "pytorch-training:2.1-cpu-py310"
        },
        "HyperParameters": {
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": '"file://fixtures/algorithms/script_mode"',
            "epochs": "2",
            "learning_rate": '"0.01"',
            "optimizer": '"Adam"',
        },
    }
    plan = images.plan(job, {}, sys.executable)
    assert plan.script_mode
    env = {**os.environ, "SM_MODEL_DIR": str(tmp_path / "model"), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        plan.argv,
        cwd=ROOT / "fixtures" / "algorithms" / "script_mode",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seed_definition = {"Name": "Validation-accuracy", "Regex": "Validation-accuracy=([0-9\\.]+)"}
    extractor = MetricExtractor.from_definitions([seed_definition])
    values = [v for line in done.stdout.splitlines() for _, v in extractor.extract(line)]
    assert len(values) == 2
    assert values[-1] > 0.5
    assert (tmp_path / "model" / "model.pkl").is_file()
