"""Benchmark problems for the tuning-quality benchmark, each stated as SageMaker ParameterRanges.

Every problem is what a tuning job sees: ParameterRanges, an objective type, and a function from
a configuration (hyperparameter name -> string value, as in TunedHyperParameters) to the final
objective value. The same `SearchSpace` built from the ranges drives every optimiser compared.

- `branin` (2-d, three global minima) and `hartmann6` (6-d, one narrow basin) are the classic
  synthetic test functions of the Bayesian-optimisation literature.
- `mixed` looks like the seed experiments' spaces: a log-scaled learning rate, an integer batch
  size and a categorical optimiser, with a smooth made-up validation loss in which the best
  learning rate depends on both the optimiser and the batch size (the linear-scaling rule).
- `categorical` is the space SageMaker users tune most after learning rates: five categorical
  choices of a network's recipe (optimiser, activation, normalisation, initialiser, schedule) and
  one log-scaled learning rate, with interactions (He initialisation suits ReLU-like activations,
  normalisation rescues plain SGD, the best learning rate moves with the optimiser).
- `integers` has integer ranges only, two of them Logarithmic: layers, units, batch size and
  epochs of a made-up network, the loss trading under- against over-capacity and under- against
  over-training, the epochs needed growing with the batch size.
- `svc_digits` and `sgd_cancer` are real training on scikit-learn's bundled datasets, small
  enough that one evaluation takes a few tens of milliseconds: an RBF SVM's cross-validated
  accuracy (Maximize) and an elastic-net SGD classifier's cross-validated accuracy (Maximize).
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from emulator.tuner.model import Config, ObjectiveType


@dataclass(frozen=True)
class Problem:
    name: str
    ranges: dict[str, Any]
    """ParameterRanges exactly as CreateHyperParameterTuningJob takes them."""
    objective_type: ObjectiveType
    evaluate: Callable[[Config], float]
    optimum: float | None = None
    """Best value attainable, where known (for the table's regret column)."""


def _continuous(name: str, low: float, high: float, scaling: str = "Linear") -> dict[str, str]:
    return {"Name": name, "MinValue": str(low), "MaxValue": str(high), "ScalingType": scaling}


def _branin(c: Config) -> float:
    x1, x2 = float(c["x1"]), float(c["x2"])
    b, cc, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + cc * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


def _hartmann6(c: Config) -> float:
    x = np.array([float(c[f"x{i}"]) for i in range(6)])
    return float(-np.sum(_H6_ALPHA * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


_OPTIMISERS = {
    # name: (best log10 learning rate at batch 64, loss floor, tolerance in decades)
    "sgd": (-1.0, 0.30, 0.7),
    "nag": (-1.3, 0.27, 0.8),
    "adam": (-3.0, 0.24, 1.1),
    "rmsprop": (-2.8, 0.28, 0.9),
}


def _mixed(c: Config) -> float:
    """Validation loss: a bowl in log learning rate whose centre moves with the batch size."""
    centre, floor, width = _OPTIMISERS[c["optimizer"]]
    batch = int(c["batch_size"])
    shift = math.log10(batch / 64)  # linear scaling: double the batch, double the rate
    u = (math.log10(float(c["learning_rate"])) - centre - shift) / width
    return floor + 0.8 * (1 - math.exp(-0.5 * u**2)) + 0.01 * (math.log2(batch) - 5.5) ** 2


# name: (best log10 learning rate, effect on the loss)
_RECIPE_OPTIMISERS = {
    "sgd": (-1.0, 0.12),
    "momentum": (-1.7, 0.05),
    "adam": (-3.2, 0.02),
    "adamw": (-3.0, 0.0),
    "rmsprop": (-3.5, 0.06),
}
_ACTIVATIONS = {"relu": 0.02, "gelu": 0.0, "tanh": 0.05, "sigmoid": 0.12}
_NORMALISATIONS = {"none": 0.06, "batch": 0.0, "layer": 0.01}
_INITIALISERS = {"xavier", "he", "normal"}
_SCHEDULES = {"constant": 0.04, "step": 0.015, "cosine": 0.0}


def _categorical(c: Config) -> float:
    """Validation loss of a network recipe: additive effects, two interactions, a bowl in log
    learning rate whose centre is the optimiser's."""
    opt, act, norm, init = c["optimizer"], c["activation"], c["normalization"], c["initializer"]
    centre, opt_effect = _RECIPE_OPTIMISERS[opt]
    loss = 0.15 + opt_effect + _ACTIVATIONS[act] + _NORMALISATIONS[norm] + _SCHEDULES[c["schedule"]]
    relu_like = act in ("relu", "gelu")
    loss += 0.0 if (init == "he") == relu_like else 0.05
    loss += 0.03 if init == "normal" else 0.0
    if opt in ("sgd", "momentum") and norm == "none":
        loss += 0.1  # plain SGD without normalisation trains badly
    u = (math.log10(float(c["learning_rate"])) - centre) / 0.8
    return loss + 0.5 * (1 - math.exp(-0.5 * u**2))


def _integers(c: Config) -> float:
    """Validation loss of a made-up network sized and trained by integers only."""
    layers, units = int(c["layers"]), int(c["units"])
    batch, epochs = int(c["batch_size"]), int(c["epochs"])
    capacity = math.log2(units) + 1.5 * math.log2(layers)
    needed = 12.0 * math.sqrt(batch / 32)  # epochs to converge grow with the batch
    return (
        0.1
        + 0.02 * (capacity - 10.5) ** 2
        + 0.4 * math.exp(-epochs / needed)
        + 0.003 * max(0.0, epochs - 3 * needed)
        + 0.01 * (math.log2(batch) - 5.0) ** 2
    )


def _integer(name: str, low: int, high: int, scaling: str = "Linear") -> dict[str, str]:
    return {"Name": name, "MinValue": str(low), "MaxValue": str(high), "ScalingType": scaling}


@functools.cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return x[:450] / 16.0, y[:450]


def _svc_digits(c: Config) -> float:
    from sklearn.model_selection import cross_val_score
    from sklearn.svm import SVC

    x, y = _digits()
    model = SVC(C=float(c["C"]), gamma=float(c["gamma"]))
    return float(cross_val_score(model, x, y, cv=3).mean())


@functools.cache
def _cancer() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    x, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(x), y


def _sgd_cancer(c: Config) -> float:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import SGDClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    x, y = _cancer()
    model = SGDClassifier(
        loss=c["loss"],
        penalty="elasticnet",
        alpha=float(c["alpha"]),
        l1_ratio=float(c["l1_ratio"]),
        learning_rate="constant",
        eta0=float(c["eta0"]),
        max_iter=int(c["epochs"]),
        tol=None,
        random_state=0,
    )
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return float(cross_val_score(model, x, y, cv=folds).mean())


PROBLEMS: tuple[Problem, ...] = (
    Problem(
        "branin",
        {"ContinuousParameterRanges": [_continuous("x1", -5, 10), _continuous("x2", 0, 15)]},
        "Minimize",
        _branin,
        0.397887,
    ),
    Problem(
        "hartmann6",
        {"ContinuousParameterRanges": [_continuous(f"x{i}", 0, 1) for i in range(6)]},
        "Minimize",
        _hartmann6,
        -3.32237,
    ),
    Problem(
        "mixed",
        {
            "ContinuousParameterRanges": [
                _continuous("learning_rate", 0.0001, 1, "Logarithmic"),
            ],
            "IntegerParameterRanges": [
                {"Name": "batch_size", "MinValue": "16", "MaxValue": "256", "ScalingType": "Linear"}
            ],
            "CategoricalParameterRanges": [
                {"Name": "optimizer", "Values": ["sgd", "adam", "rmsprop", "nag"]}
            ],
        },
        "Minimize",
        _mixed,
        0.24,
    ),
    Problem(
        "categorical",
        {
            "ContinuousParameterRanges": [
                _continuous("learning_rate", 0.00001, 1, "Logarithmic"),
            ],
            "CategoricalParameterRanges": [
                {"Name": "optimizer", "Values": list(_RECIPE_OPTIMISERS)},
                {"Name": "activation", "Values": list(_ACTIVATIONS)},
                {"Name": "normalization", "Values": list(_NORMALISATIONS)},
                {"Name": "initializer", "Values": sorted(_INITIALISERS)},
                {"Name": "schedule", "Values": list(_SCHEDULES)},
            ],
        },
        "Minimize",
        _categorical,
        0.15,
    ),
    Problem(
        "integers",
        {
            "IntegerParameterRanges": [
                _integer("layers", 1, 8),
                _integer("units", 8, 1024, "Logarithmic"),
                _integer("batch_size", 8, 1024, "Logarithmic"),
                _integer("epochs", 1, 100),
            ]
        },
        "Minimize",
        _integers,
        0.119915,
    ),
    Problem(
        "svc_digits",
        {
            "ContinuousParameterRanges": [
                _continuous("C", 0.01, 1000, "Logarithmic"),
                _continuous("gamma", 0.00001, 1, "Logarithmic"),
            ]
        },
        "Maximize",
        _svc_digits,
    ),
    Problem(
        "sgd_cancer",
        {
            "ContinuousParameterRanges": [
                _continuous("alpha", 0.000001, 0.1, "Logarithmic"),
                _continuous("l1_ratio", 0, 1),
                _continuous("eta0", 0.0001, 1, "Logarithmic"),
            ],
            "IntegerParameterRanges": [
                {"Name": "epochs", "MinValue": "1", "MaxValue": "20", "ScalingType": "Linear"}
            ],
            "CategoricalParameterRanges": [
                {"Name": "loss", "Values": ["hinge", "log_loss", "modified_huber"]}
            ],
        },
        "Maximize",
        _sgd_cancer,
    ),
)
