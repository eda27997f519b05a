"""Metric extraction: the job's MetricDefinitions applied to every line the program prints."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class MetricExtractor:
    """Python `re.search` per definition, first capture group parsed as a float."""

    patterns: tuple[tuple[str, re.Pattern[str]], ...]

    @classmethod
    def from_definitions(cls, definitions: Iterable[Mapping[str, str]]) -> MetricExtractor:
        return cls(tuple((d["Name"], re.compile(d["Regex"])) for d in definitions))

    def extract(self, line: str) -> tuple[list[tuple[str, float]], list[str]]:
        """(name, value) pairs found in `line`, and the names whose value was not a number."""
        found: list[tuple[str, float]] = []
        rejected: list[str] = []
        for name, pattern in self.patterns:
            match = pattern.search(line)
            if match is None:
                continue
            text = match.group(1) if match.groups() else match.group(0)
            try:
                value = float(text)
            except (TypeError, ValueError):
                rejected.append(name)
                continue
            if math.isfinite(value):
                found.append((name, value))
            else:
                rejected.append(name)
        return found, rejected
