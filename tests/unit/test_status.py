"""The training-job status machine and the tuning summary derived from children."""

from __future__ import annotations

import pytest

from emulator.domain import summary
from emulator.domain.status import PRIMARY_OF, TransitionRefused, transition
from emulator.store.sqlite import Row


def new_job():
    return {"TrainingJobName": "j", "SecondaryStatusTransitions": []}


def test_happy_path_records_every_step_with_messages_and_times():
    job = new_job()
    for t, status in enumerate(["Starting", "Downloading", "Training", "Uploading", "Completed"]):
        transition(job, status, None, 100.0 + t)
    assert [s["Status"] for s in job["SecondaryStatusTransitions"]] == [
        "Starting",
        "Downloading",
        "Training",
        "Uploading",
        "Completed",
    ]
    assert all(s["StatusMessage"] for s in job["SecondaryStatusTransitions"])
    assert job["SecondaryStatusTransitions"][0]["EndTime"] == 101.0
    assert job["TrainingJobStatus"] == "Completed"
    assert job["TrainingStartTime"] == 101.0
    assert job["TrainingEndTime"] == 104.0
    assert job["LastModifiedTime"] == 104.0


def test_terminal_states_refuse_further_transitions():
    job = new_job()
    transition(job, "Starting", None, 1.0)
    transition(job, "Failed", "boom", 2.0)
    with pytest.raises(TransitionRefused):
        transition(job, "Training", None, 3.0)
    assert job["TrainingJobStatus"] == "Failed"


def test_primary_status_follows_secondary():
    assert PRIMARY_OF["MaxRuntimeExceeded"] == "Stopped"
    assert PRIMARY_OF["Pending"] == "InProgress"


def child(status, value=None, retryable=False, name="c"):
    doc = {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:{name}",
        "CreationTime": 1.0,
        "TrainingJobStatus": status,
    }
    meta = {
        "tuning_job": "t",
        "tuned": {"x": "1"},
        "objective": {"Type": "Minimize", "MetricName": "loss"},
        "objective_value": value,
        "retryable": retryable,
    }
    return Row(doc, meta)


def test_counters_and_best_job_come_from_children():
    rows = [
        child("Completed", 0.5, name="a"),
        child("Stopped", 0.2, name="b"),
        child("Failed", None, retryable=True, name="c"),
        child("Failed", None, name="d"),
        child("InProgress", 0.1, name="e"),
        child("Completed", None, name="f"),
    ]
    training, objective = summary.counters(rows)
    assert training == {
        "Completed": 2,
        "InProgress": 1,
        "RetryableError": 1,
        "NonRetryableError": 1,
        "Stopped": 1,
    }
    assert objective == {"Succeeded": 2, "Pending": 1, "Failed": 3}
    best = summary.best_of(rows)
    assert best is not None
    assert best.doc["TrainingJobName"] == "b"
    assert summary.training_summary(best)["FinalHyperParameterTuningJobObjectiveMetric"] == {
        "Type": "Minimize",
        "MetricName": "loss",
        "Value": 0.2,
    }
