"""Which code points belong to a Unicode general category, for Java's `\\p{L}`-style classes in
botocore's patterns.

Python's `re` has no `\\p{...}`, so the validator spells each class as code-point ranges. Finding
them means asking `unicodedata` about all 1.1 million code points, about a quarter of a second:
every server paid it before answering its first request. The ranges of the categories the
SageMaker model uses are therefore kept in `unicode_categories.json`, for the Unicode version
they were computed from; under another version (another Python) they are computed as before.
`tests/unit/test_unicode_categories.py` checks the kept table against the computation, and

    python -m emulator.rules.unicode_categories

writes it again.
"""

from __future__ import annotations

import functools
import json
import sys
import unicodedata
from pathlib import Path

TABLE = Path(__file__).with_name("unicode_categories.json")
KEPT = ("L", "N", "Z")
"""The categories botocore's SageMaker patterns name (letters, numbers, separators)."""

Ranges = tuple[tuple[int, int], ...]


def category_ranges(category: str) -> Ranges:
    """(first, last) code-point ranges whose general category starts with `category`."""
    kept = _kept()
    if category in kept:
        return kept[category]
    return computed_ranges(category)


@functools.cache
def _kept() -> dict[str, Ranges]:
    """The table, when it was computed for this interpreter's Unicode version; else empty."""
    try:
        table = json.loads(TABLE.read_text())
    except (OSError, ValueError):
        return {}
    if table.get("unicode") != unicodedata.unidata_version:
        return {}
    return {name: tuple((a, b) for a, b in ranges) for name, ranges in table["ranges"].items()}


@functools.cache
def computed_ranges(category: str) -> Ranges:
    """The ranges of `category`, from `unicodedata` (the slow, authoritative way)."""
    merged: list[list[int]] = []
    for name, first, last in _category_runs():
        if not name.startswith(category):
            continue
        if merged and merged[-1][1] == first - 1:
            merged[-1][1] = last
        else:
            merged.append([first, last])
    return tuple((a, b) for a, b in merged)


@functools.cache
def _category_runs() -> tuple[tuple[str, int, int], ...]:
    """Maximal runs of code points sharing a Unicode general category: (category, first, last)."""
    runs: list[tuple[str, int, int]] = []
    start, current = 0, unicodedata.category(chr(0))
    for code in range(1, sys.maxunicode + 1):
        category = unicodedata.category(chr(code))
        if category != current:
            runs.append((current, start, code - 1))
            start, current = code, category
    runs.append((current, start, sys.maxunicode))
    return tuple(runs)


def write_table(path: Path = TABLE) -> None:
    """Compute the kept categories' ranges under this interpreter's Unicode version."""
    ranges = {name: [list(r) for r in computed_ranges(name)] for name in KEPT}
    table = {"unicode": unicodedata.unidata_version, "ranges": ranges}
    path.write_text(json.dumps(table, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    write_table()
