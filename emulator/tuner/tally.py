"""Each tuning job's children as last read, decoded again only where the store's row changed.

A tuning job is brought up to date on every status change of any of its children, and that
update looks at all of them: decoding every child each time made a tuning job of n children
cost O(n²) decodes. The store stays the only source of truth: it hands out a token per child
row that every write replaces (`Store.child_versions`), and a copy is kept only as long as its
token is the one stored. A rolled-back write, a reset or a restart gives new tokens, so
nothing stale survives them.

The copies are shared between calls: a caller that changes a child first reads its own copy
from the store.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from dataclasses import dataclass, field

from emulator.domain import summary
from emulator.domain.documents import zero_objective_counters, zero_training_counters
from emulator.domain.jobs import TrainingJob
from emulator.domain.status import ACTIVE_TRAINING
from emulator.store.sqlite import Store
from emulator.tuner.failures import DEFAULT_RETRY_ATTEMPTS


def retried(child: TrainingJob) -> bool:
    """An internal failure that a replacement stands for (launched, or due: retries left)."""
    if summary.counter_key(child) != "RetryableError":
        return False
    if child.replaced_by:
        return True
    limit = 1 + DEFAULT_RETRY_ATTEMPTS if child.max_attempts is None else child.max_attempts
    return child.attempt < limit


EndKey = tuple[float, int]
"""Where a finished child stands among the finished: its TrainingEndTime, then its place in
launch order (a stable sort by end time)."""


def end_key(job: TrainingJob, index: int) -> EndKey:
    """The `EndKey` of `job`, the `index`-th launched (every terminal status sets the time)."""
    return (job.doc.get("TrainingEndTime", 0.0), index)


def _take_out(ended: list[tuple[EndKey, object]], key: EndKey) -> bool:
    """Remove the entry of `key`; False when there is none (the tally must be counted again)."""
    at = bisect_left(ended, (key,))
    if at == len(ended) or ended[at][0] != key:
        return False
    del ended[at]
    return True


@dataclass
class Tally:
    """Counts over a tuning job's children, and its finished children in the order they
    ended, kept by adding and taking away one child at a time: the same as a pass over all
    children gives (`summary.counters`, a count, a sort by end time)."""

    training: dict[str, int] = field(default_factory=zero_training_counters)
    objective: dict[str, int] = field(default_factory=zero_objective_counters)
    active: int = 0
    """Children still running (InProgress or Stopping)."""
    counted: int = 0
    """Children that count against MaxNumberOfTrainingJobs (retried failures do not)."""
    _outcomes: list[tuple[EndKey, object]] = field(default_factory=list)
    _values: list[tuple[EndKey, object]] = field(default_factory=list)
    sound: bool = True
    """False once a child taken out was not found where it was counted in."""
    best: TrainingJob | None = None
    """`summary.best_of` the children, while `best_known`."""
    best_index: int = -1
    best_known: bool = True
    """False once a job that had succeeded changed (or a value that does not compare, NaN,
    turned up): `best` is then found again by a pass over all children."""

    def add(self, job: TrainingJob, index: int, times: int = 1) -> None:
        """Count in `job`, the `index`-th launched (`times` = -1: take it out)."""
        key = summary.counter_key(job)
        self.training[key] += times
        self.objective[summary.objective_status(job)] += times
        self.active += times * (job.status in ACTIVE_TRAINING)
        counted = not retried(job)
        self.counted += times * counted
        if job.status in ACTIVE_TRAINING:
            return
        if summary.objective_status(job) == "Succeeded":
            self._succeeded(job, index, times)
        end = end_key(job, index)
        if counted:
            if times > 0:
                insort(self._outcomes, (end, job.status))
            else:
                self.sound &= _take_out(self._outcomes, end)
        if key != "RetryableError":
            succeeded = summary.objective_status(job) == "Succeeded"
            if times > 0:
                insort(self._values, (end, job.objective_value if succeeded else None))
            else:
                self.sound &= _take_out(self._values, end)

    def _succeeded(self, job: TrainingJob, index: int, times: int) -> None:
        """Bring `best` up to date with a succeeded job counted in or taken out: a job counted
        in wins when better, or equal and launched earlier (as `best_of`'s pass in launch
        order decides); anything else is left to a pass over all children."""
        if times < 0 or not self.best_known:
            self.best_known = False
            return
        value = job.objective_value
        assert value is not None  # it succeeded
        if math.isnan(value):
            self.best_known = False
            return
        best = self.best
        if best is None:
            self.best, self.best_index = job, index
            return
        held = best.objective_value
        assert held is not None
        if job.objective.get("Type") != best.objective.get("Type"):
            self.best_known = False
        elif (value < held if job.objective["Type"] == "Minimize" else value > held) or (
            value == held and index < self.best_index
        ):
            self.best, self.best_index = job, index

    def final_outcomes(self) -> list[str]:
        """TrainingJobStatus of each finished attempt (retried failures left out), in the
        order they ended: what `failures.no_success` reads."""
        return [str(status) for _end, status in self._outcomes]

    def final_values(self) -> list[float | None]:
        """Final objective values of the finished children (None: no objective; internal
        failures left out), in the order they ended: what `completion` reads."""
        return [value for _end, value in self._values]  # type: ignore[misc]

    @classmethod
    def of(cls, children: list[TrainingJob]) -> Tally:
        """Counted from scratch."""
        tally = cls()
        for index, job in enumerate(children):
            tally.add(job, index)
        return tally


class ChildCopies:
    """Decoded children of each tuning job, by name, with the store's token they came from."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._copies: dict[str, dict[str, tuple[object, TrainingJob]]] = {}
        self._tallies: dict[str, Tally] = {}

    def children(self, tuning_job: str) -> list[TrainingJob]:
        """The tuning job's children in launch order, as stored now (do not change them)."""
        try:
            return self._read(tuning_job)
        except BaseException:
            self.drop(tuning_job)  # half brought up to date: counted again next time
            raise

    def _read(self, tuning_job: str) -> list[TrainingJob]:
        known = self._copies.get(tuning_job)
        tally = self._tallies[tuning_job] if known is not None else Tally()
        versions = self.store.child_versions(tuning_job)
        if known is None or not known.keys() <= {name for name, _token in versions}:
            known, tally = {}, Tally()  # new, or children deleted: places moved, count again
        current: dict[str, tuple[object, TrainingJob]] = {}
        for index, (name, token) in enumerate(versions):
            seen = known.pop(name, None)
            if seen is None or seen[0] is not token:
                job = self.store.get_training_job(name)
                if job is None:  # deleted meanwhile: read everything again next time
                    self.drop(tuning_job)
                    children = self.store.children(tuning_job)
                    self._tallies[tuning_job] = Tally.of(children)
                    return children
                if seen is not None:
                    tally.add(seen[1], index, -1)
                tally.add(job, index)
                seen = (token, job)
            current[name] = seen
        children = [job for _token, job in current.values()]
        if not tally.sound:
            tally = Tally.of(children)
        if not tally.best_known:
            tally.best = summary.best_of(children)
            tally.best_index = -1 if tally.best is None else children.index(tally.best)
            tally.best_known = tally.best is None or not math.isnan(tally.best.objective_value or 0)
        self._copies[tuning_job] = current
        self._tallies[tuning_job] = tally
        return children

    def tally(self, tuning_job: str) -> Tally:
        """The counts over the children as `children` last read them."""
        return self._tallies[tuning_job]

    def drop(self, tuning_job: str) -> None:
        """A tuning job that has ended: its copies are no longer needed."""
        self._copies.pop(tuning_job, None)
        self._tallies.pop(tuning_job, None)

    def forget(self) -> None:
        """After a reset: nothing kept."""
        self._copies.clear()
        self._tallies.clear()
