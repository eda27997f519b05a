"""Curve sets from finished jobs: epochs cut from metric points, the set written and read back,
the analytics CSV's shape and its errors."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from emulator.cli import main as amt
from emulator.simulator.cli import main as simulate
from emulator.simulator.curves import leave_one_out_error, load_set, space_of
from emulator.simulator.fidelity import describe
from emulator.simulator.import_api import period_for
from emulator.simulator.import_csv import jobs_from_rows, read_csv
from emulator.simulator.importer import (
    CurveImportError,
    FinishedJob,
    Objective,
    Point,
    build_set,
    curve_of,
    inferred_space,
    merge_spaces,
    space_from_ranges,
    write_imported,
)
from emulator.tuner.space import SearchSpace

ACC = "validation:accuracy"
OBJECTIVE = Objective(ACC, "Maximize")
RANGES = {
    "ContinuousParameterRanges": [
        {"Name": "lr", "MinValue": "0.001", "MaxValue": "1", "ScalingType": "Logarithmic"}
    ],
    "IntegerParameterRanges": [{"Name": "batch", "MinValue": "16", "MaxValue": "64"}],
    "CategoricalParameterRanges": [{"Name": "opt", "Values": ["sgd", "adam"]}],
}


def job(name: str, lr: float, status: str = "Completed", epochs: int = 3) -> FinishedJob:
    """A job whose accuracy rises with lr, one point per epoch 2 s apart, a train metric
    printed just before each validation one."""
    points = []
    for e in range(1, epochs + 1):
        points.append(Point(2.0 * e - 0.5, "train:loss", 1.0 / e))
        points.append(Point(2.0 * e, ACC, round(lr * e / epochs, 6)))
    hps = {"lr": str(lr), "batch": "32", "opt": "sgd", "epochs": str(epochs)}
    return FinishedJob(name, hps, status, tuple(points))


def test_the_period_is_the_shortest_cloudwatch_answers_for_the_jobs_age() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ages = {0: 1, 3 * 3600 - 1: 1, 3 * 3600: 60, 20 * 86400: 300, 100 * 86400: 3600}
    for age, period in ages.items():
        assert period_for(start, start.timestamp() + age) == period


def test_epochs_are_cut_at_each_objective_point() -> None:
    curve = curve_of(job("a", 0.9), ACC)
    assert curve is not None
    assert curve.epoch_values[ACC] == [0.3, 0.6, 0.9]
    assert curve.epoch_values["train:loss"] == [1.0, 0.5, pytest.approx(1 / 3)]
    assert curve.epoch_seconds == [2.0, 2.0, 2.0]
    assert curve.failure is None


def test_a_metric_missing_from_an_epoch_leaves_it_empty_and_the_final_value_wins() -> None:
    points = (Point(1, ACC, 0.5), Point(1.5, "other", 7.0), Point(3, ACC, 0.55))
    merged = FinishedJob("m", {}, "Completed", points, final={ACC: 0.6})
    curve = curve_of(merged, ACC)
    assert curve is not None
    assert curve.epoch_values[ACC] == [0.5, 0.6]
    assert math.isnan(curve.epoch_values["other"][0]) and curve.epoch_values["other"][1] == 7.0
    assert curve.epoch_seconds == [1.0, 2.0]


def test_a_job_without_the_objective_has_no_curve_unless_it_failed() -> None:
    silent = FinishedJob("s", {}, "Completed", (Point(1, "train:loss", 0.3),))
    assert curve_of(silent, ACC) is None
    failed = FinishedJob("f", {}, "Failed", (), failure="AlgorithmError: boom")
    curve = curve_of(failed, ACC)
    assert curve is not None and curve.epochs == 0 and curve.failure == "AlgorithmError: boom"


def test_stopped_and_silent_jobs_are_left_out_and_named() -> None:
    silent = FinishedJob("silent", {"lr": "0.1", "batch": "32", "opt": "sgd"}, "Completed", ())
    jobs = [job("a", 0.5), job("b", 0.7, status="Stopped"), silent]
    imported = build_set(jobs, OBJECTIVE, space_from_ranges(RANGES), {"test": True})
    assert [r.run_id for r in imported.runs] == ["a"]
    assert set(imported.skipped) == {"b", "silent"}
    assert "Stopped" in imported.skipped["b"] and ACC in imported.skipped["silent"]
    assert imported.manifest["objective"] == {"MetricName": ACC, "Type": "Maximize"}


def test_no_completed_job_with_the_objective_is_an_error() -> None:
    silent = FinishedJob("silent", {"lr": "0.1", "batch": "32", "opt": "sgd"}, "Completed", ())
    with pytest.raises(CurveImportError, match=r"no completed training job.*silent"):
        build_set([silent], OBJECTIVE, space_from_ranges(RANGES), {})


def test_an_imported_set_loads_by_path_with_its_space_and_objective(tmp_path: Path) -> None:
    jobs = [job(f"j{i}", lr) for i, lr in enumerate([0.01, 0.1, 0.5, 0.9])]
    imported = build_set(jobs, OBJECTIVE, space_from_ranges(RANGES), {"tuning_jobs": ["t"]})
    path = write_imported(imported, tmp_path / "sets" / "mine.json")
    assert sorted(p.name for p in path.parent.iterdir()) == ["mine.csv.gz", "mine.json"]
    for name in (str(path), str(path.with_suffix(""))):
        loaded = load_set(name)
        assert loaded.name == "mine"
        assert loaded.runs == imported.runs
    manifest = json.loads(path.read_text())
    assert manifest["static_hyperparameters"] == {"epochs": "3"}
    assert manifest["epoch_metric"] == ACC and manifest["source"] == {"tuning_jobs": ["t"]}
    # The recorded space is the tuning job's: it encodes configurations as the request's does.
    config = {"lr": "0.1", "batch": "40", "opt": "adam"}
    expected = SearchSpace.from_parameter_ranges(RANGES).encode(config)
    assert np.allclose(space_of(manifest).encode(config), expected)


def test_merged_spaces_cover_every_tuning_job() -> None:
    wider = {"ContinuousParameterRanges": [{"Name": "lr", "MinValue": "0.0001", "MaxValue": "2"}]}
    other = space_from_ranges(
        {**RANGES, "CategoricalParameterRanges": [{"Name": "opt", "Values": ["nag"]}]}
    )
    merged = {p["name"]: p for p in merge_spaces([space_from_ranges(RANGES), other])}
    assert merged["opt"]["values"] == ["sgd", "adam", "nag"]
    lr = merge_spaces([space_from_ranges(RANGES), space_from_ranges(wider)])
    assert [(p["name"], p["low"], p["high"]) for p in lr] == [("lr", 0.0001, 2.0)]


def test_inferred_space_from_the_values_the_jobs_took() -> None:
    jobs = [
        FinishedJob(str(i), {"lr": lr, "depth": d, "opt": o, "fixed": "1"}, "Completed", ())
        for i, (lr, d, o) in enumerate([("0.001", "3", "a"), ("0.5", "8", "b"), ("0.02", "5", "a")])
    ]
    space = {p["name"]: p for p in inferred_space(jobs)}
    assert set(space) == {"lr", "depth", "opt"}
    assert (space["lr"]["kind"], space["lr"]["scale"]) == ("continuous", "log")
    assert (space["depth"]["kind"], space["depth"]["low"], space["depth"]["high"]) == (
        "integer",
        3.0,
        8.0,
    )
    assert space["opt"]["values"] == ["a", "b"]


# --- the analytics CSV ----------------------------------------------------------------------

HEADER = ["", "timestamp", "metric_name", "value", "TrainingJobName", "lr", "TrainingJobStatus"]


def analytics_csv(path: Path, rows: list[list[object]], header: list[str] = HEADER) -> Path:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(text.getvalue())
    return path


def import_sample(tmp_path: Path) -> Path:
    """`amt curves import --csv` of `sample_rows`: the set's path (without `.json`)."""
    source = analytics_csv(tmp_path / "a.csv", sample_rows())
    out = tmp_path / "mine"
    args = ["curves", "import", "--csv", str(source), "--out", str(out)]
    assert amt([*args, "--objective", ACC, "--objective-type", "Maximize"]) == 0
    return out


