"""Acceptance: a simulated tuning job replaying a real one's curves decides exactly as it did.

A small real tuning job (the sklearn fixture, early stopping Auto, one job at a time so every
decision depends only on the curves) runs through the API. Its training jobs' per-epoch
objective values are exported as a recorded curve set; the same request is then simulated with
exact-configuration lookups. Configurations, statuses, early-stopping decisions (and the epoch
each job was stopped at) and final objective values must be equal.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from emulator.domain.documents import TUNING_OBJECTIVE_HP
from emulator.simulator.curves import Curve, RecordedCurves, Run, load_set, write_set
from emulator.simulator.engine import Engine
from emulator.tuner.space import SearchSpace
from tests.conftest import Server
from tests.requests import tuning_request

pytestmark = pytest.mark.slow

METRIC = "validation:accuracy"
EARLY_STOP_MESSAGE = "Stopping: automatic early stopping"


def replay_request(name: str) -> dict[str, Any]:
    return tuning_request(
        name,
        HyperParameterTuningJobConfig={
            "RandomSeed": 11,
            "TrainingJobEarlyStoppingType": "Auto",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 8, "MaxParallelTrainingJobs": 1},
        },
        TrainingJobDefinition={"StaticHyperParameters": {"epochs": "6", "sleep_per_epoch": "0.3"}},
    )


def early_stopped(transitions: list[dict[str, Any]]) -> bool:
    return any(t.get("StatusMessage") == EARLY_STOP_MESSAGE for t in transitions)


def real_runs(server: Server, name: str) -> tuple[list[dict[str, Any]], list[Run]]:
    """Per job in launch order: what it did, and its curve as a recorded run."""
    sm = server.sagemaker
    summaries = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, MaxResults=100
    )["TrainingJobSummaries"]
    points: dict[str, list[tuple[int, float, float]]] = {}
    for job, metric, step, ts, value in server.snapshot()["metric_points"]:
        if metric == METRIC:
            points.setdefault(job, []).append((step, ts, value))
    facts, runs = [], []
    for summary in sorted(summaries, key=lambda s: s["CreationTime"]):
        job = sm.describe_training_job(TrainingJobName=summary["TrainingJobName"])
        series = sorted(points.get(job["TrainingJobName"], []))
        start = job["TrainingStartTime"].timestamp()
        times = [start] + [ts for _s, ts, _v in series]
        hyperparameters = {
            k: v for k, v in job["HyperParameters"].items() if k != TUNING_OBJECTIVE_HP
        }
        curve = Curve(
            {METRIC: [v for _s, _t, v in series]},
            [max(0.001, b - a) for a, b in itertools.pairwise(times)],
        )
        runs.append(Run(job["TrainingJobName"], hyperparameters, curve))
        final = summary.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value")
        facts.append(
            {
                "config": summary["TunedHyperParameters"],
                "status": job["TrainingJobStatus"],
                "early_stopped": early_stopped(job["SecondaryStatusTransitions"]),
                "epochs": len(series),
                "final": final,
            }
        )
    return facts, runs


async def simulated(request: dict[str, Any], curves: RecordedCurves) -> list[dict[str, Any]]:
    engine = Engine()
    await engine.run(request, curves)
    facts = []
    for row in engine.store.children(request["HyperParameterTuningJobName"]):
        job = row.doc["TrainingJobName"]
        facts.append(
            {
                "config": row.tuned,
                "status": row.doc["TrainingJobStatus"],
                "early_stopped": early_stopped(row.doc["SecondaryStatusTransitions"]),
                "epochs": len(engine.store.metric_series(job, METRIC)),
                "final": row.objective_value,
            }
        )
    return facts


async def test_simulated_replay_decides_as_the_real_tuning_job(
    server: Server, unique: Any, tmp_path: Path
) -> None:
    name = unique("replay")
    request = replay_request(name)
    server.sagemaker.create_hyper_parameter_tuning_job(**request)
    described = server.wait_tuning(name, timeout=240)
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    real, runs = real_runs(server, name)
    assert any(f["early_stopped"] for f in real), "the real run stopped no job: nothing to check"

    write_set(tmp_path, "replay", runs, {"source": name})
    recorded = load_set("replay", tmp_path)
    ranges = request["HyperParameterTuningJobConfig"]["ParameterRanges"]
    statics = request["TrainingJobDefinition"]["StaticHyperParameters"]
    curves = RecordedCurves(
        recorded, SearchSpace.from_parameter_ranges(ranges), statics, exact=True
    )
    sim = await simulated(json.loads(json.dumps(request)), curves)

    assert sim == real
    best = described["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    assert best == max(f["final"] for f in sim if f["final"] is not None)
    assert np.isfinite(best)
