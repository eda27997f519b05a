"""Creating and changing stored jobs: the one path every writer (API, tuner, ingest, the
simulator, the benchmarks' seeding) takes."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from emulator.clock import Clock
from emulator.domain.documents import new_training_doc, new_tuning_doc
from emulator.domain.jobs import TrainingJob, TuningJob
from emulator.domain.status import (
    TERMINAL_TRAINING,
    TransitionRefused,
    TuningState,
    last_transition_time,
    move_tuning,
    transition,
)
from emulator.errors import ResourceInUse
from emulator.ids import (
    NameSuffix,
    Scope,
    random_suffix,
    scope_of_arn,
    training_job_arn,
    tuning_job_arn,
)
from emulator.store.sqlite import Store

log = logging.getLogger(__name__)


@dataclass
class JobRecords:
    store: Store
    clock: Clock
    region: str
    account: str
    job_suffix: NameSuffix = field(default=random_suffix)
    """The tail of the names a tuning job gives its training jobs (seeded in a simulation)."""

    @property
    def default_scope(self) -> Scope:
        return Scope(account=self.account, region=self.region)

    def create_tuning(
        self, params: dict[str, Any], scope: Scope | None = None, seed: int | None = None
    ) -> TuningJob:
        """Store a new tuning job, InProgress, with its tags, in `scope` (else the server's
        account and region); `seed`: what its strategies draw from when the request sets no
        RandomSeed (None: drawn when it first launches)."""
        scope = scope or self.default_scope
        name = params["HyperParameterTuningJobName"]
        arn = tuning_job_arn(scope.region, scope.account, name)
        existing = self.store.get_tuning_job(name)
        if existing is not None and scope_of_arn(existing.arn, scope) == scope:
            raise ResourceInUse(
                f"A hyperparameter tuning job with the name, {name}, already exists. "
                "Choose a different name."
            )
        if existing is not None:
            raise name_taken("tuning job", arn, existing.arn)
        job = TuningJob(new_tuning_doc(params, arn, self.clock.now()), seed=seed)
        with self.store.transaction():
            self.store.insert_tuning_job(job)
            self.store.add_tags(arn, [(t["Key"], t["Value"]) for t in params.get("Tags", [])])
        return job

    def move_tuning(self, job: TuningJob, target: TuningState, reason: str = "") -> None:
        """Move a tuning job through its state machine (see `domain.status.move_tuning`);
        the caller stores it, often with other changes."""
        move_tuning(job, target, self.clock.now(), reason)

    def create_training(
        self, params: dict[str, Any], scope: Scope | None = None, **bookkeeping: Any
    ) -> TrainingJob:
        """Store a new training job in `Starting`, with its tags: in `scope`, else in its
        tuning job's account and region, else in the server's. `bookkeeping`: fields of
        `TrainingJob` (a tuning job's child says which it is, what it tunes, ...)."""
        name = params["TrainingJobName"]
        scope = scope or scope_of_arn(params.get("TuningJobArn", ""), self.default_scope)
        arn = training_job_arn(scope.region, scope.account, name)
        existing = self.store.get_training_job(name)
        if existing is not None:
            raise name_taken("training job", arn, existing.arn)
        now = self.clock.now()
        doc = new_training_doc(params, arn, now)
        transition(doc, "Starting", None, now)
        job = TrainingJob(doc, **bookkeeping)
        with self.store.transaction():
            self.store.insert_training_job(job)
            self.store.add_tags(arn, [(t["Key"], t["Value"]) for t in params.get("Tags", [])])
        return job

    def move(
        self, job: TrainingJob, target: str, message: str | None = None, at: float | None = None
    ) -> bool:
        """Transition a training job and persist it; False (and nothing stored) if refused.
        `at`: when it happened where it happened (an agent's report), if not now; it is kept
        between the job's previous transition and now, so a skewed clock cannot reorder them."""
        now = self.clock.now()
        when = now if at is None else min(now, max(at, last_transition_time(job.doc)))
        try:
            transition(job.doc, target, message, when)
        except TransitionRefused as refused:
            log.debug("transition refused: %s", refused)
            return False
        if job.status in TERMINAL_TRAINING:
            _stamp_durations(job.doc)
        self.store.update_training_job(job)
        return True


def name_taken(kind: str, arn: str, existing_arn: str) -> ResourceInUse:
    """The name is in use: in the same account and region (AWS's answer), or in another one,
    which the emulator refuses too (its jobs' names are unique across all of them)."""
    if existing_arn == arn:
        return ResourceInUse(
            f"{kind.capitalize()} names must be unique within an AWS account and region, and a "
            f"{kind} with this name already exists ({arn})"
        )
    return ResourceInUse(
        f"A {kind} with this name already exists in another account or region of this "
        f"emulator ({existing_arn}); the emulator keeps {kind} names unique across accounts "
        "and regions. Choose a different name."
    )


def _stamp_durations(doc: dict[str, Any]) -> None:
    """TrainingTimeInSeconds / BillableTimeInSeconds once a job has ended (at least 1)."""
    start = doc.get("TrainingStartTime")
    if start is None:
        return
    seconds = max(1, round(doc["TrainingEndTime"] - start))
    doc["TrainingTimeInSeconds"] = seconds
    doc["BillableTimeInSeconds"] = seconds
