"""Real containers in tests: the engine that answers here (podman, or Docker), the example
images `python -m fixtures.images.build` made, and the containers a test leaves behind.

A test needing containers skips, saying why, only where no engine can run one or the images
were not built; `.ci/run` builds them, so CI runs these tests for real.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agents.runtime.container import WORK_DIR_LABEL, Engine, EngineUnavailable, detect_engine
from fixtures.images.build import BASE, BYOC, TOOLKIT

__all__ = ["BASE", "BYOC", "TOOLKIT", "engine_or_skip", "image_or_skip", "leftovers"]


def engine_or_skip() -> Engine:
    try:
        return detect_engine()
    except EngineUnavailable as error:
        pytest.skip(f"no container engine can run a container here: {error}")


def image_or_skip(engine: Engine, image: str) -> str:
    inspect = engine.cli("image", "inspect", "--format", "{{.Id}}", image)
    done = subprocess.run(inspect, capture_output=True, env=engine.environ(), check=False)
    if done.returncode != 0:
        pytest.skip(f"image {image} is not built here: run `python -m fixtures.images.build`")
    return image


def leftovers(engine: Engine, work_dir: Path) -> list[str]:
    """Containers (running or not) of the agents on `work_dir`."""
    label = f"label={WORK_DIR_LABEL}={work_dir.absolute()}"
    listing = engine.cli("ps", "-a", "--filter", label, "--format", "{{.Names}}")
    done = subprocess.run(
        listing, capture_output=True, text=True, env=engine.environ(), check=False
    )
    return done.stdout.split()


def remove_leftovers(engine: Engine, work_dir: Path) -> None:
    names = leftovers(engine, work_dir)
    if names:
        remove = engine.cli(*engine.remove_args(*names))
        subprocess.run(remove, capture_output=True, env=engine.environ(), check=False)
