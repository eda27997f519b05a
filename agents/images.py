"""What to run for a training image: a command the user mapped, or framework script mode.

Mapped images (`--image URI=COMMAND` or an `[images]` table; the key is an exact URI or an
fnmatch glob, exact first) run COMMAND, shlex-split. COMMAND plays the role of the image's
ENTRYPOINT: `ContainerEntrypoint` replaces it and `ContainerArguments` are appended, as
`docker run --entrypoint E image ARGS` does. `train` is NOT appended (docker's
`docker run image train`): a mapped command is a program that trains when run, and an image
whose entrypoint wants `train` can be mapped as `COMMAND train`.

SageMaker framework images (pytorch-training, sagemaker-scikit-learn, ...) run the user's
`sagemaker_program` from `sagemaker_submit_directory`, as the training toolkit does: `*.py`
with the local interpreter, anything else through `/bin/sh -c ./<program>`, with the user
hyperparameters as `--key value` arguments.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agents.contract import ClientError, decode_value, to_cmd_args, user_hyperparameters
from emulator.domain.builtin import builtin_for

FRAMEWORK_REPOS = re.compile(
    r"/(pytorch-training|mxnet-training|tensorflow-training|sagemaker-scikit-learn|"
    r"sagemaker-xgboost|huggingface-pytorch-training|huggingface-tensorflow-training|"
    r"pytorch-trcomp-training|huggingface-pytorch-trcomp-training|sagemaker-pytorch|"
    r"sagemaker-mxnet|sagemaker-tensorflow|sagemaker-chainer|sagemaker-rl-[a-z-]+)[:@]"
)
PROGRAM, SUBMIT_DIRECTORY = "sagemaker_program", "sagemaker_submit_directory"


class ImageError(ClientError):
    """The image cannot be run here: the request or the server's image map must change."""


@dataclass(frozen=True)
class Plan:
    argv: list[str]
    script_mode: bool = False
    submit_directory: str | None = None
    """Where the user's code comes from (script mode): s3://, file:// or a local path."""
    program: str = ""
    """The user entry point (script mode), e.g. `train.py`."""


def mapped_command(image: str, images: Mapping[str, str]) -> str | None:
    """The command mapped to `image`: an exact key first, then the first matching glob."""
    if image in images:
        return images[image]
    for pattern, command in images.items():
        if fnmatch.fnmatchcase(image, pattern):
            return command
    return None


def is_framework_image(image: str) -> bool:
    return FRAMEWORK_REPOS.search(image) is not None


def _toolkit_setting(job: Mapping[str, Any], name: str) -> str | None:
    """A toolkit parameter: `SAGEMAKER_<NAME>` in Environment wins over the hyperparameter."""
    environment = job.get("Environment") or {}
    if name.upper() in environment:
        return str(environment[name.upper()])
    raw = (job.get("HyperParameters") or {}).get(name)
    value = decode_value(raw) if raw is not None else None
    return str(value) if value not in (None, "") else None


def script_plan(job: Mapping[str, Any], image: str, python: str) -> Plan:
    program = _toolkit_setting(job, PROGRAM)
    if program is None:
        raise ImageError(
            f"ClientError: {image} is a SageMaker framework image, which runs your script: "
            f"set the {PROGRAM} hyperparameter (the SDK's entry_point) or map the image to "
            "a command with --image."
        )
    args = to_cmd_args(user_hyperparameters(job.get("HyperParameters") or {}))
    if program.endswith(".py"):
        argv = [python, program, *args]
    else:
        argv = ["/bin/sh", "-c", shlex.join([f"./{program}", *args])]
    return Plan(argv, True, _toolkit_setting(job, SUBMIT_DIRECTORY), program)


def plan(job: Mapping[str, Any], images: Mapping[str, str], python: str) -> Plan:
    """How to run this job's image, or ImageError saying how to make it runnable."""
    spec = job.get("AlgorithmSpecification") or {}
    image = spec.get("TrainingImage") or spec.get("AlgorithmName") or ""
    command = mapped_command(image, images)
    if command is not None:
        argv = list(spec.get("ContainerEntrypoint") or shlex.split(command))
        return Plan(argv + list(spec.get("ContainerArguments") or []))
    algorithm = builtin_for(image, program=_toolkit_setting(job, PROGRAM))
    if algorithm is not None:  # a built-in algorithm: its local stand-in in fixtures/
        return Plan(algorithm.argv(python))
    if is_framework_image(image):
        return script_plan(job, image, python)
    raise ImageError(
        f"ClientError: No local command is mapped to training image '{image}'. Start the "
        f"emulator with --image '{image}=<command>' (or an [images] table in --config) to "
        "run it, or use a SageMaker framework image with sagemaker_program for script mode."
    )
