"""pytest plugin (entry point `pytest11`): an `amt_emulator` fixture for integration suites.

    def test_my_tuning(amt_emulator):
        sm = amt_emulator.client("sagemaker")
        ...

Options: `--amt-image URI=COMMAND` (repeatable) or the ini key `amt_images` (one
`URI=COMMAND` per line) map training images to local commands.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulator.embedded import EmbeddedEmulator
from emulator.settings import parse_image_flag


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


def _images(config: pytest.Config) -> dict[str, str]:
    flags = [*config.getini("amt_images"), *config.getoption("amt_image")]
    return dict(parse_image_flag(flag) for flag in flags)


@pytest.fixture(scope="session")
def amt_emulator(pytestconfig: pytest.Config) -> Iterator[EmbeddedEmulator]:
    """A running emulator for the test session, with a temporary data directory."""
    with EmbeddedEmulator(images=_images(pytestconfig)) as emulator:
        yield emulator
