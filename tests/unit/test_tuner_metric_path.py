"""The tuner's metric handler on the hot path: children of tuning jobs that never stop early
are skipped without reading the parent, and a stop decided on a row that another handler has
since changed neither undoes that change nor asks twice."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.domain.commands import Stop
from emulator.domain.documents import new_tuning_doc
from emulator.domain.jobs import TuningJob
from emulator.ids import tuning_job_arn
from emulator.store.sqlite import Store
from emulator.tuner.service import TunerService
from tests.requests import tuning_request

METRIC = "validation:accuracy"


async def launch(service: TunerService, name: str, **config: Any) -> list[str]:
    config["ResourceLimits"] = {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 4}
    params = tuning_request(name, HyperParameterTuningJobConfig=config)
    doc = new_tuning_doc(params, tuning_job_arn("us-east-1", "1" * 12, name), 0.0)
    service.store.insert_tuning_job(TuningJob(doc))
    service.on_tuning_changed(name)
    return service.store.child_names(name)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"TrainingJobEarlyStoppingType": "Off"}, False),
        ({}, False),
        ({"TrainingJobEarlyStoppingType": "Auto"}, True),
    ],
)
async def test_children_know_whether_their_tuning_job_stops_early(
    tuner: Any, config: dict[str, Any], expected: bool
) -> None:
    service, store, _, _ = tuner
    names = await launch(service, "t", **config)
    assert {store.get_training_job(n).early_stopping for n in names} == {expected}


async def test_points_of_children_that_never_stop_early_skip_the_parent(
    tuner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, store, _, _ = tuner
    (child, *_) = await launch(service, "off", TrainingJobEarlyStoppingType="Off")
    row = store.get_training_job(child)
    reads: list[str] = []
    real = store.get_tuning_job

    def counted(name: str) -> Any:
        reads.append(name)
        return real(name)

    monkeypatch.setattr(store, "get_tuning_job", counted)
    service.on_metric(row, METRIC, 3, 0.1)
    assert reads == []
    row.early_stopping = None  # a child launched before the flag: the parent decides
    service.on_metric(row, METRIC, 3, 0.1)
    assert reads == ["off"]


async def early_stop_candidate(service: TunerService, store: Store) -> str:
    """A tuning job whose fourth child is worse than the median of the first three."""
    names = await launch(service, "es", TrainingJobEarlyStoppingType="Auto")
    for name, curve in zip(names[:3], ([0.5, 0.6], [0.6, 0.7], [0.7, 0.8]), strict=True):
        for value in curve:
            store.add_metric_point(name, METRIC, 0.0, value)
    for value in (0.2, 0.3):
        store.add_metric_point(names[3], METRIC, 0.0, value)
    return names[3]


async def test_a_stop_on_a_stale_row_keeps_the_newer_state(tuner: Any) -> None:
    service, store, _, commands = tuner
    late = await early_stop_candidate(service, store)
    stale = store.get_training_job(late)
    current = store.get_training_job(late)
    current.objective_value = 0.3
    store.update_training_job(current)
    commands += service.on_metric(stale, METRIC, 2, 0.3)
    assert commands.count(Stop(late)) == 1
    stored = store.get_training_job(late)
    assert stored.doc["TrainingJobStatus"] == "Stopping"
    assert stored.objective_value == 0.3  # not undone by the stale row
    assert stored.stop_reason == "early_stop"


async def test_two_points_of_a_run_ask_for_one_stop(tuner: Any) -> None:
    service, store, _, commands = tuner
    late = await early_stop_candidate(service, store)
    first, second = store.get_training_job(late), store.get_training_job(late)
    commands += service.on_metric(first, METRIC, 2, 0.3)
    commands += service.on_metric(second, METRIC, 2, 0.3)  # decided on the row as it was before
    assert commands.count(Stop(late)) == 1
    transitions = store.get_training_job(late).doc["SecondaryStatusTransitions"]
    assert [t["Status"] for t in transitions].count("Stopping") == 1
