"""Which runtime runs a job: `--runtime process | container | auto`, on `amt serve` (its local
agents) and `amt agent` alike.

`process` runs every job as a local process (a mapped command, a built-in stand-in, framework
script mode); `container` runs every job's TrainingImage in a container; `auto` runs a job in
a container when the local engine already holds its image (nothing is pulled), else as a
process. The engine is found once, when the agent starts.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping
from typing import Any

from agents.runtime.container import (
    Engine,
    EngineUnavailable,
    detect_engine,
    has_image,
    training_image,
)
from emulator.clock import Clock

log = logging.getLogger(__name__)

RUNTIMES = ("process", "container", "auto")


def add_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default=None,
        help="process (default): jobs as local processes; container: each job's TrainingImage "
        "in a container; auto: a container when the local engine holds the image",
    )
    parser.add_argument(
        "--container-cli",
        default=None,
        metavar="COMMAND",
        help="the Docker-compatible CLI, e.g. 'podman' or 'podman --runtime runc' (default: "
        "docker where its engine answers, else podman)",
    )


def engine_for(kind: str, cli: str | None) -> Engine | None:
    """The engine `--runtime kind` needs (blocking: it asks the engine). `container` without
    one is refused with the reason; `auto` without one runs every job as a process."""
    if kind == "process":
        return None
    try:
        engine = detect_engine(cli)
    except EngineUnavailable as error:
        if kind == "container":
            raise SystemExit(f"--runtime container: no container engine here: {error}") from None
        log.warning("--runtime auto: no container engine (%s); jobs run as processes", error)
        return None
    log.info("container engine: %s (%s)", " ".join(engine.command), engine.kind)
    return engine


async def runs_in_container(
    kind: str, engine: Engine | None, job: Mapping[str, Any], clock: Clock
) -> bool:
    """Whether this job runs in a container under `--runtime kind`."""
    if kind == "process" or engine is None:
        return False
    if kind == "container":
        return True
    image = training_image(job)
    return bool(image) and await has_image(engine, image, clock)