def sample_rows() -> list[list[object]]:
    rows: list[list[object]] = []
    for i, lr in enumerate(["0.001", "0.01", "0.1", "0.5"]):
        for e in (1, 2):
            rows.append([len(rows), 30.0 * e, ACC, float(lr) * e, f"job-{i}", lr, "Completed"])
    rows.append([len(rows), 0.0, "", "", "job-4", "0.2", "Stopped"])
    return rows


def test_the_csv_is_grouped_by_job_with_hyperparameter_columns(tmp_path: Path) -> None:
    jobs = read_csv(analytics_csv(tmp_path / "a.csv", sample_rows()), ACC)
    assert [j.name for j in jobs] == ["job-0", "job-1", "job-2", "job-3", "job-4"]
    assert jobs[2].hyperparameters == {"lr": "0.1"}
    assert [p.value for p in jobs[2].points] == [0.1, 0.2]
    assert jobs[4].status == "Stopped" and jobs[4].points == ()


def test_the_sdk_frames_final_value_and_elapsed_time_fix_the_last_value_and_first_epoch() -> None:
    columns = ["TrainingJobName", "timestamp", "metric_name", "value", "FinalObjectiveValue"]
    columns.append("TrainingElapsedTimeSeconds")
    rows = [
        dict(zip(columns, ["j", "0.0", ACC, "0.5", "0.61", "100"], strict=True)),
        dict(zip(columns, ["j", "30.0", ACC, "0.6", "0.61", "100"], strict=True)),
    ]
    (only,) = jobs_from_rows(columns, rows, ACC)
    assert [p.seconds for p in only.points] == [70.0, 100.0]
    curve = curve_of(only, ACC)
    assert curve is not None and curve.epoch_values[ACC] == [0.5, 0.61]


