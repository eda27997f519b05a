"""Which recorded learning-curve sets exist, found without loading them (or numpy and scipy):
the settings check `--simulate NAME` with it, the simulator loads the sets it names."""

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
