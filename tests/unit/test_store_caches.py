"""The store's caches of training jobs and child names answer exactly as the database does.

A tuning job reads every child at each update, so the store keeps each training job's row in
a faster format, each tuning job's child names and its children's List summaries; these tests
hold them to what a second connection reads from the file, after writes, rolled-back writes and
deletions, and check that every read hands out a copy nobody else holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.domain.jobs import TrainingJob
from emulator.domain.status import transition
from emulator.domain.summary import training_summary
from emulator.store.sqlite import Store


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "amt.sqlite3"


@pytest.fixture
def store(path: Path) -> Iterator[Store]:
    opened = Store(path)
    yield opened
    opened.close()


def child(name: str, tuning: str | None = "t", **fields: Any) -> TrainingJob:
    doc = {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
        "TrainingJobStatus": "InProgress",
        "SecondaryStatus": "Starting",
        "CreationTime": 2.0,
        "LastModifiedTime": 2.0,
        "HyperParameters": {"lr": "0.1", "nan": float("nan")},
        "Pairs": (1, 2),  # written as a JSON list: read back as one, from the cache too
    }
    objective = {"Type": "Minimize", "MetricName": "loss"}
    return TrainingJob(doc, tuning_job=tuning, tuned={"lr": "0.1"}, objective=objective, **fields)


def as_read(job: TrainingJob | None) -> Any:
    """A job as comparable data (NaN made equal to itself)."""
    if job is None:
        return None
    return repr(job)


def same_as_on_disk(store: Store, path: Path, tuning: str, names: list[str]) -> None:
    fresh = Store(path)
    try:
        assert store.child_names(tuning) == fresh.child_names(tuning)
        assert [as_read(j) for j in store.children(tuning)] == [
            as_read(j) for j in fresh.children(tuning)
        ]
        # Summaries made before this write (the last call's) must not be handed out again.
        assert repr(store.child_summaries(tuning)) == repr(
            [training_summary(j) for j in fresh.children(tuning)]
        )
        for name in names:
            assert as_read(store.get_training_job(name)) == as_read(fresh.get_training_job(name))
    finally:
        fresh.close()


def test_reads_equal_the_database_after_every_kind_of_write(store: Store, path: Path) -> None:
    names = [f"t-{i:03d}" for i in range(1, 6)]
    store.insert_training_job(child(names[0]))
    store.children("t")  # cached from here on
    for name in names[1:]:
        store.insert_training_job(child(name))
    store.insert_training_job(child("alone", tuning=None))
    same_as_on_disk(store, path, "t", [*names, "alone"])

    job = store.get_training_job(names[1])
    assert job is not None
    transition(job.doc, "Downloading", None, 3.0)
    store.update_training_job(job)
    job.objective_value = 0.5
    store.update_training_meta(job)
    same_as_on_disk(store, path, "t", names)
    assert store.get_training_job(names[1]).objective_value == 0.5  # type: ignore[union-attr]

    store.delete_training_job(names[2])
    same_as_on_disk(store, path, "t", names)
    assert names[2] not in store.child_names("t")


def test_a_rolled_back_write_is_not_read_back(store: Store, path: Path) -> None:
    store.insert_training_job(child("t-001"))
    store.children("t")
    before = as_read(store.get_training_job("t-001"))
    with pytest.raises(RuntimeError), store.transaction():
        job = store.get_training_job("t-001")
        assert job is not None
        transition(job.doc, "Downloading", None, 3.0)
        store.update_training_job(job)
        store.insert_training_job(child("t-002"))
        raise RuntimeError("undone")
    assert as_read(store.get_training_job("t-001")) == before
    assert store.child_names("t") == ["t-001"]
    same_as_on_disk(store, path, "t", ["t-001", "t-002"])


def test_every_read_is_a_copy_of_its_own(store: Store) -> None:
    store.insert_training_job(child("t-001"))
    first = store.children("t")[0]
    first.doc["SecondaryStatusTransitions"] = ["changed, never written"]
    first.doc["HyperParameters"]["lr"] = "9"
    first.tuned["lr"] = "9"
    names = store.child_names("t")
    names.append("not a child")
    again = store.get_training_job("t-001")
    assert again is not None and again is not first
    assert "SecondaryStatusTransitions" not in again.doc
    assert again.doc["HyperParameters"]["lr"] == "0.1" and again.tuned == {"lr": "0.1"}
    assert store.child_names("t") == ["t-001"]
    assert isinstance(again.doc["Pairs"], list)
