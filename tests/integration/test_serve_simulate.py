"""`amt serve --simulate`: the real API, tuner and control plane on a virtual clock, with agents
that replay recorded curves.

The acceptance case: a Bayesian tuning job of 12 jobs x 12 epochs on the recorded
image-classification curves, with automatic early stopping, one job at a time and 10 minutes
of start-up per job, lasts over two virtual hours and finishes in seconds through boto3. Run
one at a time, every decision depends only on the curves, so it must end exactly as `amt
simulate` does (same configurations, statuses, stopping epochs, objectives, best job). With
parallel jobs the order in which real asynchronous events meet may differ from the engine's,
so there the test checks what must hold whatever the order: each job replays its own curve,
paced by the recorded epoch times, and only early stopping stops jobs.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import urllib.request
from collections.abc import Iterator
from itertools import accumulate
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agents.metrics import MetricExtractor
from emulator.clock import ScaledClock
from emulator.domain.builtin import REGISTRY, builtin_metrics
from emulator.simulator.agent import CurveDrawer, JobOrigin, Refused, epoch_lines, timeline
from emulator.simulator.cli import curve_source
from emulator.simulator.curves import Curve, load_set
from emulator.simulator.engine import Engine, SimulationSettings
from emulator.testing import ServerProcess
from tests.broker import Broker
from tests.conftest import wait_for
from tests.tuner_worker import TunerWorker

SET = "image-classification-cpu"
IMAGE = "433757028032.dkr.ecr.us-west-2.amazonaws.com/image-classification:1"
METRIC = "validation:accuracy"
SCALE = 2000.0
STARTUP = 600.0
EARLY_STOP = "Stopping: automatic early stopping"
GROUP = "/aws/sagemaker/TrainingJobs"

pytest_plugins = ["pytester"]


def tuning_request(
    name: str, *, parallel: int = 1, jobs: int = 12, **ranges: Any
) -> dict[str, Any]:
    """The seed notebook's image-classification tuning job, on the recorded set's statics."""
    parameter_ranges = {
        "ContinuousParameterRanges": [
            {
                "Name": "learning_rate",
                "MinValue": "0.00001",
                "MaxValue": "1.0",
                "ScalingType": "Logarithmic",
            },
            {"Name": "momentum", "MinValue": "0.0", "MaxValue": "0.99"},
        ],
        "IntegerParameterRanges": [{"Name": "mini_batch_size", "MinValue": "16", "MaxValue": "64"}],
        "CategoricalParameterRanges": [
            {"Name": "optimizer", "Values": ["sgd", "adam", "rmsprop", "nag"]}
        ],
    }
    parameter_ranges.update(ranges)
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "RandomSeed": 7,
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": METRIC},
            "ResourceLimits": {
                "MaxNumberOfTrainingJobs": jobs,
                "MaxParallelTrainingJobs": parallel,
            },
            "ParameterRanges": parameter_ranges,
            "TrainingJobEarlyStoppingType": "Auto",
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": dict(load_set(SET).manifest["static_hyperparameters"]),
            "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
            "OutputDataConfig": {"S3OutputPath": "s3://bucket/output"},
            "ResourceConfig": {
                "InstanceType": "ml.p3.2xlarge",
                "InstanceCount": 1,
                "VolumeSizeInGB": 10,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        },
    }


# --- the clock --------------------------------------------------------------------------------


class FakeWall:
    """Wall time that moves only when told: a stalled event loop, on demand."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


async def test_scaled_clock_runs_scale_times_faster_and_sleeps_in_virtual_seconds() -> None:
    clock = ScaledClock(1000, start=5_000.0)
    began = time.monotonic()
    await clock.sleep(60)  # one virtual minute: 60 ms
    waited = time.monotonic() - began
    assert clock.now() >= 5_060.0
    assert 0.055 <= waited < 1.0
    assert clock.monotonic() == pytest.approx(clock.now() - 5_000.0, abs=1.0)
    with pytest.raises(ValueError, match="positive"):
        ScaledClock(0)


