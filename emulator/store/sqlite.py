"""The single source of truth: jobs, metric series, tags — in SQLite (WAL).

Jobs are kept as the typed records of `domain.jobs`: the JSON the Describe operations return
and, beside it, the record's bookkeeping as a `meta` object (`store.meta`), with the columns
that List operations filter and sort on pulled out beside them. Every write happens inside
`transaction()`, so a crash at any moment leaves either the old state or the new. Names are
unique case-insensitively, as AWS's are. Each job also records the account and region its ARN
names, so the API can answer per account and region.

`PRAGMA user_version` numbers the schema; `MIGRATIONS` bring an older database up to date when
it is opened (a database from before the numbering is version 0).
"""

from __future__ import annotations

import json
import logging
import marshal
import sqlite3
import threading
from collections.abc import Collection, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.domain.instances import gpus_of
from emulator.domain.jobs import TrainingJob, TuningJob
from emulator.domain.listing import training_list_summary, tuning_list_summary
from emulator.domain.status import ACTIVE_TRAINING
from emulator.domain.summary import training_summary
from emulator.ids import Scope, scope_of_arn
from emulator.store.meta import training_job, training_meta, tuning_job, tuning_meta

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS tuning_jobs (
    name_key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    arn TEXT NOT NULL,
    status TEXT NOT NULL,
    creation_time REAL NOT NULL,
    last_modified REAL NOT NULL,
    doc TEXT NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}',
    summary TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS tuning_by_name ON tuning_jobs(name);
CREATE INDEX IF NOT EXISTS tuning_by_creation ON tuning_jobs(creation_time, name);
CREATE TABLE IF NOT EXISTS training_jobs (
    name_key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    arn TEXT NOT NULL,
    tuning_job TEXT,
    status TEXT NOT NULL,
    creation_time REAL NOT NULL,
    last_modified REAL NOT NULL,
    seq INTEGER NOT NULL,
    doc TEXT NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}',
    summary TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS training_by_creation ON training_jobs(creation_time, name);
