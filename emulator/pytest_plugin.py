"""pytest plugin (entry point `pytest11`): an `amt_emulator` fixture for integration suites.

    def test_my_tuning(amt_emulator):
        sm = amt_emulator.client("sagemaker")
        ...

`amt_clean_emulator` is the same emulator, reset before the test that asks for it (running
jobs stopped, then every job, bucket, log and metric removed), for tests that must see only
their own state (`amt_emulator.reset()` does the same anywhere).

Options: `--amt-image URI=COMMAND` (repeatable) or the ini key `amt_images` (one
`URI=COMMAND` per line) map training images to local commands. Simulated time:
`--amt-simulate NAME` (ini `amt_simulate`) replays recorded curve set NAME instead of running
programs, `--amt-time-scale X` (ini `amt_time_scale`) times faster than wall time, with
`--amt-startup SECONDS` (ini `amt_startup`) of start-up per job: `amt serve --simulate`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from emulator.embedded import EmbeddedEmulator
from emulator.settings import DEFAULT_TIME_SCALE, parse_image_flag


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("amt", "amt-emulator")
    group.addoption(
        "--amt-image",
        action="append",
        default=[],
        metavar="URI=COMMAND",
        help="map a training image to a local command for the amt_emulator fixture",
    )
    parser.addini("amt_images", "training image mappings, one URI=COMMAND per line", "linelist")
    simulated = {
        "simulate": ("NAME", "replay recorded curve set NAME in simulated time (no programs)"),
        "time_scale": ("X", f"virtual seconds per wall second (default {DEFAULT_TIME_SCALE:g})"),
        "startup": ("SECONDS", "simulated start-up of each training job (default 0)"),
    }
    for key, (metavar, text) in simulated.items():
        group.addoption(f"--amt-{key.replace('_', '-')}", metavar=metavar, default=None, help=text)
        parser.addini(f"amt_{key}", text)


def _images(config: pytest.Config) -> dict[str, str]:
    flags = [*config.getini("amt_images"), *config.getoption("amt_image")]
    return dict(parse_image_flag(flag) for flag in flags)


def _option(config: pytest.Config, key: str) -> str | None:
    """A flag, else its ini key, else None."""
    value = config.getoption(f"amt_{key}") or config.getini(f"amt_{key}")
    return str(value) if value else None


def _simulation(config: pytest.Config) -> dict[str, Any]:
    """EmbeddedEmulator's simulated-time arguments from the options (none when not asked)."""
    name = _option(config, "simulate")
    if name is None:
        return {}
    scale, startup = _option(config, "time_scale"), _option(config, "startup")
    return {
        "simulate": name,
        "time_scale": float(scale) if scale else DEFAULT_TIME_SCALE,
        "startup_seconds": float(startup) if startup else 0.0,
    }


@pytest.fixture(scope="session")
def amt_emulator(pytestconfig: pytest.Config) -> Iterator[EmbeddedEmulator]:
    """A running emulator for the test session, with a temporary data directory."""
    with EmbeddedEmulator(images=_images(pytestconfig), **_simulation(pytestconfig)) as emulator:
        yield emulator


@pytest.fixture
def amt_clean_emulator(amt_emulator: EmbeddedEmulator) -> EmbeddedEmulator:
    """The session's emulator, emptied before this test: nothing of earlier tests remains."""
    amt_emulator.reset()
    return amt_emulator