async def test_a_stalled_loop_holds_virtual_time_at_the_first_unresumed_timer() -> None:
    wall = FakeWall()
    clock = ScaledClock(1000, start=0.0, wall=wall)
    order: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        order.append(f"{name}@{clock.now():g}")

    tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("late", 7), ("early", 3))]
    await asyncio.sleep(0)
    wall.t += 0.05  # the loop is stalled for 50 ms: 50 virtual seconds
    assert clock.now() == 3.0  # held at the earliest timer that has not run
    await asyncio.gather(*tasks)
    # In deadline order; the early one wakes to 7, not 50: the late timer has yet to run.
    assert order == ["early@7", "late@50"]


async def test_time_held_back_beyond_max_lag_is_given_up_not_caught_up() -> None:
    wall = FakeWall()
    clock = ScaledClock(1000, start=0.0, wall=wall, max_lag=0.25)
    task = asyncio.create_task(clock.sleep(1))
    await asyncio.sleep(0)
    wall.t += 2.0  # a 2 s stall: 2000 virtual seconds, far past the 250 allowed
    assert clock.now() == 1.0
    await task
    assert clock.now() == pytest.approx(251.0)
    assert clock.effective_scale() == pytest.approx(251.0 / 2.0)


# --- pure parts of the simulated agent ---------------------------------------------------------


def test_timeline_follows_the_engine_epoch_by_epoch() -> None:
    curve = Curve({METRIC: [0.1, 0.2, 0.3]}, [10.0, 10.0, 10.0])
    assert [(s.at, s.epoch, s.end) for s in timeline(curve, 3600, upload_seconds=2)] == [
        (10.0, 1, ""),
        (20.0, 2, ""),
        (30.0, 3, ""),
        (32.0, 0, "Completed"),
    ]
    assert [(s.at, s.epoch, s.end) for s in timeline(curve, 25)] == [
        (10.0, 1, ""),
        (20.0, 2, ""),
        (25, 0, "MaxRuntimeExceeded"),
    ]
    failed = Curve({METRIC: [0.1]}, [5.0], failure="Recorded run ended Failed")
    assert timeline(failed, 3600)[-1].end == "Failed"


@pytest.mark.parametrize("style", ["image-classification", "xgboost"])
def test_log_lines_give_back_the_curve_through_the_official_metric_definitions(
    style: str,
) -> None:
    metrics = (
        ("train:accuracy", METRIC) if style != "xgboost" else ("train:logloss", "validation:auc")
    )
    # Recorded values have the precision the algorithm prints: 6 decimals, XGBoost's 5.
    values = {metrics[0]: 0.912, metrics[1]: 0.87432, "validation:nan": math.nan}
    lines = epoch_lines(style, 3, values, 0.412)
    extractor = MetricExtractor.from_definitions(REGISTRY[style].metric_definitions)
    found = {name: value for line, _ in lines for name, value in extractor.extract(line)}
    carried = {name: value for _, points in lines for name, value in points}
    assert found == carried == {metrics[0]: 0.912, metrics[1]: 0.87432}
    text = [line for line, _ in lines]
    if style == "xgboost":
        assert text == ["[2]#011train-logloss:0.91200#011validation-auc:0.87432"]
    else:
        assert text == [
            "Epoch[3] Train-accuracy=0.912000",
            "Epoch[3] Time cost=0.412",
            "Epoch[3] Validation-accuracy=0.874320",
        ]


def test_curves_are_drawn_as_amt_simulate_draws_them_or_refused_clearly() -> None:
    request = tuning_request("draw")
    doc = {**request, "HyperParameterTuningJobArn": "arn:aws:sagemaker:::tuning/draw"}
    drawer = CurveDrawer(load_set(SET))
    config = {
        **request["TrainingJobDefinition"]["StaticHyperParameters"],
        "learning_rate": "0.01",
        "momentum": "0.9",
        "mini_batch_size": "32",
        "optimizer": "adam",
        "_tuning_objective_metric": METRIC,
    }
    drawn = drawer.draw({"HyperParameters": config}, JobOrigin(doc, 1))
    expected = curve_source(SET, request).curve(config, np.random.default_rng(0))
    assert drawn.curve == expected
    assert drawn.run_id and drawn.distance >= 0

    unknown = tuning_request(
        "draw-beta",
        ContinuousParameterRanges=[{"Name": "beta_1", "MinValue": "0.8", "MaxValue": "0.99"}],
    )
    with pytest.raises(Refused, match=r"ClientError: .*beta_1"):
        drawer.draw(
            {"HyperParameters": {**config, "beta_1": "0.9"}},
            JobOrigin({**unknown, "HyperParameterTuningJobArn": "arn:b"}, 1),
        )
    with pytest.raises(Refused, match="objective metric validation:top_k_accuracy is not"):
        drawer.draw(
            {
                "HyperParameters": {
                    **config,
                    "_tuning_objective_metric": "validation:top_k_accuracy",
                }
            },
            JobOrigin(doc, 1),
        )
    standalone = drawer.draw({"HyperParameters": {"learning_rate": "0.01"}}, JobOrigin())
    assert standalone.curve.epochs == 12


