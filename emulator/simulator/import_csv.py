"""Finished training jobs from a CSV in the shape of the SageMaker SDK's analytics exports.

`TrainingJobAnalytics(job, metric_names).dataframe()` has one row per metric point:
`timestamp` (seconds since the metric's first point), `metric_name`, `value`. One job's
frame does not name its job or its hyperparameters, so the file we read is those frames of
several jobs stacked, with a `TrainingJobName` column added, and the job's hyperparameters as
further columns (the tuned ones are the columns of the tuning job's
`HyperparameterTuningJobAnalytics(...).dataframe()`, so a merge on `TrainingJobName` gives
them). Columns of that dataframe that are not hyperparameters (`TrainingJobStatus`,
`FinalObjectiveValue`, times, the definition's name) are read or ignored, as is a pandas index
column; `TrainingJobStatus` defaults to Completed, `FailureReason` is read when present, and
`FinalObjectiveValue` is the objective's last value (exact where a period averaged points).

The SDK asks CloudWatch for 60 s periods by default, so epochs shorter than a minute come back
averaged into one point per minute: export with `TrainingJobAnalytics(job, period=1)` (or
import through the API, which asks for 1 s periods) to keep every epoch.
Counted from the first point, a `timestamp` does not say how long the first epoch took: when
a job's rows carry `TrainingElapsedTimeSeconds` (the tuning analytics frame's), its points are
shifted so the last one lands at the end of training, and the first epoch holds the start-up
and what followed the last epoch; without it the first epoch counts 0 s. A `timestamp` may
also be an ISO 8601 time: then it is counted from the job's `TrainingStartTime` column, or
from its first point.

Nothing is read before the header is checked: a file without the columns it needs is refused
with their names.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path

from emulator.simulator.importer import CurveImportError, FinishedJob, Point

JOB_COLUMNS = ("TrainingJobName", "training_job_name")
REQUIRED = ("timestamp", "metric_name", "value")
STATUS = "TrainingJobStatus"
FAILURE = "FailureReason"
START = "TrainingStartTime"
ELAPSED = "TrainingElapsedTimeSeconds"
FINAL = "FinalObjectiveValue"
NOT_HYPERPARAMETERS = frozenset(
    {
        *JOB_COLUMNS,
        *REQUIRED,
        STATUS,
        FAILURE,
        START,
        FINAL,
        "TrainingEndTime",
        ELAPSED,
        "TrainingJobDefinitionName",
        "",
        "Unnamed: 0",
    }
)


def read_csv(path: Path, objective: str) -> list[FinishedJob]:
    """The jobs of an analytics CSV, in the order they first appear."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return jobs_from_rows(reader.fieldnames or [], reader, objective, source=str(path))


def jobs_from_rows(
    columns: Iterable[str],
    rows: Iterable[Mapping[str, str]],
    objective: str,
    source: str = "the CSV",
) -> list[FinishedJob]:
    """Group rows into jobs (module docstring for the columns)."""
    columns = list(columns)
    job_column = next((c for c in JOB_COLUMNS if c in columns), None)
    missing = [c for c in REQUIRED if c not in columns]
    if job_column is None:
        missing.insert(0, " or ".join(JOB_COLUMNS))
    if missing:
        raise CurveImportError(
            f"{source} lacks the column(s) {', '.join(missing)} (it has: {', '.join(columns)})"
        )
    assert job_column is not None
    hyperparameters = [c for c in columns if c not in NOT_HYPERPARAMETERS]
    grouped: dict[str, list[Mapping[str, str]]] = {}
    for line, row in enumerate(rows, start=2):
        name = (row.get(job_column) or "").strip()
        if not name:
            raise CurveImportError(f"{source}, line {line}: no {job_column}")
        grouped.setdefault(name, []).append(row)
    if not grouped:
        raise CurveImportError(f"{source} has no rows")
    return [
        _job(name, group, hyperparameters, objective, source) for name, group in grouped.items()
    ]


def _job(
    name: str,
    rows: list[Mapping[str, str]],
    hyperparameters: list[str],
    objective: str,
    source: str,
) -> FinishedJob:
    first = rows[0]
    stamps = [_stamp(r["timestamp"], name, source) for r in rows]
    origin = _origin(stamps, first.get(START), name, source)
    seconds = [_seconds(stamp, origin) for stamp in stamps]
    if origin is None and first.get(ELAPSED) and seconds:
        shift = max(0.0, _value(first[ELAPSED], name, source) - max(seconds))
        seconds = [s + shift for s in seconds]
    points = tuple(
        Point(at, r["metric_name"], _value(r["value"], name, source))
        for at, r in zip(seconds, rows, strict=True)
        if r["metric_name"] and r["value"] != ""
    )
    return FinishedJob(
        name=name,
        hyperparameters={h: first[h] for h in hyperparameters if first.get(h, "") != ""},
        status=first.get(STATUS) or "Completed",
        points=points,
        failure=first.get(FAILURE) or None,
        final={objective: _value(first[FINAL], name, source)} if first.get(FINAL) else {},
    )


def _stamp(text: str, job: str, source: str) -> float | datetime:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise CurveImportError(
            f"{source}: job {job} has a timestamp {text!r} that is neither seconds nor a time"
        ) from None


def _origin(
    stamps: list[float | datetime], start: str | None, job: str, source: str
) -> datetime | None:
    times = [s for s in stamps if isinstance(s, datetime)]
    if not times:
        return None
    if len(times) != len(stamps):
        raise CurveImportError(f"{source}: job {job} mixes seconds and times in timestamp")
    if start:
        return datetime.fromisoformat(start)
    return min(times)


def _seconds(stamp: float | datetime, origin: datetime | None) -> float:
    if isinstance(stamp, datetime):
        assert origin is not None
        return (stamp - origin).total_seconds()
    return stamp


def _value(text: str, job: str, source: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CurveImportError(f"{source}: job {job} has a value {text!r}") from None
    return value if math.isfinite(value) else math.nan
