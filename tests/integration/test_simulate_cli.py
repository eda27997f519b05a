"""`amt simulate` as a user runs it: a request file, its printed summary, the files it writes."""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from emulator.simulator.cli import main
from emulator.simulator.curves import load_set
from tests.requests import tuning_request

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def simulate(capsys: pytest.CaptureFixture[str]) -> Callable[..., Done]:
    """`amt simulate ARGS` in this process (the command's own entry point, output captured)."""

    def run(*args: str) -> Done:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return Done(code, out, err)

    return run


def test_the_module_runs_as_a_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "emulator.simulator.cli", "--list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("synthetic")


def spec(tmp_path: Path, **config: object) -> Path:
    request = tuning_request(
        "cli-sim",
        HyperParameterTuningJobConfig={
            "TrainingJobEarlyStoppingType": "Auto",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 12, "MaxParallelTrainingJobs": 3},
            **config,
        },
        TrainingJobDefinition={"StaticHyperParameters": {"epochs": "8"}},
    )
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(request))
    return path


def test_json_summary_has_the_documented_shape(
    simulate: Callable[..., Done], tmp_path: Path
) -> None:
    done = simulate(str(spec(tmp_path)), "--curves", "synthetic", "--seed", "3", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert set(summary) >= {
        "best_objective",
        "total_training_seconds",
        "wall_seconds",
        "status_counters",
        "stopped_jobs",
        "jobs",
    }
    jobs = summary["jobs"]
    assert len(jobs) == 12
    assert set(jobs[0]) >= {"hyperparameters", "status", "final_objective", "epochs"}
    assert set(jobs[0]["hyperparameters"]) == {"learning_rate", "loss"}
    assert sum(summary["status_counters"].values()) == 12
    assert summary["stopped_jobs"] == summary["status_counters"]["Stopped"]
    finals = [j["final_objective"] for j in jobs if j["final_objective"] is not None]
    assert summary["best_objective"] == max(finals)
    assert all(1 <= j["epochs"] <= 8 for j in jobs)
    again = simulate(str(spec(tmp_path)), "--curves", "synthetic", "--seed", "3", "--json")
    assert again.stdout == done.stdout, "one seed, one output: job names included"
    other = simulate(str(spec(tmp_path)), "--curves", "synthetic", "--seed", "4", "--json")
    names = {j["name"] for j in jobs}
    assert names.isdisjoint(j["name"] for j in json.loads(other.stdout)["jobs"])


def test_epoch_seconds_pace_every_job(simulate: Callable[..., Done], tmp_path: Path) -> None:
    path = spec(tmp_path, TrainingJobEarlyStoppingType="Off")
    args = (str(path), "--curves", "synthetic", "--seed", "1", "--startup", "0", "--json")
    paced = json.loads(simulate(*args, "--epoch-seconds", "10").stdout)
    assert {j["training_seconds"] for j in paced["jobs"]} == {80}, "8 epochs of 10 s"
    assert paced["total_training_seconds"] == 12 * 80
    recorded = json.loads(simulate(*args).stdout)
    assert recorded["total_training_seconds"] > 12 * 400, "synthetic epochs take about 60 s"
    configs = [j["hyperparameters"] for j in paced["jobs"]]
    assert configs == [j["hyperparameters"] for j in recorded["jobs"]], "Random: the same proposals"
    with pytest.raises(SystemExit) as refused:
        simulate(*args, "--epoch-seconds", "0")
    assert refused.value.code == 2


def test_console_output_csv_and_seeds(simulate: Callable[..., Done], tmp_path: Path) -> None:
    table = tmp_path / "analytics.csv"
    done = simulate(str(spec(tmp_path)), "--startup", "120", "--csv", str(table))
    assert done.returncode == 0, done.stderr
    for label in ("Best objective", "Training jobs", "Total training time", "Wall-clock time"):
        assert label in done.stdout
    with table.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 12
    assert {"learning_rate", "loss", "FinalObjectiveValue", "TrainingJobStatus"} <= set(rows[0])
    many = simulate(str(spec(tmp_path)), "--seeds", "3", "--json")
    result = json.loads(many.stdout)
    assert result["seeds"] == [0, 1, 2]
    assert len(result["runs"]) == 3
    low, mid, high = (result[k]["best_objective"] for k in ("min", "median", "max"))
    assert low <= mid <= high


def test_list_and_errors(simulate: Callable[..., Done], tmp_path: Path) -> None:
    listed = simulate("--list")
    assert listed.returncode == 0
    assert listed.stdout.startswith("synthetic")
    missing = simulate(str(spec(tmp_path)), "--curves", "no-such-set")
    assert missing.returncode == 2
    assert "no curve set 'no-such-set'" in missing.stderr
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(tuning_request("x", HyperParameterTuningJobConfig=None)))
    invalid = simulate(str(bad))
    assert invalid.returncode == 2 and "amt simulate:" in invalid.stderr