def test_surrogate_replay_draws_as_amt_simulate_replay_surrogate() -> None:
    request = tuning_request("draw-surrogate")
    doc = {**request, "HyperParameterTuningJobArn": "arn:aws:sagemaker:::tuning/draw-s"}
    config = {
        **request["TrainingJobDefinition"]["StaticHyperParameters"],
        "learning_rate": "0.0123",
        "momentum": "0.51",
        "mini_batch_size": "40",
        "optimizer": "sgd",
        "_tuning_objective_metric": METRIC,
    }
    nearest = CurveDrawer(load_set(SET)).draw({"HyperParameters": config}, JobOrigin(doc, 1))
    drawn = CurveDrawer(load_set(SET), replay="surrogate").draw(
        {"HyperParameters": config}, JobOrigin(doc, 1)
    )
    expected = curve_source(SET, request, replay="surrogate").curve(
        config, np.random.default_rng(0)
    )
    assert drawn.curve == expected
    assert drawn.curve != nearest.curve, "a model's final value, not the neighbour's"
    assert any("surrogate" in note for note in drawn.notes)


def test_serve_takes_epoch_seconds_and_replay_as_amt_simulate_does() -> None:
    import argparse

    from emulator.cli import _serve_parser, settings_from_args

    parser = argparse.ArgumentParser()
    _serve_parser(parser.add_subparsers(dest="command"))
    flags = ["serve", "--simulate", SET, "--epoch-seconds", "50", "--replay", "surrogate"]
    settings = settings_from_args(parser.parse_args(flags))
    assert (settings.epoch_seconds, settings.replay) == (50.0, "surrogate")
    plain = settings_from_args(parser.parse_args(["serve", "--simulate", SET]))
    assert (plain.epoch_seconds, plain.replay) == (None, "nearest")


# --- through boto3, against `amt serve --simulate` --------------------------------------------


class SimServer:
    def __init__(self, process: ServerProcess, started: float) -> None:
        self.process = process
        self.started = started
        """Wall time just before the server started: virtual time begins after it."""
        self.sm = process.client("sagemaker")
        self.logs = process.client("logs")

    def wait_tuning(self, name: str, timeout: float = 60) -> dict[str, Any]:
        return wait_for(
            lambda: self.sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name),
            lambda d: d["HyperParameterTuningJobStatus"] != "InProgress",
            timeout,
            interval=0.05,
        )

    def wait_training(self, name: str, timeout: float = 30) -> dict[str, Any]:
        return wait_for(
            lambda: self.sm.describe_training_job(TrainingJobName=name),
            lambda d: d["TrainingJobStatus"] not in ("InProgress", "Stopping"),
            timeout,
            interval=0.05,
        )

    def series(self, job: str) -> list[dict[str, float]]:
        url = f"{self.process.endpoint}/_emulator/training-jobs/{job}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            return list(json.load(response)["Metrics"].get(METRIC, []))

    def children(self, name: str) -> list[dict[str, Any]]:
        summaries = self.sm.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name, MaxResults=100
        )["TrainingJobSummaries"]
        return sorted(summaries, key=lambda s: s["TrainingJobName"])  # <name>-<NNN>-<hex>

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.process.endpoint}/health", timeout=10) as response:
            return dict(json.load(response))

    def log_lines(self, job: str) -> list[dict[str, Any]]:
        streams = self.logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=job)
        stream = streams["logStreams"][0]["logStreamName"]
        return list(
            self.logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True)[
                "events"
            ]
        )


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimServer]:
    args = ["--simulate", SET, "--time-scale", str(SCALE), "--startup", str(STARTUP)]
    started = time.time()
    process = ServerProcess(tmp_path_factory.mktemp("amt-sim"), extra_args=args).start()
    yield SimServer(process, started)
    process.stop()


