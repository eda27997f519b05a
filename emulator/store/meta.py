"""The `meta` column: a job's typed bookkeeping as the JSON object a row stores beside its
document, and back.

The object's keys are the records' field names (as earlier releases wrote them), and only
fields that differ from their defaults are written, so a database written before a field
existed reads as its default. A tuning job's state is kept as its public status (in the
document) and, while it winds down or once it has, the key `ending`: the end it is heading
for (Completed, Failed or Stopped), as releases before the state machine wrote it.
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

from emulator.domain.jobs import TrainingJob, TuningJob
from emulator.domain.status import ENDING_OF, TuningState

_WINDING_DOWN: dict[str, TuningState] = {end: state for state, end in ENDING_OF.items()}
"""The stored `ending` of a tuning job that is not over yet → its state."""


def _defaults(kind: type[Any], left_out: tuple[str, ...]) -> dict[str, Any]:
    """Each stored field of a record type and its default (computed once: jobs are read and
    written at every metric point)."""
    defaults = {}
    for each in fields(kind):
        if each.name in left_out:
            continue
        if each.default_factory is not MISSING:
            defaults[each.name] = each.default_factory()
        else:
            defaults[each.name] = each.default
    return defaults


_TRAINING = _defaults(TrainingJob, ("doc",))
_TUNING = _defaults(TuningJob, ("doc", "state"))


def training_meta(job: TrainingJob) -> dict[str, Any]:
    return _changed(job, _TRAINING)


def training_job(doc: dict[str, Any], meta: dict[str, Any]) -> TrainingJob:
    return TrainingJob(doc, **_known(meta, _TRAINING))


def tuning_meta(job: TuningJob) -> dict[str, Any]:
    meta = _changed(job, _TUNING)
    if job.state != "InProgress":
        meta["ending"] = ENDING_OF.get(job.state, job.state)
    return meta


def tuning_job(doc: dict[str, Any], meta: dict[str, Any]) -> TuningJob:
    return TuningJob(doc, state=_tuning_state(doc, meta), **_known(meta, _TUNING))


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


def _changed(record: Any, defaults: dict[str, Any]) -> dict[str, Any]:
    """Every stored field whose value is not its default."""
    changed = {}
    for name, default in defaults.items():
        value = getattr(record, name)
        if value != default:
            changed[name] = value
    return changed


def _known(meta: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """The stored keys that name a stored field (others, like `ending`, are read apart)."""
    return {key: value for key, value in meta.items() if key in defaults}
