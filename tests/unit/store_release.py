"""A store written by the previous release (schema version 0, as of commit b78e12a): what it
holds, and how `fixtures/store-v0.sqlite3` was made.

The file is committed; `python -m tests.unit.store_release` writes it again through that
release's own store code (`git show b78e12a:emulator/store/sqlite.py`), so the rows are
exactly what a user who upgrades has in `~/.amt`. The test reads them back through the
current store's methods."""

from __future__ import annotations

import importlib.util
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

RELEASE = "b78e12a"
FIXTURE = Path(__file__).parent / "fixtures" / "store-v0.sqlite3"
ACCOUNT, REGION = "210987654321", "eu-west-1"
PREFIX = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
TUNING = "old-tuning"
TUNING_ARN = f"{PREFIX}:hyper-parameter-tuning-job/{TUNING}"
OTHER_ACCOUNT, OTHER_REGION = "123456789012", "us-east-1"


def tuning_doc() -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": TUNING,
        "HyperParameterTuningJobArn": TUNING_ARN,
        "HyperParameterTuningJobStatus": "Completed",
        "CreationTime": 1_700_000_000.0,
        "HyperParameterTuningEndTime": 1_700_000_600.0,
        "LastModifiedTime": 1_700_000_600.0,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
        },
        "TrainingJobStatusCounters": {"Completed": 1, "Stopped": 1},
        "ObjectiveStatusCounters": {"Succeeded": 2},
        "BestTrainingJob": {"TrainingJobName": f"{TUNING}-001-aaaa"},
    }


def training_doc(
    name: str, status: str, created: float, arn_prefix: str = PREFIX
) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "TrainingJobArn": f"{arn_prefix}:training-job/{name}",
        "TrainingJobStatus": status,
        "SecondaryStatus": status,
        "CreationTime": created,
        "TrainingEndTime": created + 60.0,
        "LastModifiedTime": created + 60.0,
        "HyperParameters": {"lr": "0.1"},
    }


TRAINING: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (
        training_doc(f"{TUNING}-001-aaaa", "Completed", 1_700_000_010.0),
        {"tuning_job": TUNING, "tuned": {"lr": "0.1"}, "objective_value": 0.91},
    ),
    (
        training_doc(f"{TUNING}-002-bbbb", "Stopped", 1_700_000_100.0),
        {"tuning_job": TUNING, "tuned": {"lr": "0.01"}, "objective_value": 0.85},
    ),
    (
        training_doc(
            "standalone",
            "Completed",
            1_700_000_300.0,
            f"arn:aws:sagemaker:{OTHER_REGION}:{OTHER_ACCOUNT}",
        ),
        {},
    ),
]
POINTS = [  # (job, metric, ts, value)
    (f"{TUNING}-001-aaaa", "validation:accuracy", 1_700_000_020.0, 0.80),
    (f"{TUNING}-001-aaaa", "validation:accuracy", 1_700_000_030.0, 0.91),
    (f"{TUNING}-002-bbbb", "validation:accuracy", 1_700_000_110.0, 0.85),
]
TAGS = [(TUNING_ARN, [("team", "vision"), ("stage", "dev")])]
APPLIED_EVENTS = ["event-1", "event-2"]


def build(path: Path, store_source: str) -> None:
    """Write the content above into a new database with the release's store code."""
    spec = importlib.util.spec_from_loader("released_store", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    exec(compile(store_source, "released_store.py", "exec"), module.__dict__)
    store = module.Store(path)
    try:
        store.insert_tuning_job(tuning_doc(), {"launched": 2})
        for doc, meta in TRAINING:
            store.insert_training_job(doc, meta)
        for job, metric, ts, value in POINTS:
            store.add_metric_point(job, metric, ts, value)
        for arn, tags in TAGS:
            store.add_tags(arn, tags)
        for event_id in APPLIED_EVENTS:
            store.first_time(event_id)
    finally:
        store.close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    db.execute("VACUUM")
    db.close()


def main() -> None:
    source = subprocess.run(
        ["git", "show", f"{RELEASE}:emulator/store/sqlite.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "amt.sqlite3"
        build(path, source)
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        FIXTURE.write_bytes(path.read_bytes())
    print(FIXTURE, FIXTURE.stat().st_size, "bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
