"""The `meta` column: a job's typed bookkeeping as the JSON object a row stores beside its
document, and back.

The object's keys are the records' field names (as earlier releases wrote them), and only
fields that differ from their defaults are written, so a database written before a field
existed reads as its default. A tuning job's state is kept as its public status (in the
document) and, while it winds down or once it has, the key `ending`: the end it is heading
for (Completed, Failed or Stopped), as releases before the state machine wrote it.
"""

from __future__ import annotations

from dataclasses import MISSING, Field, fields
from typing import Any

from emulator.domain.jobs import TrainingJob, TuningJob
from emulator.domain.status import ENDING_OF, TuningState

_WINDING_DOWN: dict[str, TuningState] = {end: state for state, end in ENDING_OF.items()}
"""The stored `ending` of a tuning job that is not over yet → its state."""


def training_meta(job: TrainingJob) -> dict[str, Any]:
    return _changed(job, ("doc",))


def training_job(doc: dict[str, Any], meta: dict[str, Any]) -> TrainingJob:
    return TrainingJob(doc, **_known(TrainingJob, meta))


def tuning_meta(job: TuningJob) -> dict[str, Any]:
    meta = _changed(job, ("doc", "state"))
    if job.state != "InProgress":
        meta["ending"] = ENDING_OF.get(job.state, job.state)
    return meta


def tuning_job(doc: dict[str, Any], meta: dict[str, Any]) -> TuningJob:
    return TuningJob(doc, state=_tuning_state(doc, meta), **_known(TuningJob, meta))


def _tuning_state(doc: dict[str, Any], meta: dict[str, Any]) -> TuningState:
    status = doc["HyperParameterTuningJobStatus"]
    if status == "Completed":
        return "Completed"
    if status == "Failed":
        return "Failed"
    if status == "Stopped":
        return "Stopped"
    ending = meta.get("ending")
    if ending in _WINDING_DOWN:
        return _WINDING_DOWN[ending]
    return "Stopping" if status == "Stopping" else "InProgress"


def _changed(record: Any, left_out: tuple[str, ...]) -> dict[str, Any]:
    """Every field but `left_out` whose value is not its default."""
    return {
        f.name: getattr(record, f.name)
        for f in fields(record)
        if f.name not in left_out and getattr(record, f.name) != _default(f)
    }


def _known(kind: type[Any], meta: dict[str, Any]) -> dict[str, Any]:
    """The stored keys that name a field of `kind` (but its document and state)."""
    names = {f.name for f in fields(kind)} - {"doc", "state"}
    return {key: value for key, value in meta.items() if key in names}


def _default(each: Field[Any]) -> Any:
    if each.default is not MISSING:
        return each.default
    if each.default_factory is not MISSING:
        return each.default_factory()
    return MISSING
