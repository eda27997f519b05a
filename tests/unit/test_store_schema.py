"""The store's schema version: a database from before accounts and regions opens, and its jobs
keep the account and region their ARNs name (and the agent and GPUs their rows name)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from emulator.clock import ManualClock
from emulator.records import JobRecords
from emulator.store.sqlite import MIGRATIONS, SCHEMA, Store
from tests.requests import training_request

ARN = "arn:aws:sagemaker:eu-west-1:210987654321:training-job/old-job"


def old_database(path: Path) -> None:
    """A version-0 database (no user_version, no scope or placement columns) holding a
    completed training job and one running on agent-1 on a 4-GPU instance."""
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    doc = {"TrainingJobName": "old-job", "TrainingJobArn": ARN}
    db.execute(
        "INSERT INTO training_jobs VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        ("old-job", "old-job", ARN, None, "Completed", 1.0, 2.0, 1, json.dumps(doc), "{}", "{}"),
    )
    running = {
        "TrainingJobName": "running-job",
        "TrainingJobArn": ARN.replace("old-job", "running-job"),
        "TrainingJobStatus": "InProgress",
        "ResourceConfig": {"InstanceType": "ml.p3.8xlarge", "InstanceCount": 1},
    }
    db.execute(
        "INSERT INTO training_jobs VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (
            "running-job",
            "running-job",
            running["TrainingJobArn"],
            None,
            "InProgress",
            1.0,
            2.0,
            2,
            json.dumps(running),
            json.dumps({"agent": "agent-1"}),
            "{}",
        ),
    )
    db.commit()
    db.close()


def test_an_old_database_is_migrated_on_open(tmp_path: Path) -> None:
    path = tmp_path / "amt.sqlite3"
    old_database(path)
    store = Store(path)
    try:
        found = store.describe_text("training_jobs", "old-job")
        assert found is not None
        assert (found.account, found.region) == ("210987654321", "eu-west-1")
        version = store._db.execute("PRAGMA user_version").fetchone()[0]
        assert version == len(MIGRATIONS)
        assert store.placements() == {"agent-1": (1, 4)}  # a p3.8xlarge holds 4 GPUs
        assert store.active_training_names(agent="agent-1") == ["running-job"]
    finally:
        store.close()
    Store(path).close()  # opening again changes nothing


def test_a_new_database_starts_at_the_current_version(tmp_path: Path) -> None:
    store = Store(tmp_path / "amt.sqlite3")
    try:
        assert store._db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    finally:
        store.close()


def test_placements_and_waiting_jobs_follow_every_write(tmp_path: Path) -> None:
    """The agent and GPU columns the scheduler counts in SQL stay those of the stored rows."""
    store = Store(tmp_path / "amt.sqlite3")
    try:
        jobs = []
        for name, instance in (("cpu", "ml.m5.xlarge"), ("gpu", "ml.p3.2xlarge")):
            request = training_request(name)
            request["ResourceConfig"]["InstanceType"] = instance
            job = JobRecords(store, ManualClock(), "us-east-1", "123456789012")
            jobs.append(job.create_training(request))
        assert store.waiting_training_names() == ["cpu", "gpu"]
        for job in jobs:
            job.agent = "agent-1"
            store.update_training_job(job)
        assert store.placements() == {"agent-1": (2, 1)}
        assert store.waiting_training_names() == []
        jobs[1].objective_value = 0.5
        store.update_training_meta(jobs[1])
        jobs[1].doc["TrainingJobStatus"] = "Completed"
        store.update_training_job(jobs[1])
        assert store.placements() == {"agent-1": (1, 0)}
        assert store.active_training_names(agent="agent-1") == ["cpu"]
        assert store.active_training_names(agent="agent-2") == []
    finally:
        store.close()
