"""Applying what agents report — status changes, metric points, log lines — to the store.

Each event is applied once (by event id), and a status change the state machine does not allow
(a late or replayed event for a job that has moved on) is dropped, so at-least-once delivery
neither loses nor double-counts anything.
"""

from __future__ import annotations

import math
from pathlib import Path

from emulator.cloudwatch import CloudWatchSink
from emulator.domain.events import TrainingLog, TrainingMetric, TrainingStatus
from emulator.records import JobRecords
from emulator.store.sqlite import Row, Store

MAX_FAILURE_REASON = 1024


class Ingest:
    def __init__(
        self,
        store: Store,
        records: JobRecords,
        logs_dir: Path,
        cloudwatch: CloudWatchSink | None = None,
    ) -> None:
        self.store = store
        self.records = records
        self.logs_dir = logs_dir
        self.cloudwatch = cloudwatch
        logs_dir.mkdir(parents=True, exist_ok=True)

    def status(self, event: TrainingStatus) -> Row | None:
        """Apply a status event; the updated job when it changed, else None."""
        with self.store.transaction():  # the event id and its effect commit together
            row = self.store.get_training_job(event.job)
            if row is None or not self.store.first_time(event.event_id):
                return None
            if event.failure_reason:
                row.doc["FailureReason"] = event.failure_reason[:MAX_FAILURE_REASON]
            if event.secondary == "Failed":
                row.meta["retryable"] = event.retryable
            if event.secondary == "Stopped" and row.meta.get("stop_reason") == "early_stop":
                row.meta["early_stopped"] = True
            moved = self.records.move(row, event.secondary, event.message or None)
        return row if moved else None

    def metric(self, event: TrainingMetric) -> tuple[Row, int] | None:
        """Store a metric point; (job, step) when it was new and finite."""
        if not math.isfinite(event.value):
            return None
        with self.store.transaction():  # the event id and its effect commit together
            row = self.store.get_training_job(event.job)
            if row is None or not self.store.first_time(event.event_id):
                return None
            step = self.store.add_metric_point(event.job, event.name, event.ts, event.value)
            objective = row.meta.get("objective", {})
            if objective.get("MetricName") == event.name:
                row.meta["objective_value"] = event.value
                self.store.update_training_job(row)
        if self.cloudwatch is not None:
            self.cloudwatch.metric(event.job, event.name, event.ts, event.value)
        return row, step

    def log(self, event: TrainingLog) -> None:
        with (self.logs_dir / f"{event.job}.log").open("a", encoding="utf-8") as fh:
            fh.write(event.line.rstrip("\n") + "\n")
        if self.cloudwatch is not None:
            self.cloudwatch.log(event.job, event.ts, event.line)
