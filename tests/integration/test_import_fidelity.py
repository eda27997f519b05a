"""Fidelity, end to end: a real tuning job's jobs imported through the public API and simulated
give back what the real runs did.

A real Random tuning job (a RandomSeed, one job at a time, early stopping Off) runs the sklearn
fixture on `amt serve`; `amt curves import` reads its jobs through SageMaker and CloudWatch
only; `amt simulate` of the same request with that set must launch the same configurations
and find the same objective values and best job. Then the request with `Auto` early stopping
runs for real, and its simulation on the same set must stop the same jobs at the same epochs.
Epochs are 1.5 s apart so that each lands in its own 1 s CloudWatch period.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from emulator.cli import main as amt
from emulator.clock import SystemClock
from emulator.simulator.cli import main as simulate
from emulator.simulator.import_api import read_tuning_jobs
from tests.conftest import Server
from tests.integration.test_simulator_replay import early_stopped
from tests.requests import tuning_request

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ACC = "validation:accuracy"


def fidelity_request(name: str, early_stopping: str) -> dict[str, Any]:
    return tuning_request(
        name,
        HyperParameterTuningJobConfig={
            "Strategy": "Random",
            "RandomSeed": 11,
            "TrainingJobEarlyStoppingType": early_stopping,
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 8, "MaxParallelTrainingJobs": 1},
        },
        TrainingJobDefinition={"StaticHyperParameters": {"epochs": "4", "sleep_per_epoch": "1.5"}},
    )


def real_run(server: Server, request: dict[str, Any]) -> dict[str, Any]:
    """Run a request on the server; per job in launch order, what the API says it did."""
    name = request["HyperParameterTuningJobName"]
    server.sagemaker.create_hyper_parameter_tuning_job(**request)
    described = server.wait_tuning(name, timeout=280)
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    cloudwatch = server.process.client("cloudwatch")
    jobs, _, _, _ = read_tuning_jobs(server.sagemaker, cloudwatch, [name], now=SystemClock().now())
    facts = []
    for job in jobs:
        doc = server.sagemaker.describe_training_job(TrainingJobName=job.name)
        tuned = request["HyperParameterTuningJobConfig"]["ParameterRanges"]
        names = [r["Name"] for kind in tuned.values() for r in kind]
        facts.append(
            {
                "config": {n: doc["HyperParameters"][n] for n in names},
                "status": doc["TrainingJobStatus"],
                "early_stopped": early_stopped(doc["SecondaryStatusTransitions"]),
                "epochs": sum(p.metric == ACC for p in job.points),
                "final": job.final.get(ACC),
            }
        )
    best = described["BestTrainingJob"]
    return {
        "jobs": facts,
        "best_config": best["TunedHyperParameters"],
        "best": best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
    }


def simulated_run(
    request: dict[str, Any], curves: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> dict[str, Any]:
    """`amt simulate SPEC --curves PATH --json`, in the shape of `real_run`."""
    spec = tmp_path / f"{request['HyperParameterTuningJobName']}.json"
    spec.write_text(json.dumps(request))
    assert simulate([str(spec), "--curves", str(curves), "--json"]) == 0
    outcome = json.loads(capsys.readouterr().out)
    jobs = outcome["jobs"]
    best = next(j for j in jobs if j["name"] == outcome["best_job"])
    return {
        "jobs": [
            {
                "config": j["hyperparameters"],
                "status": j["status"],
                "early_stopped": j["early_stopped"],
                "epochs": j["epochs"],
                "final": j["final_objective"],
            }
            for j in jobs
        ],
        "best_config": best["hyperparameters"],
        "best": outcome["best_objective"],
    }


def test_imported_runs_simulate_as_they_ran(
    server: Server, unique: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    off = fidelity_request(unique("fidelity-off"), "Off")
    real_off = real_run(server, off)

    curves = tmp_path / "imported"
    name = off["HyperParameterTuningJobName"]
    args = ["--tuning-job", name, "--endpoint", server.endpoint, "--out", str(curves)]
    assert amt(["curves", "import", *args]) == 0
    assert "8 runs" in capsys.readouterr().out

    assert simulated_run(off, curves, tmp_path, capsys) == real_off

    auto = fidelity_request(unique("fidelity-auto"), "Auto")
    real_auto = real_run(server, auto)
    assert any(j["early_stopped"] for j in real_auto["jobs"]), "nothing stopped: nothing to check"
    assert [j["config"] for j in real_auto["jobs"]] == [j["config"] for j in real_off["jobs"]]
    assert simulated_run(auto, curves, tmp_path, capsys) == real_auto

    # Both tuning jobs in one set: the Auto run's stopped jobs are left out, and named.
    stopped = sum(j["status"] == "Stopped" for j in real_auto["jobs"])
    both = ["--tuning-job", name, "--tuning-job", auto["HyperParameterTuningJobName"]]
    assert (
        amt(["curves", "import", *both, "--endpoint", server.endpoint, "--out", str(curves)]) == 0
    )
    printed = capsys.readouterr().out
    assert f"\t{16 - stopped} runs" in printed
    assert printed.count("skipped ") == stopped