def stopped_early(job: dict[str, Any]) -> bool:
    return any(t.get("StatusMessage") == EARLY_STOP for t in job["SecondaryStatusTransitions"])


def served_facts(sim: SimServer, name: str) -> list[dict[str, Any]]:
    facts = []
    for summary in sim.children(name):
        job = sim.sm.describe_training_job(TrainingJobName=summary["TrainingJobName"])
        final = summary.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value")
        facts.append(
            {
                "config": summary["TunedHyperParameters"],
                "status": job["TrainingJobStatus"],
                "early_stopped": stopped_early(job),
                "epochs": len(sim.series(job["TrainingJobName"])),
                "final": final,
            }
        )
    return facts


def simulated(request: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """`amt simulate --curves SET --startup STARTUP` of the same request: per-job facts and
    the tuning job's document."""
    engine = Engine(SimulationSettings(startup_seconds=STARTUP), builtin_metrics=builtin_metrics)
    name = request["HyperParameterTuningJobName"]
    asyncio.run(engine.run(json.loads(json.dumps(request)), curve_source(SET, request)))
    facts = []
    for row in engine.store.children(name):
        job = row.doc["TrainingJobName"]
        facts.append(
            {
                "config": row.tuned,
                "status": row.doc["TrainingJobStatus"],
                "early_stopped": stopped_early(row.doc),
                "epochs": len(engine.store.metric_series(job, METRIC)),
                "final": row.objective_value,
            }
        )
    doc = engine.store.get_tuning_job(name)
    assert doc is not None
    engine.store.close()
    return facts, doc.doc


def launch_number(job_name: str) -> str:
    return job_name.rsplit("-", 2)[1]


def test_a_two_hour_tuning_job_runs_in_seconds_and_ends_as_amt_simulate_says(
    sim: SimServer,
) -> None:
    request = tuning_request("sim-serial")
    began = time.monotonic()
    sim.sm.create_hyper_parameter_tuning_job(**request)
    described = sim.wait_tuning("sim-serial")
    wall = time.monotonic() - began
    assert described["HyperParameterTuningJobStatus"] == "Completed"

    virtual = (described["HyperParameterTuningEndTime"] - described["CreationTime"]).total_seconds()
    expected, engine_doc = simulated(request)
    engine_virtual = engine_doc["HyperParameterTuningEndTime"] - engine_doc["CreationTime"]
    assert virtual > 2 * 3600
    assert wall < 15, f"{virtual:.0f} virtual seconds took {wall:.1f} s"
    # Virtual time never runs ahead of the scale; a hop through the bus costs virtual time
    # the engine does not spend, a little, never less.
    assert engine_virtual <= virtual <= SCALE * wall
    assert virtual < 1.3 * engine_virtual
    assert (
        sim.started
        <= described["CreationTime"].timestamp()
        <= time.time() + SCALE * (time.monotonic() - began + 60)
    )

    assert served_facts(sim, "sim-serial") == expected
    assert any(f["early_stopped"] for f in expected), "nothing was stopped: nothing to compare"
    best, engine_best = described["BestTrainingJob"], engine_doc["BestTrainingJob"]
    assert launch_number(best["TrainingJobName"]) == launch_number(engine_best["TrainingJobName"])
    assert (
        best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        == (engine_best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
    )
    assert described["TrainingJobStatusCounters"] == engine_doc["TrainingJobStatusCounters"]


def test_jobs_are_paced_by_their_curves_in_virtual_time(sim: SimServer) -> None:
    """Runs after the serial job on the same server: its jobs' documents, points and logs."""
    request = tuning_request("sim-paced", jobs=4, parallel=2)
    sim.sm.create_hyper_parameter_tuning_job(**request)
    assert sim.wait_tuning("sim-paced")["HyperParameterTuningJobStatus"] == "Completed"
    source = curve_source(SET, request)
    for summary in sim.children("sim-paced"):
        job = sim.sm.describe_training_job(TrainingJobName=summary["TrainingJobName"])
        curve = source.curve(job["HyperParameters"], np.random.default_rng(0))
        start = job["TrainingStartTime"].timestamp()
        assert start - job["CreationTime"].timestamp() >= STARTUP
        points = sim.series(job["TrainingJobName"])
        assert [p["value"] for p in points] == curve.epoch_values[METRIC][: len(points)]
        for point, due in zip(points, accumulate(curve.epoch_seconds), strict=False):
            assert point["timestamp"] >= start + due - 1e-3
        if job["TrainingJobStatus"] == "Completed":
            assert len(points) == curve.epochs
            assert job["TrainingEndTime"].timestamp() - start >= sum(curve.epoch_seconds)
            finals = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
            assert finals[METRIC] == curve.epoch_values[METRIC][-1]
        else:
            why = (job["TrainingJobStatus"], job.get("FailureReason"), job["SecondaryStatus"])
            assert job["TrainingJobStatus"] == "Stopped" and stopped_early(job), why


def test_parallel_jobs_replay_their_own_curves_and_only_early_stopping_stops_them(
    sim: SimServer,
) -> None:
    request = tuning_request("sim-parallel", parallel=4)
    sim.sm.create_hyper_parameter_tuning_job(**request)
    described = sim.wait_tuning("sim-parallel")
    counters = described["TrainingJobStatusCounters"]
    assert counters["Completed"] + counters["Stopped"] == 12
    reasons = [
        sim.sm.describe_training_job(TrainingJobName=s["TrainingJobName"]).get("FailureReason")
        for s in sim.children("sim-parallel")
        if s["TrainingJobStatus"] == "Failed"
    ]
    assert counters["NonRetryableError"] == counters["RetryableError"] == 0, reasons
    source = curve_source(SET, request)
    finals = []
    for summary in sim.children("sim-parallel"):
        job = sim.sm.describe_training_job(TrainingJobName=summary["TrainingJobName"])
        curve = source.curve(job["HyperParameters"], np.random.default_rng(0))
        values = [p["value"] for p in sim.series(job["TrainingJobName"])]
        assert values == curve.epoch_values[METRIC][: len(values)]
        assert (len(values) == 12) == (job["TrainingJobStatus"] == "Completed")
        assert (job["TrainingJobStatus"] == "Stopped") == stopped_early(job)
        finals.append(values[-1])
    best = described["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    assert best == max(finals)


def test_cloudwatch_logs_show_the_built_in_algorithms_lines_at_virtual_times(
    sim: SimServer,
) -> None:
    # Wait until virtual time is over 2 hours ahead of wall time (how soon depends on the load
    # of the machine), so that moto's window is what decides whether the lines are kept.
    wait_for(
        sim.health,
        lambda h: h["simulation"]["virtual_time"] > time.time() + 2 * 3600 + 60,
        timeout=240,
    )
    sim.sm.create_hyper_parameter_tuning_job(**tuning_request("sim-logs", jobs=1))
    described = sim.wait_tuning("sim-logs")
    job = described["BestTrainingJob"]["TrainingJobName"]
    value = described["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    events = sim.log_lines(job)
    messages = [e["message"] for e in events]
    assert messages[0].startswith("[amt] simulated training job: replaying recorded run")
    assert "Epoch[1] Time cost=" in "\n".join(messages)
    assert f"Epoch[12] Validation-accuracy={value:.6f}" in messages
    described_job = sim.sm.describe_training_job(TrainingJobName=job)
    created = described_job["CreationTime"].timestamp()
    start = described_job["TrainingStartTime"].timestamp()
    # The agent's opening line may precede the Training status by a hair; epochs may not.
    assert all(e["timestamp"] / 1000 >= created - 1e-3 for e in events)
    assert all(e["timestamp"] / 1000 >= start for e in events if "Epoch[" in e["message"])
    # Virtual time is hours ahead of wall time by now: moto must not have dropped the lines.
    assert events[-1]["timestamp"] / 1000 > time.time() + 2 * 3600


def test_stops_max_runtime_and_refusals_end_jobs_as_sagemaker_would(sim: SimServer) -> None:
    base = tuning_request("unused")["TrainingJobDefinition"]
    job: dict[str, Any] = {
        "AlgorithmSpecification": base["AlgorithmSpecification"],
        "RoleArn": base["RoleArn"],
        "OutputDataConfig": base["OutputDataConfig"],
        "ResourceConfig": base["ResourceConfig"],
        "HyperParameters": {"learning_rate": "0.05", "optimizer": "sgd"},
    }
    sim.sm.create_training_job(
        TrainingJobName="sim-stop", StoppingCondition={"MaxRuntimeInSeconds": 3600}, **job
    )
    sim.sm.stop_training_job(TrainingJobName="sim-stop")  # within its 600 s of start-up
    stopped = sim.wait_training("sim-stop")
    assert (stopped["TrainingJobStatus"], stopped["SecondaryStatus"]) == ("Stopped", "Stopped")

    sim.sm.create_training_job(
        TrainingJobName="sim-short", StoppingCondition={"MaxRuntimeInSeconds": 2}, **job
    )
    short = sim.wait_training("sim-short")
    assert (short["TrainingJobStatus"], short["SecondaryStatus"]) == (
        "Stopped",
        "MaxRuntimeExceeded",
    )
    ran = short["TrainingEndTime"] - short["TrainingStartTime"]
    assert 2 <= ran.total_seconds() < 60

    beta = [{"Name": "beta_1", "MinValue": "0.8", "MaxValue": "0.99"}]
    sim.sm.create_hyper_parameter_tuning_job(
        **tuning_request("sim-beta", jobs=8, ContinuousParameterRanges=beta)
    )
    tuning = sim.wait_tuning("sim-beta")
    # refused jobs are failed attempts: the tuning job fails as AWS's does after five of them
    assert tuning["HyperParameterTuningJobStatus"] == "Failed"
    assert tuning["FailureReason"].startswith("No training job succeeded after 5 attempts.")
    children = sim.children("sim-beta")
    assert len(children) == tuning["TrainingJobStatusCounters"]["NonRetryableError"] == 5
    failed = sim.sm.describe_training_job(TrainingJobName=children[0]["TrainingJobName"])
    assert failed["TrainingJobStatus"] == "Failed"
    assert failed["FailureReason"].startswith("ClientError: simulated training")
    assert "beta_1" in failed["FailureReason"]


def test_health_reports_the_simulation(sim: SimServer) -> None:
    health = sim.health()
    simulation = health["simulation"]
    assert simulation["curves"] == SET and simulation["time_scale"] == SCALE
    assert 0 < simulation["effective_time_scale"] <= SCALE
    assert [a["agent"] for a in health["agents"]] == ["local-sim-1"]


def test_serve_help_documents_the_default_scale_and_refuses_what_cannot_be_virtual(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from emulator.cli import main

    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--time-scale X virtual seconds per wall second (default 1000" in text
    assert main(["serve", "--simulate", "no-such-set"]) == 2
    assert "no recorded curve set 'no-such-set'" in capsys.readouterr().err
    assert main(["serve", "--simulate", SET, "--bus", "mqtt://127.0.0.1:1"]) == 2
    assert "cannot take --bus" in capsys.readouterr().err


# --- the pytest plugin -------------------------------------------------------------------------

USER_SUITE = """
import json
import time

REQUEST = json.loads(%r)


def test_simulated_tuning(amt_emulator):
    sm = amt_emulator.client("sagemaker")
    began = time.monotonic()
    sm.create_hyper_parameter_tuning_job(**REQUEST)
    while True:
        d = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="user-sim")
        if d["HyperParameterTuningJobStatus"] != "InProgress":
            break
        time.sleep(0.05)
    assert d["HyperParameterTuningJobStatus"] == "Completed"
    virtual = (d["HyperParameterTuningEndTime"] - d["CreationTime"]).total_seconds()
    assert virtual >= 300 and time.monotonic() - began < 30
"""


@pytest.mark.slow
def test_the_pytest_plugin_serves_simulated_time(pytester: pytest.Pytester) -> None:
    request = json.dumps(tuning_request("user-sim", jobs=3, parallel=3))
    pytester.makepyfile(test_user=USER_SUITE % request)
    pytester.makeini("[pytest]\namt_simulate = image-classification-cpu\namt_startup = 300\n")
    result = pytester.runpytest_subprocess("--amt-time-scale", "2000", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_epoch_seconds_and_surrogate_replay_through_the_api(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """`amt serve --simulate --epoch-seconds 100 --replay surrogate`: every epoch's metric at
    the paced time, with the values `amt simulate --replay surrogate` replays."""
    args = ["--simulate", SET, "--time-scale", str(SCALE), "--epoch-seconds", "100"]
    process = ServerProcess(
        tmp_path_factory.mktemp("amt-sim-paced"), extra_args=[*args, "--replay", "surrogate"]
    ).start()
    try:
        sim = SimServer(process, time.time())
        request = tuning_request("sim-epoch-seconds", jobs=2, parallel=2)
        sim.sm.create_hyper_parameter_tuning_job(**request)
        assert sim.wait_tuning("sim-epoch-seconds")["HyperParameterTuningJobStatus"] == "Completed"
        source = curve_source(SET, request, replay="surrogate")
        for summary in sim.children("sim-epoch-seconds"):
            job = sim.sm.describe_training_job(TrainingJobName=summary["TrainingJobName"])
            curve = source.curve(job["HyperParameters"], np.random.default_rng(0))
            start = job["TrainingStartTime"].timestamp()
            points = sim.series(job["TrainingJobName"])
            assert [p["value"] for p in points] == curve.epoch_values[METRIC]
            # The server stamps statuses when it takes them: on a loaded machine a millisecond
            # of bus latency is seconds of virtual time, so allow a little of the 1200 s.
            assert job["TrainingEndTime"].timestamp() - start >= 1100, "12 epochs of 100 s"
            assert points[1]["timestamp"] - points[0]["timestamp"] > 10, "not the recorded 0.2 s"
    finally:
        process.stop()


def test_each_tuning_jobs_parallel_limit_not_a_host_bounds_simulated_jobs(sim: SimServer) -> None:
    """Three tuning jobs of 40 parallel jobs: all 120 start at once (10 minutes of start-up
    each keeps them overlapping), none waits as Pending for a simulated host's slot."""
    names = [f"sim-wide-{i}" for i in range(3)]
    for name in names:
        request = tuning_request(name, jobs=40, parallel=40)
        request["HyperParameterTuningJobConfig"]["Strategy"] = "Random"
        sim.sm.create_hyper_parameter_tuning_job(**request)
    for name in names:
        assert sim.wait_tuning(name, timeout=120)["HyperParameterTuningJobStatus"] == "Completed"
    waited = []
    for name in names:
        for summary in sim.children(name):
            job = sim.sm.describe_training_job(TrainingJobName=summary["TrainingJobName"])
            steps = [t["Status"] for t in job["SecondaryStatusTransitions"]]
            if "Pending" in steps:
                waited.append(job["TrainingJobName"])
    assert waited == []


@pytest.mark.slow
def test_remote_tuners_answer_a_simulated_server_which_ends_as_amt_simulate_says(
    broker: Broker, tmp_path: Path
) -> None:
    """`--simulate --bus URL --remote-tuners`: the broker carries only the suggestions (the
    simulated agents stay on the server's clock and bus); virtual time waits for each answer
    from the `amt tuner` process as it waits for the pool's, so the run is `amt simulate`'s."""
    config = tmp_path / "remote.toml"
    config.write_text("remote_tuners = true\n")
    args = ["--simulate", SET, "--time-scale", str(SCALE), "--startup", str(STARTUP)]
    args += ["--bus", broker.url, "--config", str(config)]
    process = ServerProcess(tmp_path / "amt-sim-remote", extra_args=args).start()
    worker = TunerWorker(broker.url, "sim-tuner", tmp_path / "tuner.log")
    try:
        sim = SimServer(process, time.time())
        request = tuning_request("sim-remote", jobs=6)
        sim.sm.create_hyper_parameter_tuning_job(**request)
        described = sim.wait_tuning("sim-remote", timeout=120)
        assert described["HyperParameterTuningJobStatus"] == "Completed"
        expected, _ = simulated(request)
        assert served_facts(sim, "sim-remote") == expected
        assert worker.answered() >= 1
        health = sim.health()
        assert health["suggestion_workers"]["remote"] is True
        assert [a["agent"] for a in health["agents"]] == ["local-sim-1"]
    finally:
        worker.stop()
        process.stop()
