"""Metric and log events applied in runs: once each, in order, one bad event alone dropped, and
nothing half-applied when the store cannot write — on a real SQLite store (a file, so that WAL
and the checkpointer are the server's) and moto's real CloudWatch backends."""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from moto.cloudwatch.models import cloudwatch_backends
from moto.logs.models import logs_backends

from emulator.clock import ManualClock, SystemClock
from emulator.cloudwatch import GROUP, NAMESPACE, CloudWatchSink
from emulator.domain.events import TrainingLog, TrainingMetric
from emulator.domain.jobs import TrainingJob
from emulator.ingest import Ingest
from emulator.records import JobRecords
from emulator.store.sqlite import Store
from tests.requests import training_request

REGION = "us-east-1"
NOW = SystemClock().now()
"""CloudWatch Logs drops events older than 14 days: stamps near now, as agents' are."""


class MotoBackends:
    """moto's in-process CloudWatch backends, under an account of the test's own."""

    def __init__(self) -> None:
        self.account = f"{secrets.randbelow(10**12):012d}"

    def logs_backend(self, scope: Any = None) -> Any:
        return logs_backends[self.account][REGION]

    def cloudwatch_backend(self, scope: Any = None) -> Any:
        return cloudwatch_backends[self.account][REGION]


@pytest.fixture
def store(tmp_path: Path) -> Any:
    store = Store(tmp_path / "amt.sqlite3")
    yield store
    store.close()


@pytest.fixture
def backends() -> MotoBackends:
    return MotoBackends()


@pytest.fixture
def ingest(store: Store, tmp_path: Path, backends: MotoBackends) -> Ingest:
    records = JobRecords(store, ManualClock(), REGION, "1" * 12)
    for name in ("a", "b"):
        records.create_training(training_request(name), objective={"MetricName": "loss"})
    return Ingest(store, records, tmp_path / "logs", CloudWatchSink(backends))


def point(job: str, seq: int, value: float, name: str = "loss") -> TrainingMetric:
    return TrainingMetric(ts=NOW + seq, job=job, seq=seq, name=name, value=value)


def line(job: str, seq: int, text: str) -> TrainingLog:
    return TrainingLog(ts=NOW + seq, job=job, seq=seq, line=text)


def job_row(store: Store, name: str) -> TrainingJob:
    row = store.get_training_job(name)
    assert row is not None
    return row


def values(store: Store, job: str, metric: str = "loss") -> list[float]:
    return [v for _step, _ts, v in store.metric_series(job, metric)]


def test_a_run_is_stored_in_order_with_steps_per_series(ingest: Ingest, store: Store) -> None:
    run = [point("a", 1, 0.9), point("b", 1, 0.8), point("a", 2, 0.7), point("a", 3, 0.5)]
    stored = ingest.apply(run)
    assert [(p.event.job, p.step) for p in stored] == [("a", 1), ("b", 1), ("a", 2), ("a", 3)]
    assert values(store, "a") == [0.9, 0.7, 0.5]
    assert job_row(store, "a").objective_value == 0.5
    rows = {id(p.job) for p in stored if p.event.job == "a"}
    assert len(rows) == 1  # one row per job in a run: a decision on one point is seen by the next


def test_repeats_are_dropped_within_a_run_and_across_runs(ingest: Ingest, store: Store) -> None:
    first = [point("a", 1, 0.9), point("a", 2, 0.7)]
    assert len(ingest.apply(first)) == 2
    replay = [*first, point("a", 3, 0.6), point("a", 3, 0.6), point("a", 2, 0.7)]
    stored = ingest.apply(replay)
    assert [p.event.seq for p in stored] == [3]
    assert values(store, "a") == [0.9, 0.7, 0.6]


def test_the_mark_survives_a_restart(ingest: Ingest, store: Store, tmp_path: Path) -> None:
    ingest.apply([point("a", 4, 0.9)])
    store.close()
    again = Store(tmp_path / "amt.sqlite3")
    try:
        assert not again.first_in_series("a", "loss", 4, "any-id")
        assert not again.first_in_series("a", "loss", 2, "any-id")
        assert again.first_in_series("a", "loss", 5, "any-id")
    finally:
        again.close()


def test_series_are_marked_apart(ingest: Ingest, store: Store) -> None:
    """The simulator numbers every metric of an epoch with the epoch: equal seqs, other series."""
    stored = ingest.apply([point("a", 1, 0.9), point("a", 1, 0.1, name="acc")])
    assert len(stored) == 2
    assert values(store, "a", "acc") == [0.1]


def test_unnumbered_events_fall_back_to_their_event_id(ingest: Ingest, store: Store) -> None:
    event = point("a", 0, 0.5)
    assert ingest.metric(event) is not None
    assert ingest.metric(event) is None
    assert ingest.metric(point("a", 0, 0.4)) is not None
    assert values(store, "a") == [0.5, 0.4]


def test_events_applied_before_the_marks_existed_stay_applied(store: Store) -> None:
    """A store from before series marks recorded every event id: a replay of one is a repeat."""
    assert store.first_time("old-event")
    assert not store.first_in_series("a", "loss", 7, "old-event")
    assert store.first_in_series("a", "loss", 8, "new-event")