def test_iso_timestamps_count_from_the_training_start() -> None:
    columns = ["TrainingJobName", "timestamp", "metric_name", "value", "TrainingStartTime"]
    start = "2026-01-01T00:00:00+00:00"
    rows = [
        dict(zip(columns, ["j", "2026-01-01T00:00:40+00:00", ACC, "0.5", start], strict=True)),
        dict(zip(columns, ["j", "2026-01-01T00:01:10+00:00", ACC, "0.7", start], strict=True)),
    ]
    (only,) = jobs_from_rows(columns, rows, ACC)
    assert [p.seconds for p in only.points] == [40.0, 70.0]


def test_a_csv_without_the_columns_it_needs_is_refused_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = analytics_csv(tmp_path / "bad.csv", [[1, ACC, 0.5]], ["timestamp", "metric_name", "v"])
    with pytest.raises(CurveImportError, match=r"TrainingJobName or training_job_name, value"):
        read_csv(bad, ACC)
    out = tmp_path / "out"
    args = ["curves", "import", "--csv", str(bad), "--out", str(out / "set")]
    status = amt([*args, "--objective", ACC, "--objective-type", "Maximize"])
    assert status == 2
    assert "lacks the column(s)" in capsys.readouterr().err
    assert not out.exists()


def test_imported_csv_set_is_listed_and_simulated_by_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = import_sample(tmp_path)
    printed = capsys.readouterr().out
    assert "4 runs" in printed and "skipped job-4" in printed
    assert "mean abs error nearest" in printed
    spec = {
        "HyperParameterTuningJobName": "from-csv",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "RandomSeed": 3,
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": ACC},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 1},
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    {"Name": "lr", "MinValue": "0.001", "MaxValue": "0.5"}
                ]
            },
        },
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {
                "TrainingImage": "local/any:1",
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": ACC, "Regex": "acc=(.*)"}],
            },
            "RoleArn": "arn:aws:iam::123456789012:role/R",
            "OutputDataConfig": {"S3OutputPath": "s3://b/o"},
            "ResourceConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 1,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        },
    }
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec))
    assert simulate([str(spec_path), "--curves", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    recorded_finals = {0.002, 0.02, 0.2, 1.0}
    assert {j["final_objective"] for j in result["jobs"]} <= recorded_finals
    assert result["best_objective"] in recorded_finals


def test_the_replay_error_is_measured_at_import_and_reused_while_the_runs_are_the_same(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = import_sample(tmp_path)
    manifest_path = tmp_path / "mine.json"
    manifest = json.loads(manifest_path.read_text())
    stored = manifest["replay_error"]
    assert (stored["set_runs"], stored["runs"], stored["metric"]) == (4, 4, ACC)
    manifest["replay_error"] = {**stored, "nearest_mae": 9.5}
    manifest_path.write_text(json.dumps(manifest))
    capsys.readouterr()
    assert amt(["curves", "list", str(out)]) == 0
    assert "nearest 9.5000" in capsys.readouterr().out
    assert amt(["curves", "list", str(out), "--recompute"]) == 0
    assert f"nearest {stored['nearest_mae']:.4f}" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["image-classification-cpu", "xgboost-breast-cancer"])
def test_a_bundled_sets_stored_replay_error_is_its_own_and_both_listings_show_it(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The bundled sets carry their replay error (measuring the surrogate's takes ~46 s): it
    must be this set's, on these runs — the nearest-neighbour part is measured again here —
    and `amt curves list` and `amt simulate --list` print the same line from it."""
    curve_set = load_set(name)
    stored = curve_set.manifest["replay_error"]
    assert stored["set_runs"] == len(curve_set.runs)
    metric = stored["metric"]
    nearest = leave_one_out_error(curve_set, space_of(curve_set.manifest), metric)
    assert stored["nearest_mae"] == pytest.approx(nearest["mean_abs_error"], rel=1e-9)
    assert stored["mean_only_mae"] == pytest.approx(nearest["baseline_mean_abs_error"], rel=1e-9)
    assert stored["surrogate_mae"] < stored["mean_only_mae"]
    line = describe(stored)
    capsys.readouterr()
    assert amt(["curves", "list", name]) == 0
    assert line in capsys.readouterr().out
    assert simulate(["--list"]) == 0
    assert line in capsys.readouterr().out
