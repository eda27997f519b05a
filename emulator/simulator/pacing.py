"""Epochs at the user's pace: a replayed job's epoch times rescaled to S seconds an epoch.

The recorded sets were trained on small fixtures, so their jobs last seconds; a user's epochs
take minutes. Early stopping saves epochs, so what it saves depends on how long an epoch is
against a job's fixed costs: `--epoch-seconds S` answers for the user's epoch length.

A job's epochs are rescaled so that they average S seconds, each keeping its share of the
recorded run's time, except the first: a recorded first epoch also holds the training
program's start-up (imports, data loading; 95 % of the first epoch of the image-classification
runs), which is not epoch time and which `--startup` models on its own. The first epoch counts
as long as the median of the run's later epochs. A run of one epoch takes S.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def paced_durations(recorded: Sequence[float], seconds: float) -> list[float]:
    """Per-epoch seconds of a run whose epochs average `seconds`, in the recorded proportions
    (the first epoch's start-up left out; see the module docstring)."""
    if seconds <= 0:
        raise ValueError(f"epoch seconds must be positive, got {seconds}")
    if not recorded:
        return []
    shares = [max(0.0, float(s)) for s in recorded]
    if len(shares) > 1:
        shares[0] = statistics.median(shares[1:])
    total = sum(shares)
    if total <= 0:
        return [float(seconds)] * len(shares)
    scale = seconds * len(shares) / total
    return [share * scale for share in shares]
