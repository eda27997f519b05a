"""A read-only view of a running server's store, from another process: what the benchmarks
watch (metric points landing, jobs failed) while the server writes. SQLite's WAL lets this
reader see every commit without holding up the writer."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def read_only(database: Path) -> Iterator[sqlite3.Connection]:
    """A reader beside the server's writer (WAL): every query sees the latest commit."""
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, isolation_level=None)
    try:
        yield db
    finally:
        db.close()


def last_point(db: sqlite3.Connection) -> int:
    """The position of the newest metric point (0 when none): later points come after it."""
    return int(db.execute("SELECT COALESCE(MAX(rowid), 0) FROM metric_points").fetchone()[0])


def points_after(
    db: sqlite3.Connection, after: int, job: str, metric: str
) -> list[tuple[int, float]]:
    """(position, value) of one series' points stored after position `after`."""
    rows = db.execute(
        "SELECT rowid, value FROM metric_points WHERE rowid > ? AND job = ? AND metric = ?",
        (after, job, metric),
    ).fetchall()
    return [(int(rowid), float(value)) for rowid, value in rows]


def count_points_after(db: sqlite3.Connection, after: int) -> int:
    """How many metric points were stored after position `after`."""
    (count,) = db.execute("SELECT COUNT(*) FROM metric_points WHERE rowid > ?", (after,)).fetchone()
    return int(count)


def failed_with_reason(db: sqlite3.Connection, names: Sequence[str], fragment: str) -> int:
    """How many of the named training jobs failed with `fragment` in their FailureReason."""
    marks = ",".join("?" * len(names))
    (count,) = db.execute(
        f"SELECT COUNT(*) FROM training_jobs WHERE name IN ({marks}) AND status = 'Failed' "
        "AND instr(json_extract(doc, '$.FailureReason'), ?) > 0",
        (*names, fragment),
    ).fetchone()
    return int(count)
