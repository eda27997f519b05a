"""What to run for a training image: a command mapped by the user, or framework script mode.

Mapped images (`--image URI=COMMAND`, exact or glob) run COMMAND; ContainerEntrypoint replaces
it and ContainerArguments are appended, as with `docker run --entrypoint`. SageMaker framework
images run the user's `sagemaker_program` from `sagemaker_submit_directory`, as the training
toolkit does, with the local interpreter.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agents.contract import decode_value, user_hyperparameters

FRAMEWORK_REPOS = re.compile(
    r"/(pytorch-training|mxnet-training|tensorflow-training|sagemaker-scikit-learn|"
    r"sagemaker-xgboost|huggingface-pytorch-training|huggingface-tensorflow-training|"
    r"pytorch-trcomp-training|sagemaker-pytorch|sagemaker-mxnet|sagemaker-tensorflow)[:@]"
)


class ImageError(Exception):
    """The job cannot run: the user must change the request or the server's image map."""


@dataclass(frozen=True)
class Plan:
    argv: list[str]
    script_mode: bool = False
    submit_directory: str | None = None
    program: str = ""


def mapped_command(image: str, images: Mapping[str, str]) -> str | None:
    if image in images:
        return images[image]
    for pattern, command in images.items():
        if fnmatch.fnmatchcase(image, pattern):
            return command
    return None


def to_cmd_args(hyperparameters: Mapping[str, Any]) -> list[str]:
    """`--key value` pairs sorted by key (`-k` for one-letter keys), as the toolkit builds them."""
    args: list[str] = []
    for key in sorted(hyperparameters):
        value = hyperparameters[key]
        if isinstance(value, dict):
            text = ",".join(f"{k}={v}" for k, v in value.items())
        else:
            text = str(value)
        args += [f"-{key}" if len(key) == 1 else f"--{key}", text]
    return args


def plan(job: Mapping[str, Any], images: Mapping[str, str], python: str) -> Plan:
    spec = job.get("AlgorithmSpecification", {})
    image = spec.get("TrainingImage") or spec.get("AlgorithmName") or ""
    command = mapped_command(image, images)
    if command is not None:
        argv = list(spec.get("ContainerEntrypoint") or shlex.split(command))
        return Plan(argv + list(spec.get("ContainerArguments", [])))
    hps = job.get("HyperParameters", {})
    if FRAMEWORK_REPOS.search(image) and "sagemaker_program" in hps:
        program = str(decode_value(hps["sagemaker_program"]))
        directory = decode_value(hps.get("sagemaker_submit_directory", '""')) or None
        args = to_cmd_args(user_hyperparameters(hps))
        if program.endswith(".py"):
            argv = [python, program, *args]
        else:
            argv = ["/bin/sh", "-c", " ".join(shlex.quote(a) for a in [f"./{program}", *args])]
        return Plan(argv, True, str(directory) if directory else None, program)
    raise ImageError(
        f"ClientError: No local command is mapped to training image '{image}'. Start the "
        f"emulator with --image '{image}=<command>' (or an [images] table in --config) to run "
        "it, or use a SageMaker framework image with sagemaker_program for script mode."
    )
