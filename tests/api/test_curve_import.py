"""`amt curves import` from a running emulator, through boto3 over HTTP only: the SageMaker
and CloudWatch calls a user's own tools make."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from emulator.cli import main as amt
from emulator.clock import SystemClock
from emulator.embedded import EmbeddedEmulator
from emulator.simulator.curves import load_set
from emulator.simulator.import_api import read_tuning_jobs
from emulator.simulator.importer import (
    CurveImportError,
    FinishedJob,
    Objective,
    Point,
    build_set,
    space_from_ranges,
    write_imported,
)
from tests.conftest import Server, wait_for
from tests.requests import METRICS, short_tuning_request, tuning_request

ACC = "validation:accuracy"
NOW = SystemClock().now


def import_args(server: Server, out: Path, *names: str) -> list[str]:
    jobs = [arg for name in names for arg in ("--tuning-job", name)]
    return ["curves", "import", *jobs, "--endpoint", server.endpoint, "--out", str(out)]


def test_an_unknown_tuning_job_fails_with_the_aws_error(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cloudwatch = server.process.client("cloudwatch")
    with pytest.raises(ClientError) as error:
        read_tuning_jobs(server.sagemaker, cloudwatch, ["no-such-tuning-job"], now=NOW())
    assert error.value.response["Error"]["Code"] == "ResourceNotFound"
    assert amt(import_args(server, tmp_path / "set", "no-such-tuning-job")) == 2
    err = capsys.readouterr().err
    assert "ResourceNotFound" in err and "no-such-tuning-job" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_tuning_jobs_training_jobs_become_a_curve_set(
    server: Server, unique: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = unique("import")
    request = short_tuning_request(name)
    server.sagemaker.create_hyper_parameter_tuning_job(**request)
    assert server.wait_tuning(name)["HyperParameterTuningJobStatus"] == "Completed"
    summaries = server.sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name
    )["TrainingJobSummaries"]

    out = tmp_path / "mine"
    assert amt(import_args(server, out, name)) == 0
    assert "3 runs" in capsys.readouterr().out
    curve_set = load_set(str(out))
    manifest = curve_set.manifest
    assert manifest["objective"] == {"MetricName": ACC, "Type": "Maximize"}
    assert [p["name"] for p in manifest["search_space"]] == ["learning_rate", "loss"]
    assert manifest["static_hyperparameters"]["sleep_per_epoch"] == "1.2"
    assert manifest["source"]["tuning_jobs"] == [name]
    runs = {r.run_id: r for r in curve_set.runs}
    assert set(runs) == {s["TrainingJobName"] for s in summaries}
    for summary in summaries:
        run = runs[summary["TrainingJobName"]]
        tuned = summary["TunedHyperParameters"]
        assert {k: run.hyperparameters[k] for k in tuned} == tuned
        assert run.curve.epochs == 3
        assert sorted(run.curve.epoch_values) == sorted(m["Name"] for m in METRICS)
        assert all(math.isfinite(v) for v in run.curve.epoch_values[ACC])
        final = summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        assert run.curve.epoch_values[ACC][-1] == final
        assert all(s >= 1.0 for s in run.curve.epoch_seconds[1:])

    # In 60 s periods (what CloudWatch keeps of jobs older than 3 hours) the epochs merge.
    coarse = tmp_path / "coarse"
    assert amt([*import_args(server, coarse, name), "--period", "60"]) == 0
    assert "points average several of one CloudWatch period" in capsys.readouterr().out
    assert all(r.curve.epochs < 3 for r in load_set(str(coarse)).runs)
    assert json.loads(coarse.with_suffix(".json").read_text())["averaged_points"]


@pytest.mark.slow
def test_training_jobs_without_metric_points_are_refused(
    server: Server, unique: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = unique("silent")
    never = [{"Name": ACC, "Regex": r"never-printed=([0-9\.]+)"}]
    request = tuning_request(
        name,
        HyperParameterTuningJobConfig={
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 1, "MaxParallelTrainingJobs": 1},
        },
        TrainingJobDefinition={
            "StaticHyperParameters": {"epochs": "1"},
            "AlgorithmSpecification": {"MetricDefinitions": never},
        },
    )
    server.sagemaker.create_hyper_parameter_tuning_job(**request)
    server.wait_tuning(name)
    cloudwatch = server.process.client("cloudwatch")
    jobs, objective, space, _ = read_tuning_jobs(server.sagemaker, cloudwatch, [name], now=NOW())
    assert objective == Objective(ACC, "Maximize")
    assert len(jobs) >= 1 and all(j.points == () for j in jobs)
    with pytest.raises(CurveImportError, match="no completed training job"):
        build_set(jobs, objective, space, {})
    assert amt(import_args(server, tmp_path / "set", name)) == 2
    assert f"no {ACC} metric point" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    assert [p["name"] for p in space] == ["learning_rate", "loss"]


def test_an_imported_set_is_served_by_path(tmp_path: Path) -> None:
    """`amt serve --simulate PATH` (here embedded): jobs replay the set's recorded curves."""
    finals = {"0.001": 0.5, "0.01": 0.7, "0.1": 0.9}
    jobs = [
        FinishedJob(
            f"job-{lr}",
            {"learning_rate": lr, "loss": loss},
            "Completed",
            (Point(60.0, ACC, final - 0.1), Point(120.0, ACC, final)),
        )
        for lr, final in finals.items()
        for loss in ("log_loss", "hinge", "modified_huber")
    ]
    ranges = tuning_request()["HyperParameterTuningJobConfig"]["ParameterRanges"]
    imported = build_set(jobs, Objective(ACC, "Maximize"), space_from_ranges(ranges), {})
    path = write_imported(imported, tmp_path / "served")
    name = "served-by-path"
    with EmbeddedEmulator(simulate=str(path), time_scale=1000) as emulator:
        sagemaker = emulator.client("sagemaker")
        sagemaker.create_hyper_parameter_tuning_job(**tuning_request(name))
        described = wait_for(
            lambda: sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name),
            lambda d: d["HyperParameterTuningJobStatus"] != "InProgress",
            timeout=60,
        )
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    best = described["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    assert best in finals.values()
    with pytest.raises(ValueError, match="no recorded curve set"):
        EmbeddedEmulator(simulate=str(tmp_path / "missing"))


@pytest.mark.slow
def test_one_definition_of_a_tuning_job_with_several_becomes_a_curve_set(
    server: Server, unique: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A curve set covers one search space and one set of statics: a tuning job with two
    training job definitions is imported one definition at a time, by name."""
    name = unique("import-multi")[:32]
    objective = {"Type": "Maximize", "MetricName": ACC}
    definitions = []
    for definition, loss in (("hinge-model", "hinge"), ("logistic-model", "log_loss")):
        d = short_tuning_request(name)["TrainingJobDefinition"]
        d["DefinitionName"] = definition
        d["TuningObjective"] = objective
        d["StaticHyperParameters"] = {**d["StaticHyperParameters"], "loss": loss}
        d["HyperParameterRanges"] = {
            "ContinuousParameterRanges": [
                {"Name": "learning_rate", "MinValue": "0.001", "MaxValue": "0.5"}
            ]
        }
        definitions.append(d)
    request = short_tuning_request(name)
    config = request["HyperParameterTuningJobConfig"]
    del config["HyperParameterTuningJobObjective"], config["ParameterRanges"]
    config["ResourceLimits"] = {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2}
    config["RandomSeed"] = 2
    del request["TrainingJobDefinition"]
    request["TrainingJobDefinitions"] = definitions
    server.sagemaker.create_hyper_parameter_tuning_job(**request)
    assert server.wait_tuning(name)["HyperParameterTuningJobStatus"] == "Completed"
    summaries = server.sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name
    )["TrainingJobSummaries"]
    chosen = summaries[0]["TrainingJobDefinitionName"]
    mine = {s["TrainingJobName"] for s in summaries if s["TrainingJobDefinitionName"] == chosen}

    assert amt(import_args(server, tmp_path / "both", name)) == 2
    err = capsys.readouterr().err
    assert "2 training job definitions (hinge-model, logistic-model)" in err
    assert "--definition NAME" in err
    assert amt([*import_args(server, tmp_path / "none", name), "--definition", "nope"]) == 2
    assert "no training job definition named 'nope'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []

    out = tmp_path / "one"
    assert amt([*import_args(server, out, name), "--definition", chosen]) == 0
    curve_set = load_set(str(out))
    assert {r.run_id for r in curve_set.runs} == mine
    assert curve_set.manifest["source"]["definition"] == chosen
    loss = "hinge" if chosen == "hinge-model" else "log_loss"
    assert curve_set.manifest["static_hyperparameters"]["loss"] == loss
    assert [p["name"] for p in curve_set.manifest["search_space"]] == ["learning_rate"]
