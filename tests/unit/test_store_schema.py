"""The store's schema version: a database from before accounts and regions opens, and its jobs
keep the account and region their ARNs name."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from emulator.store.sqlite import MIGRATIONS, SCHEMA, Store

ARN = "arn:aws:sagemaker:eu-west-1:210987654321:training-job/old-job"


def old_database(path: Path) -> None:
    """A version-0 database (no user_version, no scope columns) holding one training job."""
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    doc = {"TrainingJobName": "old-job", "TrainingJobArn": ARN}
    db.execute(
        "INSERT INTO training_jobs VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        ("old-job", "old-job", ARN, None, "Completed", 1.0, 2.0, 1, json.dumps(doc), "{}", "{}"),
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
    finally:
        store.close()
    Store(path).close()  # opening again changes nothing


def test_a_new_database_starts_at_the_current_version(tmp_path: Path) -> None:
    store = Store(tmp_path / "amt.sqlite3")
    try:
        assert store._db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    finally:
        store.close()
