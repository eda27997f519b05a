"""Metric extraction: the job's MetricDefinitions applied to every line the program prints,
as SageMaker does with its log stream: Python `re.search`, the first capture group (the whole
match when the regex has none) parsed as a float; NaN, infinities and non-numbers are dropped.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from agents.contract import ClientError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MetricExtractor:
    patterns: tuple[tuple[str, re.Pattern[str]], ...]

    @classmethod
    def from_definitions(cls, definitions: Iterable[Mapping[str, str]]) -> MetricExtractor:
        """Compile every definition; a regex Python cannot compile rejects the job."""
        compiled = []
        for definition in definitions:
            name, regex = definition["Name"], definition["Regex"]
            try:
                compiled.append((name, re.compile(regex)))
            except re.error as error:
                raise ClientError(
                    f"ClientError: MetricDefinitions {name}: invalid regex {regex!r}: {error}"
                ) from error
        return cls(tuple(compiled))

    def extract(self, line: str) -> list[tuple[str, float]]:
        """The (name, value) points in one output line, in definition order."""
        return self.scan(line)[0]

    def scan(self, line: str) -> tuple[list[tuple[str, float]], list[tuple[str, str]]]:
        """The finite points in a line, and the (name, text) matches that were not numbers."""
        points: list[tuple[str, float]] = []
        skipped: list[tuple[str, str]] = []
        for name, pattern in self.patterns:
            match = pattern.search(line)
            if match is None:
                continue
            text = match.group(1) if pattern.groups else match.group(0)
            value = parse_number(text)
            if value is None:
                skipped.append((name, str(text)))
            else:
                points.append((name, value))
        return points, skipped


def parse_number(text: str | None) -> float | None:
    """`text` as a finite float, else None."""
    try:
        value = float(text) if text is not None else math.nan
    except ValueError:
        return None
    return value if math.isfinite(value) else None
