"""Applying what agents report — status changes, metric points, log lines — to the store.

Each event is applied once (metric points by their per-series sequence number, status changes
by event id), and a status change the state machine does not allow (a late or replayed event
for a job that has moved on) is dropped, so at-least-once delivery neither loses nor
double-counts anything.

Metric and log events come in floods, so they are applied in runs: one transaction for the
whole run (a commit per point was most of the cost of a point), a savepoint per event (a bad
event is dropped alone), one parse of each job's document per run, and one write per job to
its log file and to CloudWatch. A crash before the commit leaves none of the run applied,
after it all of it: a redelivered event is either new or a repeat, never half of each.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from emulator.cloudwatch import CloudWatchSink
from emulator.domain.events import TrainingLog, TrainingMetric, TrainingStatus
from emulator.domain.jobs import TrainingJob
from emulator.records import JobRecords
from emulator.store.sqlite import Store, disk_full

log = logging.getLogger(__name__)

MAX_FAILURE_REASON = 1024

BulkEvent = TrainingMetric | TrainingLog


@dataclass(frozen=True)
class StoredPoint:
    """A metric point that was new: its event, its job (shared by the run's points of that
    job, so a decision taken on one point is seen by the next) and its step in the series."""

    event: TrainingMetric
    job: TrainingJob
    step: int


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

    def status(self, event: TrainingStatus) -> TrainingJob | None:
        """Apply a status event; the updated job when it changed, else None."""
        with self.store.transaction():  # the event id and its effect commit together
            job = self.store.get_training_job(event.job)
            if job is None or not self.store.first_time(event.event_id):
                return None
            if event.failure_reason:
                job.doc["FailureReason"] = event.failure_reason[:MAX_FAILURE_REASON]
            if event.secondary == "Failed":
                job.retryable = event.retryable
            if event.secondary == "Stopped" and job.stop_reason == "early_stop":
                job.early_stopped = True
            # Stamped when the agent reported it, not when it was received: in virtual
            # time a millisecond on the bus is seconds, and a job's metric points carry the
            # agent's time too (TrainingStartTime then precedes its first epoch's point).
            reported = event.ts or None
            moved = self.records.move(job, event.secondary, event.message or None, at=reported)
        return job if moved else None

    def metric(self, event: TrainingMetric) -> tuple[TrainingJob, int] | None:
        """Store one metric point; (job, step) when it was new and finite."""
        stored = self.apply([event])
        return (stored[0].job, stored[0].step) if stored else None

    def log(self, event: TrainingLog) -> None:
        self.apply([event])

    def apply(self, events: Sequence[BulkEvent]) -> list[StoredPoint]:
        """Apply a run of metric and log events in order; the points that were new.

        Raises only when the store cannot write at all (disk full): then nothing of the run
        was applied, and the caller may retry it whole.
        """
        points = [e for e in events if isinstance(e, TrainingMetric) and math.isfinite(e.value)]
        stored: list[StoredPoint] = []
        if points:
            with self.store.transaction():
                jobs: dict[str, TrainingJob | None] = {}
                for event in points:
                    found = self._point(event, jobs)
                    if found is not None:
                        stored.append(found)
        self._append_logs([e for e in events if isinstance(e, TrainingLog)])
        if self.cloudwatch is not None and stored:
            self.cloudwatch.metrics(
                [(p.event.job, p.event.name, p.event.ts, p.event.value) for p in stored]
            )
        return stored

    def _point(
        self, event: TrainingMetric, jobs: dict[str, TrainingJob | None]
    ) -> StoredPoint | None:
        """One point in its own savepoint; None when it was a repeat, or failed (logged)."""
        try:
            if event.job not in jobs:
                jobs[event.job] = self.store.get_training_job(event.job)
            job = jobs[event.job]
            if job is None:
                return None
            with self.store.savepoint():
                if not self.store.first_in_series(event.job, event.name, event.seq, event.event_id):
                    return None
                step = self.store.add_metric_point(event.job, event.name, event.ts, event.value)
                if job.objective.get("MetricName") == event.name:
                    self.store.update_training_meta(replace(job, objective_value=event.value))
                    job.objective_value = event.value  # once stored: an undone write leaves it
        except Exception as error:
            if disk_full(error):
                raise
            log.exception("could not store a metric point of %s: %s", event.job, event)
            return None
        return StoredPoint(event, job, step)

    def _append_logs(self, events: Sequence[TrainingLog]) -> None:
        """Each job's lines, in order, to its log file and CloudWatch stream: one write each."""
        by_job: dict[str, list[TrainingLog]] = {}
        for event in events:
            by_job.setdefault(event.job, []).append(event)
        for job, lines in by_job.items():
            try:
                with (self.logs_dir / f"{job}.log").open("a", encoding="utf-8") as fh:
                    fh.write("".join(e.line.rstrip("\n") + "\n" for e in lines))
            except OSError:
                log.exception("could not append %d log lines of %s", len(lines), job)
            if self.cloudwatch is not None:
                self.cloudwatch.logs(job, [(e.ts, e.line) for e in lines])
