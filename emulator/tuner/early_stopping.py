"""AWS's automatic early stopping (`TrainingJobEarlyStoppingType=Auto`), as a pure rule.

The documented rule: after each epoch, take the job's objective value; for every earlier training
job of the same tuning job, take the running average of its objective up to that same epoch; if
the value is worse than the median of those running averages, stop the job. The median is a true
`statistics.median` (not a mean, the bug Katib's "median" rule once had).

Two choices AWS leaves open, made here:

- **Peers**: the rule only speaks once at least `MIN_PEERS` (3) earlier jobs reached this epoch.
  The median of one or two curves is just those curves, and would stop about half of the
  second and third jobs for noise; AWS's own wording ("early stopping may happen, but is not
  guaranteed to") leaves room for a grace population.
- **Epoch 1 is never stopped** (`MIN_EPOCH` = 2): a single first-epoch value mostly measures
  warm-up, and a running average needs at least two points before it smooths anything.

Non-finite values never trigger a stop (NaN compares false), and peers whose running average is
not finite are left out of the median.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from emulator.tuner.model import ObjectiveType

MIN_PEERS = 3
MIN_EPOCH = 2


def median_of_running_averages(
    epoch: int, earlier_curves: Sequence[Sequence[float]], min_peers: int = MIN_PEERS
) -> float | None:
    """Median over earlier jobs that reached `epoch` (1-based) of their mean up to it.

    None when fewer than `min_peers` jobs reached that epoch.
    """
    if epoch < 1:
        return None
    averages = [
        avg
        for curve in earlier_curves
        if len(curve) >= epoch and math.isfinite(avg := statistics.fmean(curve[:epoch]))
    ]
    if len(averages) < max(1, min_peers):
        return None
    return statistics.median(averages)


def should_stop(
    value: float,
    epoch: int,
    earlier_curves: Sequence[Sequence[float]],
    objective_type: ObjectiveType,
    *,
    min_peers: int = MIN_PEERS,
    min_epoch: int = MIN_EPOCH,
) -> bool:
    """True when `value`, reported after `epoch`, is worse than the median rule allows.

    `earlier_curves` are the per-epoch objective values of the tuning job's training jobs created
    before this one (index 0 = epoch 1); the caller selects them.
    """
    if epoch < min_epoch:
        return False
    median = median_of_running_averages(epoch, earlier_curves, min_peers)
    if median is None:
        return False
    return value > median if objective_type == "Minimize" else value < median
