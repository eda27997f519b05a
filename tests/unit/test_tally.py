"""The tuner's copies of a tuning job's children, and the counts it keeps over them one child
at a time, equal a fresh read and a count from scratch after any sequence of writes; an update
decodes only the children written since the last one."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.domain import summary
from emulator.domain.jobs import TrainingJob
from emulator.domain.status import ACTIVE_TRAINING
from emulator.store.sqlite import Store
from emulator.tuner.tally import ChildCopies, Tally, retried

STATUSES = ("InProgress", "Stopping", "Completed", "Failed", "Stopped")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "amt.sqlite3")
    yield opened
    opened.close()


def child(name: str, tuning: str = "t") -> TrainingJob:
    doc = {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
        "TrainingJobStatus": "InProgress",
        "CreationTime": 2.0,
        "LastModifiedTime": 2.0,
    }
    objective = {"Type": "Maximize", "MetricName": "acc"}
    return TrainingJob(doc, tuning_job=tuning, tuned={"lr": name}, objective=objective)


def read_as(jobs: list[TrainingJob]) -> list[str]:
    return [repr(job) for job in jobs]


def by_end(jobs: list[TrainingJob]) -> list[TrainingJob]:
    ended = [job for job in jobs if job.status not in ACTIVE_TRAINING]
    return sorted(ended, key=lambda job: job.doc.get("TrainingEndTime", 0.0))


def outcomes_by_end(jobs: list[TrainingJob]) -> list[str]:
    return [job.status for job in by_end(jobs) if not retried(job)]


def values_by_end(jobs: list[TrainingJob]) -> list[float | None]:
    return [
        job.objective_value if summary.objective_status(job) == "Succeeded" else None
        for job in by_end(jobs)
        if summary.counter_key(job) != "RetryableError"
    ]


class CountingStore:
    """The store, counting the training jobs decoded one by one."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.decoded = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)

    def get_training_job(self, name: str) -> TrainingJob | None:
        self.decoded += 1
        return self.store.get_training_job(name)


@pytest.mark.parametrize("seed", range(5))
def test_copies_equal_a_fresh_read_after_random_writes(store: Store, seed: int) -> None:
    rng = random.Random(seed)
    counting = CountingStore(store)
    copies = ChildCopies(counting)  # type: ignore[arg-type]
    store.insert_training_job(child("other", tuning="u"))
    launched = 0
    for _ in range(300):
        names = store.child_names("t")
        action = rng.random()
        written = 0
        if action < 0.2 or not names:
            launched += 1
            store.insert_training_job(child(f"t-{launched:03d}"))
            written = 1
        elif action < 0.6:
            job = store.get_training_job(rng.choice(names))
            assert job is not None
            job.doc["TrainingJobStatus"] = rng.choice(STATUSES)
            job.doc["TrainingEndTime"] = rng.choice((1.0, 2.0, 3.0))  # ties: launch order
            job.retryable = rng.random() < 0.3
            job.attempt = rng.choice((1, 2, 3))
            job.replaced_by = rng.choice((None, "t-999"))
            store.update_training_job(job)
            written = 1
        elif action < 0.8:
            job = store.get_training_job(rng.choice(names))
            assert job is not None
            job.objective_value = rng.choice((0.25, 0.5, 0.75, float("nan"), rng.random()))
            store.update_training_meta(job)
            written = 1
        elif action < 0.9:
            with pytest.raises(RuntimeError), store.transaction():
                job = store.get_training_job(rng.choice(names))
                assert job is not None
                job.doc["TrainingJobStatus"] = "Failed"
                store.update_training_job(job)
                raise RuntimeError("undone")
            written = len(names)  # the store forgot its rows: every one is read again
        elif action < 0.95:
            store.delete_training_job(rng.choice(names))
            written = len(names)
        counting.decoded = 0
        kept = copies.children("t")
        assert counting.decoded <= written
        fresh = store.children("t")
        assert read_as(kept) == read_as(fresh)
        assert summary.counters(kept) == summary.counters(fresh)
        scratch = Tally.of(fresh)
        assert (scratch.training, scratch.objective) == summary.counters(fresh)
        assert copies.tally("t").active == sum(c.status in ACTIVE_TRAINING for c in fresh)
        assert copies.tally("t").counted == len(fresh) - sum(map(retried, fresh))
        assert copies.tally("t").final_outcomes() == outcomes_by_end(fresh)
        assert repr(copies.tally("t").best) == repr(summary.best_of(fresh))
        assert repr(copies.tally("t").final_values()) == repr(values_by_end(fresh))
        assert (copies.tally("t").training, copies.tally("t").objective) == summary.counters(fresh)
        assert read_as([b for b in [summary.best_of(kept)] if b]) == read_as(
            [b for b in [summary.best_of(fresh)] if b]
        )


def test_forget_and_drop_read_everything_again(store: Store) -> None:
    counting = CountingStore(store)
    copies = ChildCopies(counting)  # type: ignore[arg-type]
    for i in range(3):
        store.insert_training_job(child(f"t-{i}"))
    copies.children("t")
    counting.decoded = 0
    copies.children("t")
    assert counting.decoded == 0
    copies.drop("t")
    copies.children("t")
    assert counting.decoded == 3
    copies.forget()
    copies.children("t")
    assert counting.decoded == 6
