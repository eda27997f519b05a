"""Creating and changing stored jobs: the one path every writer (API, tuner, ingest) takes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from emulator.clock import Clock
from emulator.domain.documents import new_training_doc
from emulator.domain.status import TransitionRefused, transition
from emulator.errors import ResourceInUse
from emulator.ids import Scope, scope_of_arn, training_job_arn
from emulator.store.sqlite import Row, Store

log = logging.getLogger(__name__)


@dataclass
class JobRecords:
    store: Store
    clock: Clock
    region: str
    account: str

    def create_training(
        self, params: dict[str, Any], meta: dict[str, Any], scope: Scope | None = None
    ) -> Row:
        """Store a new training job in `Starting`, with its tags: in `scope`, else in its
        tuning job's account and region, else in the server's."""
        name = params["TrainingJobName"]
        default = Scope(account=self.account, region=self.region)
        scope = scope or scope_of_arn(params.get("TuningJobArn", ""), default)
        arn = training_job_arn(scope.region, scope.account, name)
        existing = self.store.get_training_job(name)
        if existing is not None:
            raise name_taken("training job", arn, existing.doc["TrainingJobArn"])
        now = self.clock.now()
        doc = new_training_doc(params, arn, now)
        transition(doc, "Starting", None, now)
        row = Row(doc, meta)
        with self.store.transaction():
            self.store.insert_training_job(doc, meta)
            self.store.add_tags(arn, [(t["Key"], t["Value"]) for t in params.get("Tags", [])])
        return row

    def move(self, row: Row, target: str, message: str | None = None) -> bool:
        """Transition a training job and persist it; False (and nothing stored) if refused."""
        try:
            transition(row.doc, target, message, self.clock.now())
        except TransitionRefused as refused:
            log.debug("transition refused: %s", refused)
            return False
        if row.doc["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            _stamp_durations(row.doc)
        self.store.update_training_job(row)
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
