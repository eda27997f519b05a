"""The kept Unicode category table is exactly what `unicodedata` says, and is used only for the
Unicode version it was computed from."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from emulator.rules import unicode_categories
from emulator.rules.unicode_categories import KEPT, TABLE, category_ranges, computed_ranges


def test_the_table_is_for_this_interpreter_and_equals_the_computation():
    table = json.loads(TABLE.read_text())
    assert table["unicode"] == unicodedata.unidata_version, (
        "regenerate: python -m emulator.rules.unicode_categories"
    )
    for name in KEPT:
        assert category_ranges(name) == computed_ranges(name)
        assert category_ranges(name)  # not empty: the table is really read


def test_a_table_of_another_unicode_version_is_not_used(tmp_path: Path, monkeypatch):
    stale = tmp_path / "table.json"
    stale.write_text(json.dumps({"unicode": "1.0.0", "ranges": {"L": [[65, 65]]}}))
    monkeypatch.setattr(unicode_categories, "TABLE", stale)
    unicode_categories._kept.cache_clear()
    try:
        assert category_ranges("L") == computed_ranges("L") != ((65, 65),)
    finally:
        unicode_categories._kept.cache_clear()


@pytest.mark.parametrize(("char", "category"), [("é", "L"), ("٣", "N"), ("\u3000", "Z")])
def test_ranges_hold_their_characters(char, category):
    assert any(a <= ord(char) <= b for a, b in category_ranges(category))
    assert not any(a <= ord("-") <= b for a, b in category_ranges(category))
