"""Training jobs' log lines and metric points, written where SageMaker users read them:
CloudWatch Logs group `/aws/sagemaker/TrainingJobs`, stream `<job>/algo-1-<epoch seconds>`, and
CloudWatch metrics namespace `/aws/sagemaker/TrainingJobs`, dimension `TrainingJobName` — in
moto's in-process backends, so `logs` and `cloudwatch` clients on our endpoint (and the SDK's
log streaming and TrainingJobAnalytics) read them back. Each job's lines and points go to the
backends of its own account and region, where a client configured for them looks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from emulator.ids import Scope

log = logging.getLogger(__name__)

GROUP = "/aws/sagemaker/TrainingJobs"
NAMESPACE = "/aws/sagemaker/TrainingJobs"
MAX_JOB_LOG_BYTES = 4 * 1024 * 1024
"""moto keeps log events in memory: beyond this much per job, lines go to the job's log file
only, so a program flooding its output cannot fill the server's memory."""


class Backends(Protocol):
    def logs_backend(self, scope: Scope | None = None) -> Any: ...

    def cloudwatch_backend(self, scope: Scope | None = None) -> Any: ...


Locate = Callable[[str], Scope | None]
"""A job's account and region by its name (None: unknown, the server's own)."""


class CloudWatchSink:
    def __init__(self, backends: Backends, locate: Locate | None = None) -> None:
        self.backends = backends
        self._locate = locate or (lambda _job: None)
        self._scopes: dict[str, Scope | None] = {}
        self._streams: dict[str, str] = {}
        self._groups_ready: set[Scope | None] = set()
        self._bytes: dict[str, int] = {}

    def scope_of(self, job: str) -> Scope | None:
        if job not in self._scopes:
            self._scopes[job] = self._locate(job)
        return self._scopes[job]

    def stream_of(self, job: str, ts: float) -> str:
        """The job's log stream, named after the moment its first line arrived."""
        stream = self._streams.get(job)
        if stream is None:
            scope = self.scope_of(job)
            logs = self.backends.logs_backend(scope)
            if scope not in self._groups_ready:
                if GROUP not in logs.groups:
                    logs.create_log_group(GROUP, {})
                self._groups_ready.add(scope)
            stream = f"{job}/algo-1-{int(ts)}"
            if stream not in logs.groups[GROUP].streams:
                logs.create_log_stream(GROUP, stream)
            self._streams[job] = stream
        return stream

    def log(self, job: str, ts: float, line: str) -> None:
        self.logs(job, [(ts, line)])

    def logs(self, job: str, lines: Sequence[tuple[float, str]]) -> None:
        """Append a job's lines `(ts, text)` to its stream in one put (CloudWatch wants one
        put's events in time order: a stable sort keeps the printed order of equal stamps)."""
        kept = [(ts, t) for ts, line in lines if (t := self._within_quota(job, line)) is not None]
        if not kept:
            return
        kept.sort(key=lambda item: item[0])
        try:
            stream = self.stream_of(job, kept[0][0])
            events = [{"timestamp": int(ts * 1000), "message": text} for ts, text in kept]
            # The group's own put: the backend's would drop events over 2 hours ahead of wall
            # time, and simulated time (`amt serve --simulate`) runs far ahead of it.
            logs = self.backends.logs_backend(self.scope_of(job))
            logs.groups[GROUP].put_log_events(stream, events)
        except Exception:
            log.exception("could not write log lines of %s to CloudWatch Logs", job)

    def _within_quota(self, job: str, line: str) -> str | None:
        """The line to keep for CloudWatch (None once the job's quota is spent): the line that
        passes the quota is replaced by a note saying where the rest went."""
        used = self._bytes.get(job, 0)
        if used > MAX_JOB_LOG_BYTES:
            return None
        self._bytes[job] = used + len(line)
        if self._bytes[job] > MAX_JOB_LOG_BYTES:
            return (
                f"[amt] this job's log passed {MAX_JOB_LOG_BYTES // 2**20} MiB: further lines "
                "are kept only in the emulator's log file for the job"
            )
        return line

    def metric(self, job: str, name: str, ts: float, value: float) -> None:
        self.metrics([(job, name, ts, value)])

    def metrics(self, points: Sequence[tuple[str, str, float, float]]) -> None:
        """Metric points `(job, metric, ts, value)`, in one put."""
        by_scope: dict[Scope | None, list[dict[str, Any]]] = {}
        for job, name, ts, value in points:
            by_scope.setdefault(self.scope_of(job), []).append(
                {
                    "MetricName": name,
                    "Dimensions": [{"Name": "TrainingJobName", "Value": job}],
                    "Value": value,
                    "Timestamp": datetime.fromtimestamp(ts, tz=UTC).replace(tzinfo=None),
                }
            )
        for scope, data in by_scope.items():
            try:
                self.backends.cloudwatch_backend(scope).put_metric_data(NAMESPACE, data)
            except Exception:
                log.exception("could not write %d metric points to CloudWatch", len(data))

    def forget(self) -> None:
        """Drop what is known of jobs and log groups (after a reset emptied the backends)."""
        self._scopes.clear()
        self._streams.clear()
        self._groups_ready.clear()
        self._bytes.clear()