CREATE INDEX IF NOT EXISTS training_by_name ON training_jobs(name);
CREATE INDEX IF NOT EXISTS training_by_tuning ON training_jobs(tuning_job, seq);
CREATE INDEX IF NOT EXISTS training_by_status ON training_jobs(status);
CREATE TABLE IF NOT EXISTS metric_points (
    job TEXT NOT NULL,
    metric TEXT NOT NULL,
    step INTEGER NOT NULL,
    ts REAL NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (job, metric, step)
);
CREATE TABLE IF NOT EXISTS tags (
    arn TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (arn, key)
);
CREATE TABLE IF NOT EXISTS applied_events (
    event_id TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS series_marks (
    job TEXT NOT NULL,
    metric TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (job, metric)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

UNSCOPED = Scope(account="", region="")
"""What a job whose ARN names no account or region is filed under (none is created so)."""


def _add_scopes(db: sqlite3.Connection) -> None:
    """Version 1: every job's account and region, taken from its ARN."""
    for table in ("tuning_jobs", "training_jobs"):
        db.execute(f"ALTER TABLE {table} ADD COLUMN account TEXT NOT NULL DEFAULT ''")
        db.execute(f"ALTER TABLE {table} ADD COLUMN region TEXT NOT NULL DEFAULT ''")
        rows = db.execute(f"SELECT name_key, arn FROM {table}").fetchall()
        scopes = [(scope_of_arn(arn, UNSCOPED), key) for key, arn in rows]
        db.executemany(
            f"UPDATE {table} SET account=?, region=? WHERE name_key=?",
            [(s.account, s.region, key) for s, key in scopes],
        )
    db.execute("CREATE INDEX tuning_by_scope ON tuning_jobs(account, region, name)")
    db.execute(
        "CREATE INDEX training_by_scope ON training_jobs(account, region, creation_time, name)"
    )


def _add_placements(db: sqlite3.Connection) -> None:
    """Version 2: each training job's agent and the GPUs it holds there, as columns, so the
    scheduler counts an agent's room in SQL instead of decoding every active job."""
    db.execute("ALTER TABLE training_jobs ADD COLUMN agent TEXT")
    db.execute("ALTER TABLE training_jobs ADD COLUMN gpus INTEGER NOT NULL DEFAULT 0")
    rows = db.execute("SELECT name_key, doc, meta FROM training_jobs").fetchall()
    db.executemany(
        "UPDATE training_jobs SET agent=?, gpus=? WHERE name_key=?",
        [
            (*_placement_columns(training_job(json.loads(doc), json.loads(meta))), key)
            for key, doc, meta in rows
        ],
    )
    db.execute("CREATE INDEX training_by_agent ON training_jobs(status, agent)")


MIGRATIONS = (_add_scopes, _add_placements)
"""MIGRATIONS[i] takes a database from version i to i + 1."""


def migrate(db: sqlite3.Connection) -> None:
    """Bring the schema to the current version, one step per transaction (the version is read
    inside it, so two processes opening one database migrate it once)."""
    while True:
        db.execute("BEGIN IMMEDIATE")
        try:
            (version,) = db.execute("PRAGMA user_version").fetchone()
            if version < len(MIGRATIONS):
                MIGRATIONS[version](db)
                db.execute(f"PRAGMA user_version = {version + 1}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        if version >= len(MIGRATIONS) - 1:
            return


SORT_COLUMNS = frozenset({"name", "creation_time", "status"})
"""What a listing can be sorted by (then by name, in the same direction)."""


@dataclass(frozen=True)
class PageQuery:
    """One page of a listing in the store's terms: the List operations map their filters here.

    Times are epoch seconds; `name_contains` is matched case-insensitively; `nothing` is a
    filter no stored job passes (the warm pools the emulator never keeps)."""

    account: str
    region: str
    sort: str
    descending: bool
    limit: int
    offset: int
    created_after: float | None = None
    created_before: float | None = None
    modified_after: float | None = None
    modified_before: float | None = None
    name_contains: str | None = None
    status: str | None = None
    nothing: bool = False


@dataclass(frozen=True)
class PageRow:
    """One job of a listing: its stored summary, and what filters applied after paging read."""

    summary: str
    name_key: str
    status: str


@dataclass(frozen=True)
class StoredText:
    doc: str
    name: str
    status: str
    creation_time: float
    account: str
    region: str


WAL_KEPT_BYTES = 64 * 2**20
"""A log that grew past this (a long flood) is cut back to it once it has been copied."""
_CHECKPOINTS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-checkpoint")
"""One thread for every store's checkpoints: they wait on the disk, never on each other."""


class Checkpointer:
    """Copies a store's write-ahead log into its database file off the event loop.

    Left to SQLite, the commit that takes the log past its threshold does this itself, with
    two fsyncs (milliseconds each), and while a reader keeps part of the log in use, every
    later commit tries again: the event loop sat in fsync for a quarter of its time. Here
    every EVERY-th commit asks for a checkpoint; the one thread runs it on a connection of its
    own (WAL lets it overlap the writer). Not often: the commit that finds the log all copied
    starts it over, and that costs the writer an fsync of the log's header (SQLite's own
    threshold, 1,000 pages, is about as many commits of an API request or a batch of points).
    """

    EVERY = 1000

    def __init__(self, path: str) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._due = False
        self._running: Future[None] | None = None
        self._commits = 0

    def committed(self) -> None:
        """Count a commit (on the writer's thread); every EVERY-th asks for a checkpoint."""
        self._commits += 1
        if self._commits % self.EVERY == 0:
            self.request()

    def request(self) -> None:
        with self._lock:
            if self._due:
                return
            self._due = True
            self._running = _CHECKPOINTS.submit(self._run)

    def _run(self) -> None:
        with self._lock:
            self._due = False  # a commit from now on asks for another
            if self._db is None:
                self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as error:  # the log keeps every commit: nothing is lost
            log.warning("checkpoint of %s failed: %s", self.path, error)

    def close(self) -> None:
        with self._lock:
            running, self._due = self._running, True  # no more requests
        if running is not None:
            running.result()
        if self._db is not None:
            self._db.close()


class Store:
    """SQLite repository. Calls are synchronous and short; the event loop calls them directly."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._checkpointer: Checkpointer | None = None
        if self.path != ":memory:":
            self._db.execute("PRAGMA wal_autocheckpoint=0")  # the Checkpointer's job
            self._db.execute(f"PRAGMA journal_size_limit={WAL_KEPT_BYTES}")
            self._checkpointer = Checkpointer(self.path)
        self._db.executescript(SCHEMA)
        migrate(self._db)
        self._depth = 0
        self._lock = threading.RLock()
        self._series: dict[tuple[str, str], list[float]] = {}
        """Metric series already read, kept exact by add_metric_point: early stopping reads
        every earlier job's curve on every objective point."""
        self._steps: dict[tuple[str, str], int] = {}
        self._marks: dict[tuple[str, str], int] = {}
        """Each series' last step and high-water mark (0: none stored), as stored: two reads
        fewer per metric point. Like `_series`, forgotten whenever a write is undone."""
        self._training: dict[str, tuple[bytes, bytes]] = {}
        """Training jobs' (doc, meta) as stored, by name key, in marshal's format: a tuning
        job reads every one of its children at each update, and marshal reads them about
        three times faster than JSON. Kept exact by every write; forgotten whenever a write
        is undone."""
        self._summaries: dict[str, tuple[tuple[bytes, bytes], dict[str, Any]]] = {}
        """Each child's HyperParameterTrainingJobSummary, by name, with the row it was made
        from: valid while that row (compared by identity) is the one in `_training`."""
        self._child_names: dict[str, list[str]] = {}
        """Each tuning job's children in launch order, kept exact by insert_training_job:
        early stopping asks for them at every objective point."""

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes atomically; nests (inner blocks join the outer transaction)."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer:
                    self._db.execute("ROLLBACK")
                    self._forget()  # the caches may hold writes that were just rolled back
                raise
            self._depth -= 1
            if outer:
                self._commit()

    def _commit(self) -> None:
        """COMMIT; if it fails (a full disk shows here, when the WAL is written), nothing of
        the transaction stays: not in the database (SQLite may or may not have rolled it back
        already) and not in the caches, which took its writes as they were made."""
        try:
            self._db.execute("COMMIT")
        except BaseException:
            self._forget()
            if self._db.in_transaction:
                with suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
            raise
        if self._checkpointer is not None:
            self._checkpointer.committed()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """One step of a larger transaction that may fail alone: its writes are undone, the
        others' stay (a bad event in a batch does not spoil the batch)."""
        with self.transaction():
            self._db.execute("SAVEPOINT step")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK TO step")
                self._db.execute("RELEASE step")
                self._forget()  # the caches may hold writes that were just undone
                raise
            self._db.execute("RELEASE step")

    def _forget(self) -> None:
        self._series.clear()
        self._steps.clear()
        self._marks.clear()
        self._training.clear()
        self._summaries.clear()
        self._child_names.clear()

    # ---- sequence numbers -------------------------------------------------------------
    def next_value(self, counter: str) -> int:
        with self.transaction():
            self._db.execute(
                "INSERT INTO counters(name, value) VALUES (?, 1) "
                "ON CONFLICT(name) DO UPDATE SET value = value + 1",
                (counter,),
            )
            (value,) = self._db.execute(
                "SELECT value FROM counters WHERE name = ?", (counter,)
            ).fetchone()
        return int(value)

    # ---- tuning jobs --------------------------------------------------------------------
    def insert_tuning_job(self, job: TuningJob) -> None:
        doc = job.doc
        with self.transaction():
            self._db.execute(
                "INSERT INTO tuning_jobs (name_key, name, arn, status, creation_time, "
                "last_modified, doc, meta, summary, account, region) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    doc["HyperParameterTuningJobName"].lower(),
                    doc["HyperParameterTuningJobName"],
                    doc["HyperParameterTuningJobArn"],
                    doc["HyperParameterTuningJobStatus"],
                    doc["CreationTime"],
                    doc["LastModifiedTime"],
                    _dump(doc),
                    _dump(tuning_meta(job)),
                    _dump(tuning_list_summary(doc)),
                    *_scope_columns(doc["HyperParameterTuningJobArn"]),
                ),
            )

    def get_tuning_job(self, name: str) -> TuningJob | None:
        found = self._db.execute(
            "SELECT doc, meta FROM tuning_jobs WHERE name_key = ?", (name.lower(),)
        ).fetchone()
        return tuning_job(json.loads(found[0]), json.loads(found[1])) if found else None

    def update_tuning_job(self, job: TuningJob) -> None:
        doc = job.doc
        with self.transaction():
            self._db.execute(
                "UPDATE tuning_jobs SET status=?, last_modified=?, doc=?, meta=?, summary=? "
                "WHERE name_key=?",
                (
                    doc["HyperParameterTuningJobStatus"],
                    doc["LastModifiedTime"],
                    _dump(doc),
                    _dump(tuning_meta(job)),
                    _dump(tuning_list_summary(doc)),
                    doc["HyperParameterTuningJobName"].lower(),
                ),
            )

    def delete_tuning_job(self, name: str) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM tuning_jobs WHERE name_key = ?", (name.lower(),))

    def tuning_jobs(self, *, statuses: Collection[str] = ()) -> list[TuningJob]:
        """Every tuning job, or those in one of `statuses`."""
        where, args = _status_in(statuses)
        sql = "SELECT doc, meta FROM tuning_jobs" + where
        return [tuning_job(json.loads(d), json.loads(m)) for d, m in self._db.execute(sql, args)]

    def tuning_job_names(self, status: Sequence[str]) -> list[str]:
        marks = ",".join("?" * len(status))
        rows = self._db.execute(
            f"SELECT name FROM tuning_jobs WHERE status IN ({marks}) ORDER BY creation_time",
            tuple(status),
        )
        return [r[0] for r in rows]

    # ---- training jobs ------------------------------------------------------------------
    def insert_training_job(self, job: TrainingJob) -> None:
        doc = job.doc
        stored = (_dump(doc), _dump(training_meta(job)))
        with self.transaction():
            seq = self.next_value("training_seq")
            self._db.execute(
                "INSERT INTO training_jobs (name_key, name, arn, tuning_job, status, "
                "creation_time, last_modified, seq, doc, meta, summary, account, region, "
                "agent, gpus) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    doc["TrainingJobName"].lower(),
                    doc["TrainingJobName"],
                    doc["TrainingJobArn"],
                    job.tuning_job,
                    doc["TrainingJobStatus"],
                    doc["CreationTime"],
                    doc["LastModifiedTime"],
                    seq,
                    *stored,
                    _dump(training_list_summary(doc)),
                    *_scope_columns(doc["TrainingJobArn"]),
                    *_placement_columns(job),
                ),
            )
            self._training[job.name.lower()] = _frozen(*stored)
            if job.tuning_job is not None and job.tuning_job in self._child_names:
                self._child_names[job.tuning_job].append(job.name)

    def get_training_job(self, name: str) -> TrainingJob | None:
        key = name.lower()
        frozen = self._training.get(key)
        if frozen is None:
            found = self._db.execute(
                "SELECT doc, meta FROM training_jobs WHERE name_key = ?", (key,)
            ).fetchone()
            if found is None:
                return None
            frozen = self._training[key] = _frozen(*found)
        return _thawed(frozen)

    def update_training_job(self, job: TrainingJob) -> None:
        doc = job.doc
        stored = (_dump(doc), _dump(training_meta(job)))
        with self.transaction():
            self._db.execute(
                "UPDATE training_jobs SET status=?, last_modified=?, doc=?, meta=?, summary=?, "
                "agent=?, gpus=? WHERE name_key=?",
                (
                    doc["TrainingJobStatus"],
                    doc["LastModifiedTime"],
                    *stored,
                    _dump(training_list_summary(doc)),
                    *_placement_columns(job),
                    doc["TrainingJobName"].lower(),
                ),
            )
            self._training[doc["TrainingJobName"].lower()] = _frozen(*stored)

    def delete_training_job(self, name: str) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM training_jobs WHERE name_key = ?", (name.lower(),))
            self._db.execute("DELETE FROM metric_points WHERE job = ?", (name,))
            self._db.execute("DELETE FROM series_marks WHERE job = ?", (name,))
            self._forget()

    def update_training_meta(self, job: TrainingJob) -> None:
        """Rewrite only a job's bookkeeping (e.g. its latest objective value): the document,
        and so its list summary, stay as they are."""
        meta = _dump(training_meta(job))
        key = job.name.lower()
        with self.transaction():
            self._db.execute(
                "UPDATE training_jobs SET meta=?, agent=?, gpus=? WHERE name_key=?",
                (meta, *_placement_columns(job), key),
            )
            frozen = self._training.get(key)
            if frozen is not None:
                self._training[key] = (frozen[0], marshal.dumps(json.loads(meta)))

    def training_jobs(self, *, statuses: Collection[str] = ()) -> list[TrainingJob]:
        """Every training job, or those in one of `statuses`, in creation order."""
        where, args = _status_in(statuses)
        return self._training_rows(where, args)

    def children(self, tuning_job: str) -> list[TrainingJob]:
        """Training jobs launched by a tuning job, in launch order (each a fresh copy)."""
        return [_thawed(frozen) for _name, frozen in self._child_rows(tuning_job)]

    def child_summaries(self, tuning_job: str) -> list[dict[str, Any]]:
        """The HyperParameterTrainingJobSummary of each child, in launch order, made once per
        write to its row and then shared (do not change them): a List call on a tuning job
        of 500 children decoded all 500 to page 100 of them (10 ms of the server's loop)."""
        made = self._summaries
        summaries = []
        for name, frozen in self._child_rows(tuning_job):
            seen = made.get(name)
            if seen is None or seen[0] is not frozen:
                seen = made[name] = (frozen, training_summary(_thawed(frozen)))
            summaries.append(seen[1])
        return summaries

    def child_versions(self, tuning_job: str) -> list[tuple[str, object]]:
        """A tuning job's children in launch order, each name with a token of its stored row
        that is replaced on every write to it (compare by identity): a caller keeping copies
        of the children reads again only those whose token changed, without decoding all."""
        return list(self._child_rows(tuning_job))

    def _child_rows(self, tuning_job: str) -> list[tuple[str, tuple[bytes, bytes]]]:
        names = self.child_names(tuning_job)
        keys = [name.lower() for name in names]
        if any(key not in self._training for key in keys):
            rows = self._db.execute(
                "SELECT name_key, doc, meta FROM training_jobs WHERE tuning_job = ?",
                (tuning_job,),
            )
            for key, doc, meta in rows:
                if key not in self._training:
                    self._training[key] = _frozen(doc, meta)
        return [(name, self._training[key]) for name, key in zip(names, keys, strict=True)]

    def waiting_training_names(self) -> list[str]:
        """Active jobs placed on no agent yet, in creation order, without decoding them."""
        rows = self._db.execute(
            "SELECT name FROM training_jobs WHERE status = 'InProgress' AND agent IS NULL "
            "ORDER BY seq"
        )
        return [r[0] for r in rows]

    def placements(self) -> dict[str, tuple[int, int]]:
        """Agent -> (active jobs placed there, GPUs they hold), counted in SQL: asked on every
        heartbeat and every placement, it must not decode the jobs."""
        where, args = _status_in(ACTIVE_TRAINING)
        rows = self._db.execute(
            "SELECT agent, count(*), sum(gpus) FROM training_jobs"
            + where
            + " AND agent IS NOT NULL GROUP BY agent",
            args,
        )
        return {agent: (int(jobs), int(gpus)) for agent, jobs, gpus in rows}

    def _training_rows(self, where: str, args: Sequence[Any]) -> list[TrainingJob]:
        """Rows in creation order, each a fresh copy; read through the row cache (only the
        keys come from SQL unless a row is not cached yet)."""
        keys = [
            k
            for (k,) in self._db.execute(
                "SELECT name_key FROM training_jobs" + where + " ORDER BY seq", args
            )
        ]
        missing = [k for k in keys if k not in self._training]
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found = self._db.execute(
                f"SELECT name_key, doc, meta FROM training_jobs WHERE name_key IN ({marks})",
                chunk,
            )
            for key, doc, meta in found:
                self._training[key] = _frozen(doc, meta)
        return [_thawed(self._training[k]) for k in keys]

    def child_names(self, tuning_job: str) -> list[str]:
        """Names of a tuning job's training jobs in launch order, without loading documents."""
        names = self._child_names.get(tuning_job)
        if names is None:
            rows = self._db.execute(
                "SELECT name FROM training_jobs WHERE tuning_job = ? ORDER BY seq", (tuning_job,)
            )
            names = self._child_names[tuning_job] = [r[0] for r in rows]
        return list(names)

    def active_training_names(self, agent: str | None = None) -> list[str]:
        """Names of the active training jobs (placed on `agent`, if given), without decoding."""
        where, args = _status_in(ACTIVE_TRAINING)
        if agent is not None:
            where, args = where + " AND agent = ?", (*args, agent)
        rows = self._db.execute("SELECT name FROM training_jobs" + where + " ORDER BY seq", args)
        return [r[0] for r in rows]

    # ---- metrics --------------------------------------------------------------------------
    def add_metric_point(self, job: str, metric: str, ts: float, value: float) -> int:
        """Append a point; returns its 1-based step (epoch index) within the series."""
        key = (job, metric)
        with self.transaction():
            last = self._steps.get(key)
            if last is None:
                (last,) = self._db.execute(
                    "SELECT COALESCE(MAX(step), 0) FROM metric_points WHERE job=? AND metric=?",
                    key,
                ).fetchone()
            step = int(last) + 1
            self._db.execute(
                "INSERT INTO metric_points VALUES (?,?,?,?,?)", (job, metric, step, ts, value)
            )
            self._steps[key] = step
            cached = self._series.get(key)
            if cached is not None:
                cached.append(float(value))
        return step

    def metric_series(self, job: str, metric: str) -> list[tuple[int, float, float]]:
        """(step, ts, value) of one metric of one job, in order."""
        rows = self._db.execute(
            "SELECT step, ts, value FROM metric_points WHERE job=? AND metric=? ORDER BY step",
            (job, metric),
        )
        return [(int(s), float(t), float(v)) for s, t, v in rows]

    def series_of(self, jobs: Sequence[str], metric: str, max_step: int) -> dict[str, list[float]]:
        """The first `max_step` values of one metric for several jobs (read once, then cached)."""
        missing = [job for job in jobs if (job, metric) not in self._series]
        if missing:
            marks = ",".join("?" * len(missing))
            for job in missing:
                self._series[(job, metric)] = []
            rows = self._db.execute(
                f"SELECT job, value FROM metric_points WHERE metric = ? "
                f"AND job IN ({marks}) ORDER BY job, step",
                (metric, *missing),
            )
            for job, value in rows:
                self._series[(job, metric)].append(float(value))
        return {job: self._series[(job, metric)][:max_step] for job in jobs}

    def final_metrics(self, job: str) -> list[tuple[str, float, float]]:
        """(metric, ts, value) of the last point of every metric of a job."""
        rows = self._db.execute(
            "SELECT metric, ts, value FROM metric_points p WHERE job = ? AND step = "
            "(SELECT MAX(step) FROM metric_points q WHERE q.job = p.job AND q.metric = p.metric) "
            "ORDER BY metric",
            (job,),
        )
        return [(m, float(t), float(v)) for m, t, v in rows]

    # ---- listing ------------------------------------------------------------------------
    def page(self, table: str, query: PageQuery) -> list[PageRow]:
        """One page of a filtered, sorted listing: the stored summaries' JSON text."""
        if table not in ("tuning_jobs", "training_jobs"):
            raise ValueError(table)
        if query.sort not in SORT_COLUMNS:
            raise ValueError(query.sort)
        where, args = _page_filters(query)
        direction = "DESC" if query.descending else "ASC"
        sql = f"SELECT summary, name_key, status FROM {table} WHERE " + " AND ".join(where)
        sql += f" ORDER BY {query.sort} {direction}, name {direction} LIMIT ? OFFSET ?"
        return [PageRow(*row) for row in self._db.execute(sql, (*args, query.limit, query.offset))]

    def describe_text(self, table: str, name: str) -> StoredText | None:
        """A job's document as stored JSON text, with its columns, without parsing it."""
        if table not in ("tuning_jobs", "training_jobs"):
            raise ValueError(table)
        found = self._db.execute(
            f"SELECT doc, name, status, creation_time, account, region FROM {table} "
            "WHERE name_key = ?",
            (name.lower(),),
        ).fetchone()
        return StoredText(*found) if found else None

    # ---- tags -----------------------------------------------------------------------------
    def add_tags(self, arn: str, tags: Sequence[tuple[str, str]]) -> None:
        with self.transaction():
            self._db.executemany(
                "INSERT INTO tags VALUES (?,?,?) "
                "ON CONFLICT(arn, key) DO UPDATE SET value=excluded.value",
                [(arn, k, v) for k, v in tags],
            )

    def list_tags(self, arn: str) -> list[tuple[str, str]]:
        rows = self._db.execute("SELECT key, value FROM tags WHERE arn=? ORDER BY rowid", (arn,))
        return [(k, v) for k, v in rows]

    def delete_tags(self, arn: str, keys: Sequence[str]) -> None:
        with self.transaction():
            self._db.executemany("DELETE FROM tags WHERE arn=? AND key=?", [(arn, k) for k in keys])

    def clear_tags(self, arn: str) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM tags WHERE arn=?", (arn,))

    # ---- idempotency ----------------------------------------------------------------------
    def first_time(self, event_id: str) -> bool:
        """Record an event id; False when it was applied before (a duplicate delivery)."""
        with self.transaction():
            cur = self._db.execute(
                "INSERT OR IGNORE INTO applied_events(event_id) VALUES (?)", (event_id,)
            )
        return cur.rowcount == 1

    def first_in_series(self, job: str, metric: str, seq: int, event_id: str) -> bool:
        """Record a metric event; False when it was applied before.

        An agent numbers a job's events in the order it emits them (`seq`), and both buses
        deliver one job's events in that order (a replay repeats only what came before), so
        one high-water mark per series tells a repeat from a new point, in constant space.
        Unnumbered events (seq 0) fall back to their event id. A series without a mark may
        predate the marks: its event ids were recorded instead.
        """
        if seq <= 0:
            return self.first_time(event_id)
        key = (job, metric)
        with self.transaction():
            mark = self._marks.get(key)
            if mark is None:
                found = self._db.execute(
                    "SELECT seq FROM series_marks WHERE job=? AND metric=?", key
                ).fetchone()
                mark = int(found[0]) if found else 0
            if seq <= mark or (mark == 0 and self._applied(event_id)):
                return False
            self._db.execute(
                "INSERT INTO series_marks VALUES (?,?,?) "
                "ON CONFLICT(job, metric) DO UPDATE SET seq=excluded.seq",
                (job, metric, seq),
            )
            self._marks[key] = seq
        return True

    def _applied(self, event_id: str) -> bool:
        found = self._db.execute("SELECT 1 FROM applied_events WHERE event_id=?", (event_id,))
        return found.fetchone() is not None

    # ---- tests and tools ------------------------------------------------------------------
    def clear(self) -> None:
        """Remove every job, metric point, tag and applied-event record (a reset)."""
        with self.transaction():
            for table in _TABLES:
                self._db.execute(f"DELETE FROM {table}")
            self._forget()

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        return snapshot(self._db)


def snapshot(db: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, ordered: equal snapshots mean equal stored state."""
    tables = ("tuning_jobs", "training_jobs", "metric_points", "tags", "counters")
    return {t: sorted(tuple(r) for r in db.execute(f"SELECT * FROM {t}")) for t in tables}


def snapshot_file(path: Path | str) -> dict[str, list[tuple[Any, ...]]]:
    """Snapshot a store another process owns, through a read-only connection."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return snapshot(db)
    finally:
        db.close()


def disk_full(error: BaseException) -> bool:
    """SQLite could not write for want of space: the write may succeed later, so callers hold
    what they were applying and retry instead of dropping it."""
    return isinstance(error, sqlite3.OperationalError) and "full" in str(error)


_TABLES = (
    "tuning_jobs",
    "training_jobs",
    "metric_points",
    "tags",
    "applied_events",
    "series_marks",
    "counters",
)


def _scope_columns(arn: str) -> tuple[str, str]:
    scope = scope_of_arn(arn, UNSCOPED)
    return scope.account, scope.region


def _status_in(statuses: Collection[str]) -> tuple[str, tuple[str, ...]]:
    """A WHERE clause for `status IN (...)`, or none for no statuses."""
    if not statuses:
        return "", ()
    ordered = tuple(sorted(statuses))
    return f" WHERE status IN ({','.join('?' * len(ordered))})", ordered


def _page_filters(query: PageQuery) -> tuple[list[str], list[Any]]:
    """The conditions and arguments of a listing page, in the request's account and region."""
    where: list[str] = []
    args: list[Any] = []
    for value, clause in (
        (query.created_after, "creation_time > ?"),
        (query.created_before, "creation_time < ?"),
        (query.modified_after, "last_modified > ?"),
        (query.modified_before, "last_modified < ?"),
    ):
        if value is not None:
            where.append(clause)
            args.append(value)
    if query.name_contains:
        where.append("instr(name_key, ?) > 0")
        args.append(query.name_contains.lower())
    if query.status:
        where.append("status = ?")
        args.append(query.status)
    where += ["account = ?", "region = ?"]
    args += [query.account, query.region]
    if query.nothing:
        where.append("0")
    return where, args


def _dump(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _placement_columns(job: TrainingJob) -> tuple[str | None, int]:
    """The `agent` and `gpus` columns of a training job's row."""
    if not job.agent:
        return None, 0
    return job.agent, gpus_of(job.doc)


def _frozen(doc: str, meta: str) -> tuple[bytes, bytes]:
    """A training job's stored JSON (doc, meta) in marshal's format: the very values a JSON
    read gives (lists, not tuples; NaN kept), read back about three times faster."""
    return marshal.dumps(json.loads(doc)), marshal.dumps(json.loads(meta))


def _thawed(frozen: tuple[bytes, bytes]) -> TrainingJob:
    """A fresh TrainingJob from its frozen row: nothing is shared with the cache."""
    return training_job(marshal.loads(frozen[0]), marshal.loads(frozen[1]))
