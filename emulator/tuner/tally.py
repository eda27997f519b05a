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

from emulator.domain.jobs import TrainingJob
from emulator.store.sqlite import Store


class ChildCopies:
    """Decoded children of each tuning job, by name, with the store's token they came from."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._copies: dict[str, dict[str, tuple[object, TrainingJob]]] = {}

    def children(self, tuning_job: str) -> list[TrainingJob]:
        """The tuning job's children in launch order, as stored now (do not change them)."""
        known = self._copies.get(tuning_job, {})
        current: dict[str, tuple[object, TrainingJob]] = {}
        for name, token in self.store.child_versions(tuning_job):
            seen = known.get(name)
            if seen is None or seen[0] is not token:
                job = self.store.get_training_job(name)
                if job is None:  # deleted meanwhile: read everything again next time
                    self._copies.pop(tuning_job, None)
                    return self.store.children(tuning_job)
                seen = (token, job)
            current[name] = seen
        self._copies[tuning_job] = current
        return [job for _token, job in current.values()]

    def drop(self, tuning_job: str) -> None:
        """A tuning job that has ended: its copies are no longer needed."""
        self._copies.pop(tuning_job, None)

    def forget(self) -> None:
        """After a reset: nothing kept."""
        self._copies.clear()
