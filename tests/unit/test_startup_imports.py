"""A server that simulates nothing starts without the heavy numerical stack.

A user's test session waits for `amt serve` or `EmbeddedEmulator` to answer; scipy.stats alone
costs more than half a second to import. The simulator, the surrogate, the Gaussian process
and moto's service backends are imported where they are first used, so each check here runs a
fresh interpreter and lists what an import brought in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = (
    "scipy.stats",
    "scipy.optimize",
    "sklearn",
    "pandas",
    "torch",
    "moto",
    "emulator.simulator.surrogate",
    "emulator.tuner.gp",
    "emulator.tuner.strategies.bayesian",
)
LISTING = """
import json, sys
import {module}
print(json.dumps(sorted(sys.modules)))
"""


def modules_after_import(module: str) -> set[str]:
    """Every module a fresh interpreter holds after `import module`."""
    result = subprocess.run(
        [sys.executable, "-c", LISTING.format(module=module)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    return set(json.loads(result.stdout))


def heavy_among(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize("module", ["emulator.serve", "emulator.embedded", "emulator.cli"])
def test_the_server_path_imports_nothing_heavy(module):
    assert heavy_among(modules_after_import(module)) == []


def test_the_embedded_server_imports_no_simulator():
    modules = modules_after_import("emulator.serve")
    assert sorted(m for m in modules if m.startswith("emulator.simulator")) == []


def test_the_check_sees_a_heavy_import():
    """The listing is real: a module that does pull in scipy.stats is caught."""
    assert "scipy.stats" in heavy_among(modules_after_import("emulator.simulator.surrogate"))
