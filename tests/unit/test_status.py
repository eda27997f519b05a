"""The status machines of training and tuning jobs, and the tuning summary derived from
children."""

from __future__ import annotations

import pytest

from emulator.domain import summary
from emulator.domain.jobs import TrainingJob, TuningJob
from emulator.domain.status import (
    PRIMARY_OF,
    TransitionRefused,
    move_tuning,
    transition,
    winding_down,
)


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
    return TrainingJob(
        doc,
        tuning_job="t",
        tuned={"x": "1"},
        objective={"Type": "Minimize", "MetricName": "loss"},
        objective_value=value,
        retryable=retryable,
    )


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


def tuning_job(created: float = 100.0) -> TuningJob:
    doc = {
        "HyperParameterTuningJobName": "t",
        "HyperParameterTuningJobStatus": "InProgress",
        "CreationTime": created,
        "LastModifiedTime": created,
    }
    return TuningJob(doc)


def test_a_completing_tuning_job_shows_in_progress_until_it_ends():
    job = tuning_job()
    move_tuning(job, "Completing", 150.0, "MaxNumberOfTrainingJobs")
    assert (job.status, job.completion_reason, winding_down(job.state)) == (
        "InProgress",
        "MaxNumberOfTrainingJobs",
        True,
    )
    assert job.doc["LastModifiedTime"] == 100.0  # the public status did not change
    assert "HyperParameterTuningEndTime" not in job.doc
    move_tuning(job, "Completed", 160.5)
    assert job.doc["HyperParameterTuningJobStatus"] == "Completed"
    assert job.doc["HyperParameterTuningEndTime"] == job.doc["LastModifiedTime"] == 160.5
    assert job.doc["ConsumedResources"] == {"RuntimeInSeconds": 60}
    assert "FailureReason" not in job.doc


def test_a_failing_tuning_job_ends_with_the_reason_it_began_to_fail_with():
    job = tuning_job()
    move_tuning(job, "Failing", 110.0, "No training job succeeded")
    move_tuning(job, "Failed", 120.0)
    assert job.doc["HyperParameterTuningJobStatus"] == "Failed"
    assert job.doc["FailureReason"] == "No training job succeeded"


def test_a_stop_shows_stopping_at_once_even_while_completing():
    job = tuning_job()
    move_tuning(job, "Completing", 110.0, "MaxRuntimeInSeconds")
    move_tuning(job, "Stopping", 120.0)
    assert (job.status, job.doc["LastModifiedTime"]) == ("Stopping", 120.0)
    move_tuning(job, "Stopped", 130.0)
    assert job.status == job.doc["HyperParameterTuningJobStatus"] == "Stopped"


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ((), "Completed"),  # an end only after winding down
        (("Stopping",), "Completing"),
        (("Failing", "Failed"), "Stopping"),
        (("Stopping", "Stopped"), "InProgress"),
    ],
)
def test_tuning_edges_the_machine_does_not_have_are_refused(path, refused):
    job = tuning_job()
    for state in path:
        move_tuning(job, state, 110.0, "why")
    with pytest.raises(TransitionRefused):
        move_tuning(job, refused, 120.0)
