"""`amt jobs | describe | watch | report` against a live server and a real tuning job."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest

from tests.requests import tuning_request

pytestmark = pytest.mark.slow


def amt(server, *args: str, timeout: float = 120) -> str:
    cmd = [sys.executable, "-m", "emulator.cli", *args, "--endpoint", server.endpoint]
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=timeout, env=env)
    return done.stdout


def test_client_commands_follow_and_report_a_tuning_job(server, unique, tmp_path):
    name = unique("cli")[:32]
    request = tuning_request(
        name,
        HyperParameterTuningJobConfig={
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
            "RandomSeed": 8,
        },
        TrainingJobDefinition={"StaticHyperParameters": {"epochs": "3", "sleep_per_epoch": "0.2"}},
    )
    server.sagemaker.create_hyper_parameter_tuning_job(**request)
    watched = amt(server, "watch", name, "--interval", "0.3")
    assert watched.count(f"{name}  ") >= 2
    assert "Completed" in watched.splitlines()[-6]
    assert "finished [" in watched

    listing = amt(server, "jobs")
    line = next(row for row in listing.splitlines() if row.startswith(name))
    assert "Completed" in line and "4/4" in line

    described = json.loads(amt(server, "describe", name))
    assert described["HyperParameterTuningJobName"] == name

    files = amt(server, "report", name, "--out", str(tmp_path)).split()
    assert {p.rsplit("/", 1)[-1] for p in files} == {
        "analytics.csv",
        "objective.png",
        "hyperparameters.png",
        "learning_curves.png",
    }
    with (tmp_path / "analytics.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4
    assert {"learning_rate", "loss", "FinalObjectiveValue", "TrainingJobName"} <= set(rows[0])
    for png in ("objective.png", "hyperparameters.png", "learning_curves.png"):
        data = (tmp_path / png).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 5000
