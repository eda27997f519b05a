"""SageMaker's built-in algorithms, played by the fixtures in `fixtures/algorithms/`.

A built-in algorithm is named by its ECR image: `<account>.dkr.ecr.<region>.amazonaws.com
/<repository>:<tag>`. Accounts differ per region and tags per version, so only the repository
name selects the algorithm here: `image-classification` (any tag), `xgboost` (the legacy
image) and `sagemaker-xgboost` (the current one; it is also a framework image, and runs the
user's script instead when `sagemaker_program` is set).

Each algorithm brings its official metric definitions (the regexes SageMaker applies to its
log), so requests that name only the image and an objective such as `validation:accuracy`
work as they do on SageMaker: no MetricDefinitions, no `--image` mapping.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "algorithms"
REPOSITORY = re.compile(r"^(?:[^/]+/)*(?P<name>[^/:@]+)(?::[^/:@]+)?(?:@[^/]+)?$")
XGBOOST_REGEX = r".*\[[0-9]+\].*#011{}:([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?).*"
XGBOOST_METRICS = (
    "accuracy",
    "auc",
    "aucpr",
    "error",
    "f1",
    "logloss",
    "mae",
    "merror",
    "mlogloss",
    "mse",
    "r2",
    "rmse",
)


@dataclass(frozen=True)
class BuiltinAlgorithm:
    """A built-in algorithm: the fixture that plays it and the metrics it publishes."""

    name: str
    script: Path
    metric_definitions: tuple[dict[str, str], ...]
    framework: bool = False
    """True when the image is also a framework image (script mode with `sagemaker_program`)."""

    def argv(self, python: str) -> list[str]:
        return [python, str(self.script)]

    @property
    def metric_names(self) -> list[str]:
        return [d["Name"] for d in self.metric_definitions]


def _image_classification_metrics() -> tuple[dict[str, str], ...]:
    return (
        {"Name": "train:accuracy", "Regex": r".*Train-accuracy=(\S*)"},
        {"Name": "validation:accuracy", "Regex": r".*Validation-accuracy=(\S*)"},
    )


def _xgboost_metrics() -> tuple[dict[str, str], ...]:
    """`[round]#011train-NAME:VALUE#011validation-NAME:VALUE` (#011 is the tab, as the
    CloudWatch log shows it), one definition per channel and metric."""
    return tuple(
        {
            "Name": f"{channel}:{metric}",
            "Regex": XGBOOST_REGEX.format(f"{channel}-{metric}"),
        }
        for channel in ("train", "validation")
        for metric in XGBOOST_METRICS
    )


_IMAGE_CLASSIFICATION = BuiltinAlgorithm(
    "image-classification",
    FIXTURES / "image_classification.py",
    _image_classification_metrics(),
)
_XGBOOST = BuiltinAlgorithm("xgboost", FIXTURES / "xgboost_tabular.py", _xgboost_metrics())
REGISTRY: dict[str, BuiltinAlgorithm] = {
    "image-classification": _IMAGE_CLASSIFICATION,
    "xgboost": _XGBOOST,
    "sagemaker-xgboost": BuiltinAlgorithm(
        "sagemaker-xgboost", _XGBOOST.script, _XGBOOST.metric_definitions, framework=True
    ),
}


def repository(image: str) -> str | None:
    """The repository name of an image URI (`.../xgboost:1.7-1` -> `xgboost`)."""
    match = REPOSITORY.match(image.strip())
    return match.group("name") if match else None


def builtin_for(image: str, program: str | None = None) -> BuiltinAlgorithm | None:
    """The built-in algorithm `image` names, or None. A framework image with a user
    `program` (script mode) is not the built-in algorithm."""
    algorithm = REGISTRY.get(repository(image) or "")
    if algorithm is None or (algorithm.framework and program):
        return None
    return algorithm


def builtin_metrics(image: str) -> list[str]:
    """The metric names a tuning objective may use with `image` without MetricDefinitions."""
    algorithm = builtin_for(image)
    return algorithm.metric_names if algorithm else []


def metric_definitions_for(spec: Mapping[str, Any], program: str | None) -> list[dict[str, str]]:
    """The definitions to apply to a job's log: the AlgorithmSpecification's own, else those
    of the built-in algorithm its image names (`program`: the script-mode entry point, if any).
    """
    own = list(spec.get("MetricDefinitions") or [])
    if own:
        return own
    image = spec.get("TrainingImage") or spec.get("AlgorithmName") or ""
    algorithm = builtin_for(image, program)
    return [dict(d) for d in algorithm.metric_definitions] if algorithm else []