def test_a_list_of_requests_runs_parents_before_their_warm_start_child(
    simulate: Callable[..., Done], tmp_path: Path
) -> None:
    parent = tuning_request("cli-parent")
    child = tuning_request(
        "cli-child",
        WarmStartConfig={
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "cli-parent"}],
            "WarmStartType": "IdenticalDataAndAlgorithm",
        },
    )
    path = tmp_path / "family.json"
    path.write_text(json.dumps([parent, child]))
    done = simulate(str(path), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["name"] == "cli-child"
    alone = tmp_path / "orphan.json"
    alone.write_text(json.dumps(child))
    orphan = simulate(str(alone))
    assert orphan.returncode == 2 and "cli-parent" in orphan.stderr


def test_plot_is_written_or_refused_without_matplotlib(
    simulate: Callable[..., Done], tmp_path: Path
) -> None:
    picture = tmp_path / "plot.png"
    done = simulate(str(spec(tmp_path)), "--plot", str(picture))
    if importlib.util.find_spec("matplotlib") is None:
        assert done.returncode == 2 and "matplotlib" in done.stderr
        assert not picture.exists() and done.stdout == ""
    else:
        assert done.returncode == 0, done.stderr
        assert picture.read_bytes().startswith(b"\x89PNG")


def test_surrogate_replay_gives_recorded_shapes_model_finals(
    simulate: Callable[..., Done],
) -> None:
    spec_file = str(ROOT / "fixtures" / "specs" / "image-classification-early-stopping.json")
    args = (spec_file, "--curves", "image-classification-cpu", "--seed", "2", "--json")
    nearest = json.loads(simulate(*args).stdout)
    done = simulate(*args, "--replay", "surrogate")
    assert done.returncode == 0, done.stderr
    surrogate = json.loads(done.stdout)
    again = json.loads(simulate(*args, "--replay", "surrogate").stdout)["jobs"]
    assert [{**j, "name": ""} for j in again] == [{**j, "name": ""} for j in surrogate["jobs"]]
    recorded = {
        round(v, 6)
        for r in load_set("image-classification-cpu").runs
        for v in [r.curve.epoch_values["validation:accuracy"][-1]]
    }
    finals = [j["final_objective"] for j in surrogate["jobs"] if j["status"] == "Completed"]
    assert finals and any(round(f, 6) not in recorded for f in finals)
    assert max(finals) <= max(recorded) + 1e-9
    near = [j["final_objective"] for j in nearest["jobs"] if j["status"] == "Completed"]
    assert all(round(f, 6) in recorded for f in near)


def test_compare_prints_one_table_and_writes_the_png(
    simulate: Callable[..., Done], tmp_path: Path
) -> None:
    path = spec(tmp_path, Strategy="Random", TrainingJobEarlyStoppingType="Off")
    variants = tmp_path / "variants.json"
    variants.write_text(
        json.dumps(
            [
                {"Label": "auto", "TrainingJobEarlyStoppingType": "Auto"},
                {"Label": "half", "MaxNumberOfTrainingJobs": 6},
            ]
        )
    )
    png = tmp_path / "compare.png"
    args = (str(path), "--curves", "synthetic", "--seeds", "2", "--epoch-seconds", "60")
    done = simulate(*args, "--compare", str(variants), "--plot", str(png))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("2 seeds (0..1)")
    rows = {line.split("  ")[0].strip(): line for line in lines[3:]}
    assert list(rows) == ["as given", "auto", "half"]
    assert "50%" in rows["half"], "half the jobs, half the billable time (Off, same pace)"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    as_json = simulate(*args, "--compare", str(variants), "--plot", str(png), "--json")
    given, auto, half = json.loads(as_json.stdout)
    assert [r["seed"] for r in auto["runs"]] == [0, 1]
    assert half["saved"] == pytest.approx(0.5)
    assert given["billable_seconds"]["median"] == 12 * 8 * 60
    assert auto["saved"] > 0 and auto["early_stopped"] > 0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"Strategy": "Annealing"}]))
    refused = simulate(*args, "--compare", str(bad), "--plot", str(png))
    assert refused.returncode == 2 and "Annealing" in refused.stderr


def test_compare_without_a_file_runs_the_usual_alternatives_that_apply(
    simulate: Callable[..., Done], tmp_path: Path
) -> None:
    request = tuning_request(
        "cli-alternatives",
        HyperParameterTuningJobConfig={
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2}
        },
    )
    request["TrainingJobDefinition"]["StaticHyperParameters"].pop("epochs", None)
    path = tmp_path / "no-epochs.json"
    path.write_text(json.dumps(request))
    png = tmp_path / "alternatives.png"
    done = simulate(str(path), "--curves", "synthetic", "--compare", "--plot", str(png))
    assert done.returncode == 0, done.stderr
    labels = [line.split("  ")[0].strip() for line in done.stdout.splitlines()[3:]]
    assert labels == [
        "as given",
        "Bayesian",
        "early stopping Auto",
        "1 parallel",
        "4 parallel",
        "2 jobs",
        "8 jobs",
    ]
    assert "left out variant 'Hyperband'" in done.stderr, "Hyperband needs an epoch count"
    assert png.exists()
