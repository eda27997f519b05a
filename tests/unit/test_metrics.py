"""Metric extraction from log lines with the job's MetricDefinitions."""

from __future__ import annotations

from typing import Any

import pytest

from agents.contract import ClientError
from agents.metrics import MetricExtractor, parse_number

DEFINITIONS = [
    {"Name": "validation:accuracy", "Regex": r"validation:accuracy=([0-9.eE+-]+)"},
    {"Name": "validation:loss", "Regex": r"validation:loss=(\S+)"},
    {"Name": "train:loss", "Regex": r"train_loss=(\S+)"},
]


def extractor() -> MetricExtractor:
    return MetricExtractor.from_definitions(DEFINITIONS)


def test_every_definition_matching_a_line_gives_a_point() -> None:
    line = "epoch=3 train_loss=0.41 validation:accuracy=0.912 validation:loss=0.33"
    assert extractor().extract(line) == [
        ("validation:accuracy", 0.912),
        ("validation:loss", 0.33),
        ("train:loss", 0.41),
    ]


def test_search_finds_the_first_match_anywhere_in_the_line() -> None:
    points = extractor().extract("[1] validation:loss=0.5 then validation:loss=0.4")
    assert points == [("validation:loss", 0.5)]


def test_lines_without_a_match_give_nothing() -> None:
    assert extractor().extract("epoch 3 done") == []


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "Infinity", "abc", "1.2.3", ""])
def test_values_that_are_not_finite_numbers_are_skipped(value: Any) -> None:
    assert extractor().extract(f"validation:loss={value} train_loss=0.1") == [("train:loss", 0.1)]


def test_scientific_notation_and_signs() -> None:
    assert extractor().extract("validation:accuracy=9.5e-1") == [("validation:accuracy", 0.95)]
    assert extractor().extract("validation:loss=-2") == [("validation:loss", -2.0)]


def test_a_regex_without_a_group_uses_the_whole_match() -> None:
    only = MetricExtractor.from_definitions([{"Name": "n", "Regex": r"[0-9]+\.[0-9]+"}])
    assert only.extract("value 3.25 reached") == [("n", 3.25)]


def test_an_optional_group_that_did_not_match_is_skipped() -> None:
    optional = MetricExtractor.from_definitions([{"Name": "n", "Regex": r"loss(=([0-9.]+))?"}])
    assert optional.extract("loss unknown") == []


def test_an_invalid_regex_is_the_jobs_problem() -> None:
    with pytest.raises(ClientError, match="invalid regex"):
        MetricExtractor.from_definitions([{"Name": "bad", "Regex": "loss=(["}])


def test_no_definitions_means_no_metrics() -> None:
    assert MetricExtractor.from_definitions([]).extract("loss=1") == []


@pytest.mark.parametrize(
    ("text", "value"), [("1", 1.0), (" 2.5 ", 2.5), ("nan", None), ("x", None), (None, None)]
)
def test_parse_number(text: Any, value: Any) -> None:
    assert parse_number(text) == value