def test_unknown_jobs_and_non_finite_values_store_nothing(ingest: Ingest, store: Store) -> None:
    stored = ingest.apply([point("ghost", 1, 0.5), point("a", 1, float("nan")), point("a", 2, 1)])
    assert [p.event.seq for p in stored] == [2]
    assert values(store, "a") == [1.0]


def test_one_bad_event_is_dropped_alone(
    ingest: Ingest, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = store.add_metric_point

    def fails_on_seven(job: str, metric: str, ts: float, value: float) -> int:
        step = real(job, metric, ts, value)  # written, then undone by the savepoint
        if value == 7.0:
            raise ValueError("a bug handling this one point")
        return step

    monkeypatch.setattr(store, "add_metric_point", fails_on_seven)
    stored = ingest.apply([point("a", 1, 1.0), point("a", 2, 7.0), point("a", 3, 3.0)])
    assert [p.event.seq for p in stored] == [1, 3]
    assert store.metric_series("a", "loss") == [(1, NOW + 1, 1.0), (2, NOW + 3, 3.0)]
    assert job_row(store, "a").objective_value == 3.0


def test_a_full_disk_leaves_none_of_the_run_applied(
    ingest: Ingest, store: Store, backends: MotoBackends, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest.apply([point("a", 1, 1.0)])
    real = store.add_metric_point

    def full_on_third(job: str, metric: str, ts: float, value: float) -> int:
        if value == 3.0:
            raise sqlite3.OperationalError("database or disk is full")
        return real(job, metric, ts, value)

    monkeypatch.setattr(store, "add_metric_point", full_on_third)
    run = [point("a", 2, 2.0), point("b", 1, 5.0), point("a", 3, 3.0)]
    with pytest.raises(sqlite3.OperationalError):
        ingest.apply(run)
    assert values(store, "a") == [1.0] and values(store, "b") == []
    assert job_row(store, "a").objective_value == 1.0
    monkeypatch.setattr(store, "add_metric_point", real)
    assert len(ingest.apply(run)) == 3  # the retry applies every point, once
    assert values(store, "a") == [1.0, 2.0, 3.0] and values(store, "b") == [5.0]
    datapoints = backends.cloudwatch_backend().get_all_metrics()
    assert sorted(d.value for d in datapoints) == [1.0, 2.0, 3.0, 5.0]


def test_logs_are_appended_per_job_in_order(
    ingest: Ingest, backends: MotoBackends, tmp_path: Path
) -> None:
    ingest.apply(
        [line("a", 1, "one\n"), point("a", 2, 0.5), line("b", 1, "x"), line("a", 3, "two")]
    )
    assert (tmp_path / "logs" / "a.log").read_text() == "one\ntwo\n"
    assert (tmp_path / "logs" / "b.log").read_text() == "x\n"
    group = backends.logs_backend().groups[GROUP]
    (stream,) = [s for name, s in group.streams.items() if name.startswith("a/")]
    assert [e.message for e in stream.events] == ["one\n", "two"]


def test_cloudwatch_gets_a_run_of_points_in_one_put(
    ingest: Ingest, backends: MotoBackends, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = backends.cloudwatch_backend()
    puts: list[int] = []
    real = backend.put_metric_data

    def counting(namespace: str, data: list[dict[str, Any]]) -> None:
        puts.append(len(data))
        real(namespace, data)

    monkeypatch.setattr(backend, "put_metric_data", counting)
    ingest.apply([point("a", i, float(i)) for i in range(1, 6)])
    assert puts == [5]
    (metric,) = {(m.namespace, m.name) for m in backend.get_all_metrics()}
    assert metric == (NAMESPACE, "loss")


def test_a_log_put_is_in_time_order(backends: MotoBackends) -> None:
    """CloudWatch refuses a put whose events go back in time; lines stamped out of order still
    all arrive, the equal stamps in printed order."""
    sink = CloudWatchSink(backends)
    sink.logs("j", [(NOW + 1, "b"), (NOW, "a"), (NOW + 1, "c")])
    (stream,) = backends.logs_backend().groups[GROUP].streams.values()
    assert [e.message for e in stream.events] == ["a", "b", "c"]


def test_every_hundredth_commit_checkpoints_on_the_side_and_nothing_is_lost(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.sqlite3"
    store = Store(path)
    checkpointer = store._checkpointer
    assert checkpointer is not None

    def commit(i: int) -> None:
        with store.transaction():
            store.first_in_series("j", "m", i, f"e{i}")
            store.add_metric_point("j", "m", float(i), float(i))

    before = path.stat().st_size
    for i in range(1, checkpointer.EVERY):
        commit(i)
    assert path.stat().st_size == before  # commits only append to the log
    commit(checkpointer.EVERY)
    assert checkpointer._running is not None
    checkpointer._running.result(timeout=10)
    assert path.stat().st_size > before  # the log was copied into the database file
    for i in range(checkpointer.EVERY + 1, 3 * checkpointer.EVERY + 1):
        commit(i)
    store.close()
    db = sqlite3.connect(path)
    try:
        (count,) = db.execute("SELECT COUNT(*) FROM metric_points").fetchone()
        (mark,) = db.execute("SELECT seq FROM series_marks").fetchone()
    finally:
        db.close()
    assert count == mark == 3 * checkpointer.EVERY
