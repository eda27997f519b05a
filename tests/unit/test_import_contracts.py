"""The forbidden-import contracts name every part of the emulator their source may not use: a
package added later (as `emulator.suggest` was) must be placed in each of them on purpose, not
slip past them unchecked because a list was written before it existed."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LEAVES = {"clock", "curve_sets", "errors", "ids", "settings"}

ALLOWED: dict[str, set[str]] = {
    "domain": {"domain"},
    "leaves": LEAVES,
    "store": {"store", "domain"} | LEAVES,
    "agents": {"agents", "bus", "clock", "curve_sets", "domain", "settings"},
    "tuner": {"tuner", "bus", "cloudwatch", "domain", "ingest", "records", "store"} | LEAVES,
    "edge": {
        *("api", "console", "bus", "cli", "client", "cloudwatch", "context", "domain"),
        *("embedded", "pytest_plugin", "records", "rules", "serve", "store", "testing", "tuner"),
    }
    | LEAVES,
}
"""Per contract id: the top-level parts its source may import; every other one is forbidden."""


def top_level_parts() -> set[str]:
    """`agents` and every module and package directly under `emulator`, as import names."""
    found = {
        f"emulator.{p.stem if p.is_file() else p.name}"
        for p in (ROOT / "emulator").iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()
    }
    return found | {"agents"}


def contract(contract_id: str) -> dict[str, list[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (found,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["id"] == contract_id]
    return found


def qualified(part: str) -> str:
    return part if part == "agents" else f"emulator.{part}"


@pytest.mark.parametrize("contract_id", sorted(ALLOWED))
def test_a_contract_forbids_every_part_it_does_not_allow(contract_id):
    parts = top_level_parts()
    allowed = {qualified(p) for p in ALLOWED[contract_id]}
    assert allowed <= parts, "an allowed part that no longer exists"
    forbidden = set(contract(contract_id)["forbidden_modules"]) & parts
    assert forbidden == parts - allowed
