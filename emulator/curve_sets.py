"""Which learning-curve sets exist, found without loading them (or numpy and scipy):
the settings check `--simulate NAME` with it, the simulator loads the sets it names.

A set is named by a bundled set's name or by a path: its manifest (`DIR/NAME.json`) or the
manifest's path without `.json` (`DIR/NAME`), as `amt curves import --out` wrote it.
"""

from __future__ import annotations

from pathlib import Path

CURVES_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "curves"


def available_sets(directory: Path = CURVES_DIR) -> list[str]:
    """Names of the recorded curve sets (each a `<name>.json` manifest with its data file)."""
    if not directory.is_dir():
        return []
    return sorted(p.stem for p in directory.glob("*.json") if data_file(p).exists())


def data_file(manifest_path: Path) -> Path:
    """A set's gzipped CSV, beside its manifest."""
    return manifest_path.with_name(f"{manifest_path.stem}.csv.gz")


def manifest_of(name_or_path: str, directory: Path = CURVES_DIR) -> Path | None:
    """The manifest a set's name or path points at, when it and its data file exist."""
    if name_or_path in available_sets(directory):
        return directory / f"{name_or_path}.json"
    path = Path(name_or_path).expanduser()
    if not name_or_path.endswith(".json"):
        path = path.with_name(f"{path.name}.json")
    return path if path.is_file() and data_file(path).is_file() else None
