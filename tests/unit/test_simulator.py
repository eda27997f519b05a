"""The simulation engine: the real tuner and store in virtual time, curves from test sources."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from emulator.domain.jobs import TrainingJob, TuningJob
from emulator.simulator.curves import (
    Curve,
    CurveSet,
    NoRecordedCurve,
    RecordedCurves,
    Run,
    SyntheticCurves,
    leave_one_out_error,
    load_set,
    write_set,
)
from emulator.simulator.engine import End, Engine, Reached, SimulationSettings
from emulator.simulator.report import Outcome, console
from emulator.store.sqlite import Store
from emulator.tuner.space import SearchSpace
from tests.requests import tuning_request

METRIC = "validation:accuracy"


class TableCurves:
    """Final accuracy grows with the learning rate; every epoch takes `seconds`."""

    def __init__(self, epochs: int = 3, seconds: float = 10.0) -> None:
        self.epochs = epochs
        self.seconds = seconds

    def values(self, config: Mapping[str, str]) -> list[float]:
        final = float(config["learning_rate"])
        return [round(final * e / self.epochs, 6) for e in range(1, self.epochs + 1)]

    def curve(self, config: Mapping[str, str], rng: np.random.Generator) -> Curve:
        return Curve({METRIC: self.values(config)}, [self.seconds] * self.epochs)


def request(name: str, jobs: int = 4, parallel: int = 2, **config: object) -> dict:
    return tuning_request(
        name,
        HyperParameterTuningJobConfig={
            "ResourceLimits": {
                "MaxNumberOfTrainingJobs": jobs,
                "MaxParallelTrainingJobs": parallel,
            },
            **config,
        },
    )


def training(engine: Engine, name: str) -> TrainingJob:
    row = engine.store.get_training_job(name)
    assert row is not None
    return row


def tuning(engine: Engine, name: str) -> TuningJob:
    row = engine.store.get_tuning_job(name)
    assert row is not None
    return row


def shape(outcome: Outcome) -> tuple[object, ...]:
    """Everything but the random suffix of training job names."""
    return (
        outcome.best_objective,
        outcome.total_training_seconds,
        outcome.wall_seconds,
        outcome.status_counters,
        [(j.hyperparameters, j.status, j.final_objective, j.epochs) for j in outcome.jobs],
    )


async def test_counters_best_and_times_match_a_hand_check() -> None:
    engine = Engine(SimulationSettings(startup_seconds=20))
    curves = TableCurves(epochs=3, seconds=10)
    outcome = await engine.run(request("hand"), curves)
    finals = [curves.values(j.hyperparameters)[-1] for j in outcome.jobs]
    assert [j.final_objective for j in outcome.jobs] == finals
    assert outcome.best_objective == max(finals)
    assert outcome.status_counters["Completed"] == 4
    assert outcome.objective_counters == {"Succeeded": 4, "Pending": 0, "Failed": 0}
    assert outcome.total_training_seconds == 4 * 30  # billable: 3 epochs of 10 s each
    assert outcome.wall_seconds == 2 * (20 + 30)  # two waves of two parallel jobs
    assert all(j.epochs == 3 for j in outcome.jobs)
    assert outcome.completion_reason == "MaxNumberOfTrainingJobs"


async def test_deterministic_for_a_seed_and_different_across_seeds() -> None:
    curves = SyntheticCurves(epochs=6, ignored=frozenset({"epochs"}))
    runs = [
        await Engine(SimulationSettings(seed=s)).run(
            request("det", 8, TrainingJobEarlyStoppingType="Auto"), curves
        )
        for s in (7, 7, 8)
    ]
    assert shape(runs[0]) == shape(runs[1])
    assert shape(runs[0]) != shape(runs[2])


async def test_early_stopping_stops_bad_jobs_and_removes_their_future_events() -> None:
    engine = Engine(SimulationSettings(stop_seconds=3))
    curves = TableCurves(epochs=5, seconds=10)
    name = await engine.start(
        request("es", 12, 1, TrainingJobEarlyStoppingType="Auto", RandomSeed=4), curves
    )
    seen_stops = 0
    while await engine.step(name):
        for job in engine.jobs:
            row = training(engine, job)
            if row.doc["TrainingJobStatus"] == "Stopping":
                # the only thing left for a stopping job is its end, after the stop delay
                assert engine.pending(job) == [End(job)]
                seen_stops += 1
    outcome = tuning(engine, name)
    stopped = [j for j in engine.jobs if training(engine, j).early_stopped]
    assert stopped and seen_stops
    assert outcome.doc["HyperParameterTuningJobStatus"] == "Completed"
    for job in stopped:
        row = training(engine, job)
        series = engine.store.metric_series(job, METRIC)
        assert 2 <= len(series) < 5
        assert row.doc["TrainingJobStatus"] == "Stopped"
        assert row.doc["TrainingEndTime"] == pytest.approx(series[-1][1] + 3)
        assert row.objective_value == curves.values(row.tuned)[len(series) - 1]


async def test_a_stop_request_removes_pending_epochs() -> None:
    engine = Engine()
    name = await engine.start(request("stop"), TableCurves(epochs=4))

    def second_epoch(event: object) -> bool:
        return isinstance(event, Reached) and engine.jobs[event.job].steps[event.index].epoch == 2

    while not any(second_epoch(s.event) for s in engine.heap):
        await engine.step(name)
    job = next(iter(engine.jobs))
    assert engine.pending(job)
    await engine.lifecycle.apply(engine.tuner.stop_child(training(engine, job), "test"))
    assert engine.pending(job) == [End(job)]


async def test_max_runtime_ends_the_tuning_job_at_its_limit() -> None:
    engine = Engine(SimulationSettings(stop_seconds=2))
    limits = {
        "MaxNumberOfTrainingJobs": 10,
        "MaxParallelTrainingJobs": 2,
        "MaxRuntimeInSeconds": 125,
    }
    outcome = await engine.run(
        request("limit", ResourceLimits=limits), TableCurves(epochs=3, seconds=30)
    )
    assert outcome.completion_reason == "MaxRuntimeInSeconds"
    assert outcome.wall_seconds == 125 + 2
    assert outcome.status_counters["Completed"] == 2
    assert outcome.status_counters["Stopped"] == 2


async def test_hyperband_stops_jobs_at_rungs() -> None:
    curves = SyntheticCurves(epochs=9, ignored=frozenset({"epochs"}))
    outcome = await Engine().run(
        request(
            "hb",
            20,
            4,
            Strategy="Hyperband",
            StrategyConfig={"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}},
        ),
        curves,
    )
    stopped = [j for j in outcome.jobs if j.early_stopped]
    assert stopped
    assert {j.epochs for j in stopped} <= {1, 3}


async def test_warm_start_child_sees_the_parents_jobs() -> None:
    engine = Engine()
    curves = TableCurves()
    parent = await engine.run(request("parent", RandomSeed=1), curves)
    child_request = request("child", RandomSeed=2)
    child_request["WarmStartConfig"] = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "parent"}],
        "WarmStartType": "IdenticalDataAndAlgorithm",
    }
    child = await engine.run(child_request, curves)
    doc = tuning(engine, "child").doc
    overall = doc["OverallBestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]
    assert parent.best_objective is not None and child.best_objective is not None
    assert overall["Value"] == max(parent.best_objective, child.best_objective)
    assert doc["CreationTime"] >= tuning(engine, "parent").doc["CreationTime"]


# ---- curves ------------------------------------------------------------------------------------

SPACE = SearchSpace.from_parameter_ranges(
    {
        "ContinuousParameterRanges": [
            {"Name": "lr", "MinValue": "0.001", "MaxValue": "1", "ScalingType": "Logarithmic"}
        ],
        "CategoricalParameterRanges": [{"Name": "opt", "Values": ["sgd", "adam"]}],
    }
)


def recorded() -> CurveSet:
    runs = []
    for i, (lr, opt) in enumerate(
        [("0.001", "sgd"), ("0.01", "sgd"), ("0.1", "adam"), ("1", "adam")]
    ):
        final = 0.5 + i / 10
        runs.append(
            Run(
                f"r{i}",
                {"lr": lr, "opt": opt, "epochs": "3", "batch": "32"},
                Curve({METRIC: [final - 0.2, final - 0.1, final]}, [5.0, 5.0, 6.0]),
            )
        )
    return CurveSet("test", {}, tuple(runs))


def test_recorded_curves_replay_the_nearest_run_in_the_encoded_space() -> None:
    source = RecordedCurves(recorded(), SPACE, {"epochs": "3"})
    rng = np.random.default_rng(0)
    # 0.02 is nearer 0.01 than 0.1 on the log axis; the categorical weighs too
    assert source.curve({"lr": "0.02", "opt": "sgd"}, rng).epoch_values[METRIC][-1] == 0.6
    assert source.curve({"lr": "0.5", "opt": "adam"}, rng).epoch_values[METRIC][-1] == 0.8
    exact = RecordedCurves(recorded(), SPACE, exact=True)
    assert exact.curve({"lr": "0.1", "opt": "adam"}, rng).epoch_seconds == [5.0, 5.0, 6.0]
    with pytest.raises(NoRecordedCurve):
        exact.curve({"lr": "0.2", "opt": "adam"}, rng)


def test_recorded_runs_that_contradict_static_hyperparameters_are_left_out() -> None:
    with pytest.raises(NoRecordedCurve):
        RecordedCurves(recorded(), SPACE, {"batch": "64"}, strict_static=True)
    lenient = RecordedCurves(recorded(), SPACE, {"batch": "64"})
    assert lenient.differing_static == ["batch"] and len(lenient.runs) == 4
    mixed = CurveSet(
        "mixed",
        {},
        (
            *recorded().runs,
            replace(
                recorded().runs[0],
                hyperparameters={**recorded().runs[0].hyperparameters, "batch": "64", "lr": "1"},
            ),
        ),
    )
    only = RecordedCurves(mixed, SPACE, {"batch": "64"})
    assert only.differing_static == [] and [r.hyperparameters["batch"] for r in only.runs] == ["64"]
    fewer = RecordedCurves(recorded(), SPACE, {"epochs": "2", "batch": "32.0", "unrecorded": "1"})
    assert fewer.curve({"lr": "1", "opt": "adam"}, np.random.default_rng(0)).epochs == 2


def test_curve_sets_round_trip_through_gzipped_csv(tmp_path: Path) -> None:
    write_set(tmp_path, "roundtrip", recorded().runs, {"algorithm": "test"})
    loaded = load_set("roundtrip", tmp_path)
    assert loaded.runs == recorded().runs
    assert loaded.manifest["algorithm"] == "test"
    assert loaded.hyperparameters == ["batch", "epochs", "lr", "opt"]


def test_leave_one_out_error_compares_each_run_with_its_nearest_other_run() -> None:
    error = leave_one_out_error(recorded(), SPACE, METRIC)
    # nearest others: r0<->r1 (0.1 apart), r2<->r3 (0.1 apart)
    assert error["mean_abs_error"] == pytest.approx(0.1)
    assert error["runs"] == 4
    assert -1 <= error["spearman"] <= 1


def test_rank_correlation_is_nan_not_a_warning_when_every_final_ties() -> None:
    tied = CurveSet(
        "tied",
        {},
        tuple(
            Run(r.run_id, r.hyperparameters, Curve({METRIC: [0.5, 0.7]}, [5.0, 5.0]))
            for r in recorded().runs
        ),
    )
    error = leave_one_out_error(tied, SPACE, METRIC)  # warnings are errors under pytest
    assert np.isnan(error["spearman"]) and error["mean_abs_error"] == 0


def test_synthetic_curves_are_seeded_and_better_near_the_optimum() -> None:
    source = SyntheticCurves(epochs=5)
    a = source.curve({"lr": "0.1"}, np.random.default_rng(3))
    b = source.curve({"lr": "0.1"}, np.random.default_rng(3))
    assert a == b and a.epochs == 5
    assert source.quality({"lr": "0.1"}) != source.quality({"lr": "1000"})


def test_cached_series_stay_exact_through_writes_and_rollbacks() -> None:
    store = Store(":memory:")
    store.add_metric_point("a", METRIC, 1.0, 0.5)
    assert store.series_of(["a", "b"], METRIC, 5) == {"a": [0.5], "b": []}
    for step, job in enumerate(["a", "b", "a", "b", "a"]):
        store.add_metric_point(job, METRIC, 2.0 + step, step / 10)
    store.add_metric_point("a", "other", 9.0, 9.0)
    with pytest.raises(RuntimeError), store.transaction():
        store.add_metric_point("b", METRIC, 20.0, 7.0)
        raise RuntimeError("rolled back")
    fresh = Store(":memory:")
    for job, values in store.series_of(["a", "b"], METRIC, 10).items():
        for value in values:
            fresh.add_metric_point(job, METRIC, 0.0, value)
    assert store.series_of(["a"], METRIC, 10) == {"a": [0.5, 0.0, 0.2, 0.4]}
    assert store.series_of(["b"], METRIC, 10) == {"b": [0.1, 0.3]}
    assert store.series_of(["a", "b"], METRIC, 2) == {"a": [0.5, 0.0], "b": [0.1, 0.3]}


class FailingCurves(TableCurves):
    """Every recorded run failed after its epochs, as a curve set's failed runs do."""

    def curve(self, config: Mapping[str, str], rng: np.random.Generator) -> Curve:
        return replace(super().curve(config, rng), failure="Recorded run ended Failed")


async def test_failed_runs_count_toward_the_five_attempts() -> None:
    outcome = await Engine().run(request("fails", jobs=20, parallel=3), FailingCurves())
    assert outcome.status == "Failed"
    assert outcome.failure_reason == (
        "No training job succeeded after 5 attempts. Please take a look at the training job "
        "failures to get more details."
    )
    # launching stops at the fifth failure; the two jobs still running then finish
    assert outcome.status_counters["NonRetryableError"] == len(outcome.jobs) == 7
    assert "No training job succeeded after 5 attempts" in console(outcome)
