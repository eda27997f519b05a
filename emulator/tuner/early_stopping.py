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

import bisect
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence

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
    reached = (curve for curve in earlier_curves if len(curve) >= epoch)
    return _median((_mean(curve, epoch) for curve in reached), min_peers)


def _mean(curve: Sequence[float], epoch: int) -> float:
    """statistics.fmean(curve[:epoch]) exactly (it is fsum / n), without its per-call overhead:
    the from-scratch rule runs it for every earlier job at every objective point. A curve
    holding both infinities (fsum: ValueError), or whose exact sum leaves the float range
    (OverflowError), has no average: NaN, which the median leaves out."""
    try:
        return math.fsum(curve if len(curve) == epoch else curve[:epoch]) / epoch
    except (ValueError, OverflowError):
        return math.nan


def _median(averages: Iterable[float], min_peers: int) -> float | None:
    finite = [a for a in averages if math.isfinite(a)]
    if len(finite) < max(1, min_peers):
        return None
    return statistics.median(finite)


def _worse(value: float, median: float | None, objective_type: ObjectiveType) -> bool:
    if median is None:
        return False
    return value > median if objective_type == "Minimize" else value < median


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
    reached = (curve for curve in earlier_curves if len(curve) >= epoch)
    averages = (_mean(curve, epoch) for curve in reached)
    return _decide(value, epoch, averages, objective_type, min_peers, min_epoch)


def _decide(
    value: float,
    epoch: int,
    averages: Iterable[float],
    objective_type: ObjectiveType,
    min_peers: int,
    min_epoch: int,
) -> bool:
    """The rule, given the earlier jobs' running averages at `epoch` (a lazy iterable: before
    `min_epoch` not one is computed)."""
    if epoch < max(1, min_epoch):
        return False
    return _worse(value, _median(averages, min_peers), objective_type)


class RunningAverages:
    """The rule for a caller that judges many points: `should_stop` decides exactly as the
    module's `should_stop` given the same curves, without recomputing over every earlier job.

    The rule reads, at every objective point, the median of every earlier job's running
    average at that epoch; from raw curves that is O(jobs x epochs) and a sort per point.
    Here each job's running average after each epoch is computed once, when its curve first
    shows that epoch, and filed into a per-epoch list kept sorted, so a median is a lookup.

    `earlier` is always a prefix of one tuning job's launch order (the jobs created before
    the judged one), so its first job names the tuning job, a job's place in it is its
    launch position, and the judged job's peers are the filed averages whose position is
    below `len(earlier)`; later jobs that are ahead (few: at most the parallel ones) are
    stepped over. A cache, like the store's series: a job's series only grows, and a job
    name is never reused for another series.
    """

    def __init__(self) -> None:
        self._by_job: dict[str, list[float]] = {}
        self._boards: dict[str, _Board] = {}

    def of(self, job: str, curve: Sequence[float]) -> list[float]:
        """Running averages of `job` (index 0 = epoch 1), extended to cover `curve`."""
        averages = self._by_job.setdefault(job, [])
        for epoch in range(len(averages) + 1, len(curve) + 1):
            averages.append(_mean(curve, epoch))
        return averages

    def should_stop(
        self,
        value: float,
        epoch: int,
        earlier: Mapping[str, Sequence[float]],
        objective_type: ObjectiveType,
        *,
        min_peers: int = MIN_PEERS,
        min_epoch: int = MIN_EPOCH,
    ) -> bool:
        """`should_stop` for `earlier` = {earlier job: its curve so far}, in launch order."""
        if epoch < max(1, min_epoch) or not earlier:
            return False
        board = self._boards.setdefault(next(iter(earlier)), _Board())
        for position, (job, curve) in enumerate(earlier.items()):
            if len(curve) > board.filed.get(job, 0):
                board.file(job, position, self.of(job, curve))
        return _worse(value, board.median(epoch, len(earlier), min_peers), objective_type)


class _Board:
    """One tuning job's running averages by epoch, each epoch's kept sorted."""

    def __init__(self) -> None:
        self.filed: dict[str, int] = {}
        """Epochs of each job filed so far."""
        self._sorted: dict[int, list[tuple[float, int]]] = {}
        """epoch -> (finite running average, launch position), ascending."""
        self._positions: dict[int, list[int]] = {}
        """epoch -> launch positions filed at that epoch, ascending."""
        self._average: dict[tuple[int, int], float] = {}
        """(epoch, launch position) -> the average filed."""

    def file(self, job: str, position: int, averages: Sequence[float]) -> None:
        """File `job`'s running averages of the epochs not filed yet."""
        for epoch in range(self.filed.get(job, 0) + 1, len(averages) + 1):
            average = averages[epoch - 1]
            if math.isfinite(average):
                bisect.insort(self._sorted.setdefault(epoch, []), (average, position))
                bisect.insort(self._positions.setdefault(epoch, []), position)
                self._average[(epoch, position)] = average
        self.filed[job] = len(averages)

    def median(self, epoch: int, before: int, min_peers: int) -> float | None:
        """statistics.median of the finite averages at `epoch` of the jobs at launch
        positions below `before`; None when fewer than `min_peers` (at least 1) are."""
        ordered = self._sorted.get(epoch, [])
        positions = self._positions.get(epoch, [])
        later = positions[bisect.bisect_left(positions, before) :]
        skipped = sorted((self._average[(epoch, p)], p) for p in later)
        count = len(ordered) - len(skipped)
        if count < max(1, min_peers):
            return None
        middle = _kth(ordered, skipped, count // 2)
        if count % 2:
            return middle
        return (_kth(ordered, skipped, count // 2 - 1) + middle) / 2


def _kth(
    ordered: Sequence[tuple[float, int]], skipped: Sequence[tuple[float, int]], k: int
) -> float:
    """The `k`-th smallest (0-based) of `ordered` once the entries `skipped` (a sorted subset
    of it) are left out."""
    index = k
    for entry in skipped:
        if entry > ordered[index]:
            break
        index += 1
    return ordered[index][0]
