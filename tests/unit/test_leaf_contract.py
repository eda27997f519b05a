"""The leaves' import contract names every other part of the emulator: a package added later
(as `emulator.suggest` was) must not slip past it unchecked."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LEAVES = {"clock", "curve_sets", "errors", "ids", "settings"}


def test_the_leaves_contract_forbids_every_other_part_of_the_emulator():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (leaves,) = [
        c for c in config["tool"]["importlinter"]["contracts"] if c["name"].startswith("Leaves:")
    ]
    parts = {
        p.stem if p.is_file() else p.name
        for p in (ROOT / "emulator").iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()
    }
    expected = {f"emulator.{name}" for name in parts - LEAVES} | {"agents"}
    assert set(leaves["forbidden_modules"]) == expected
