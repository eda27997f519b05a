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


@dataclass
class Tally:
    """Counts over a tuning job's children, kept by adding and taking away one child at a
    time: the same numbers `summary.counters` and a count over all children give."""

    training: dict[str, int] = field(default_factory=zero_training_counters)
    objective: dict[str, int] = field(default_factory=zero_objective_counters)
    active: int = 0
    """Children still running (InProgress or Stopping)."""
    counted: int = 0
    """Children that count against MaxNumberOfTrainingJobs (retried failures do not)."""

    def add(self, job: TrainingJob, times: int = 1) -> None:
        """Count `job` in (`times` = -1: take it out)."""
        self.training[summary.counter_key(job)] += times
        self.objective[summary.objective_status(job)] += times
        self.active += times * (job.status in ACTIVE_TRAINING)
        self.counted += times * (not retried(job))

    @classmethod
    def of(cls, children: list[TrainingJob]) -> Tally:
        """Counted from scratch."""
        tally = cls()
        for job in children:
            tally.add(job)
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
        known = self._copies.get(tuning_job, {})
        tally = self._tallies.get(tuning_job) or Tally()
        current: dict[str, tuple[object, TrainingJob]] = {}
        for name, token in self.store.child_versions(tuning_job):
            seen = known.pop(name, None)
            if seen is None or seen[0] is not token:
                job = self.store.get_training_job(name)
                if job is None:  # deleted meanwhile: read everything again next time
                    self.drop(tuning_job)
                    children = self.store.children(tuning_job)
                    self._tallies[tuning_job] = Tally.of(children)
                    return children
                if seen is not None:
                    tally.add(seen[1], -1)
                tally.add(job)
                seen = (token, job)
            current[name] = seen
        for _token, gone in known.values():  # deleted children
            tally.add(gone, -1)
        self._copies[tuning_job] = current
        self._tallies[tuning_job] = tally
        return [job for _token, job in current.values()]

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
