"""Typed job records in the store: every field reads back as written, under the meta keys
earlier releases wrote, and a tuning job an earlier release left winding down (its end kept in
the meta key `ending`) reads back in the state that goes on to that end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from emulator.domain.documents import new_tuning_doc
from emulator.domain.jobs import TrainingJob, TuningJob
from emulator.ids import tuning_job_arn
from emulator.store.sqlite import Store
from tests.requests import tuning_request


@pytest.fixture
def store() -> Iterator[Store]:
    opened = Store(":memory:")
    yield opened
    opened.close()


def tuning_doc(status: str = "InProgress") -> dict[str, Any]:
    doc = new_tuning_doc(tuning_request("t"), tuning_job_arn("us-east-1", "1" * 12, "t"), 1.0)
    doc["HyperParameterTuningJobStatus"] = status
    return doc


def training_doc(name: str = "t-001-abc") -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
        "TrainingJobStatus": "InProgress",
        "CreationTime": 2.0,
        "LastModifiedTime": 2.0,
    }


def stored_meta(store: Store, table: str) -> dict[str, object]:
    (text,) = store._db.execute(f"SELECT meta FROM {table}").fetchone()
    return dict(json.loads(text))


def test_a_child_reads_back_with_every_field(store: Store) -> None:
    job = TrainingJob(
        training_doc(),
        tuning_job="t",
        tuned={"lr": "0.1"},
        objective={"Type": "Maximize", "MetricName": "acc"},
        definition="d1",
        early_stopping=True,
        attempt=2,
        max_attempts=3,
        replaced_by="t-004-def",
        agent="agent-1",
        assigned_at=5.5,
        objective_value=0.75,
        stop_reason="early_stop",
        retryable=True,
        early_stopped=True,
    )
    store.insert_training_job(job)
    assert store.get_training_job(job.name) == job
    assert store.child_names("t") == [job.name]


def test_defaults_are_not_written_and_old_key_names_are(store: Store) -> None:
    store.insert_training_job(TrainingJob(training_doc("standalone")))
    assert store.get_training_job("standalone") == TrainingJob(training_doc("standalone"))
    store.insert_tuning_job(TuningJob(tuning_doc(), launched=3, seed=7))
    assert stored_meta(store, "training_jobs") == {}
    assert stored_meta(store, "tuning_jobs") == {"launched": 3, "seed": 7}


@pytest.mark.parametrize(
    ("status", "ending", "state"),
    [
        ("InProgress", None, "InProgress"),
        ("InProgress", "Completed", "Completing"),
        ("InProgress", "Failed", "Failing"),
        ("Stopping", "Stopped", "Stopping"),
        ("Completed", "Completed", "Completed"),
        ("Failed", "Failed", "Failed"),
        ("Stopped", "Stopped", "Stopped"),
        ("Completed", None, "Completed"),  # seeded finished: written back with its end
    ],
)
def test_a_tuning_job_reads_back_in_the_state_its_status_and_ending_say(
    store: Store, status: str, ending: str | None, state: str
) -> None:
    """`ending` as releases before the state machine wrote it: the end decided while the
    public status still showed InProgress or Stopping."""
    job = TuningJob(tuning_doc(status))
    store.insert_tuning_job(job)
    raw = {"launched": 2, "failure_reason": "why"} | ({"ending": ending} if ending else {})
    store._db.execute("UPDATE tuning_jobs SET meta = ?", (json.dumps(raw),))
    found = store.get_tuning_job("t")
    assert found is not None
    assert (found.state, found.status, found.launched) == (state, status, 2)
    store.update_tuning_job(found)
    written = stored_meta(store, "tuning_jobs")
    assert written.get("ending") == (None if state == "InProgress" else ending or status)
    assert written["failure_reason"] == "why"
