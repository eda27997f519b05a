"""Suggestions computed by the worker pool beside `amt serve`, through boto3: the same
configurations as computed on the event loop, and a worker killed mid-run changes nothing."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.testing import ServerProcess
from tests.conftest import wait_for
from tests.integration.test_serve_simulate import SET, SimServer, tuning_request

SCALE = 2000.0


def sim_server(data_dir: Path, *extra: str) -> SimServer:
    args = ["--simulate", SET, "--time-scale", str(SCALE), *extra]
    started = time.time()
    return SimServer(ServerProcess(data_dir, extra_args=args).start(), started)


@pytest.fixture
def pooled(tmp_path: Path) -> Iterator[SimServer]:
    sim = sim_server(tmp_path / "pooled")
    yield sim
    sim.process.stop()


def configurations(sim: SimServer, name: str) -> list[dict[str, str]]:
    return [s["TunedHyperParameters"] for s in sim.children(name)]


def test_the_pool_suggests_what_the_event_loop_suggests(pooled: SimServer, tmp_path: Path):
    config = tmp_path / "on-loop.toml"
    config.write_text("suggestion_workers = 0\n")
    on_loop = sim_server(tmp_path / "on-loop", "--config", str(config))
    try:
        request = tuning_request("pool-vs-loop", parallel=1, jobs=8)
        request["HyperParameterTuningJobConfig"]["RandomSeed"] = 11
        for sim in (pooled, on_loop):
            sim.sm.create_hyper_parameter_tuning_job(**request)
        ended = [sim.wait_tuning("pool-vs-loop", timeout=120) for sim in (pooled, on_loop)]
        assert [d["HyperParameterTuningJobStatus"] for d in ended] == ["Completed"] * 2
        assert pooled.health()["suggestion_workers"]["pool"] is True
        assert pooled.health()["suggestion_workers"]["pids"]
        assert on_loop.health()["suggestion_workers"] == {"pool": False}
        served = configurations(pooled, "pool-vs-loop")
        assert len(served) == 8
        assert served == configurations(on_loop, "pool-vs-loop")
    finally:
        on_loop.process.stop()


def test_a_killed_worker_is_replaced_and_the_tuning_job_completes(pooled: SimServer):
    request = tuning_request("kill-worker", parallel=3, jobs=24)
    pooled.sm.create_hyper_parameter_tuning_job(**request)
    pids = wait_for(
        lambda: pooled.health()["suggestion_workers"],
        lambda h: bool(h["pids"]),
        timeout=60,
        interval=0.05,
    )["pids"]
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    described = pooled.wait_tuning("kill-worker", timeout=180)
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    children = pooled.children("kill-worker")
    assert len(children) == 24  # each answer applied once: no job beyond the limit
    numbers = [s["TrainingJobName"].rsplit("-", 2)[1] for s in children]
    assert numbers == [f"{n:03d}" for n in range(1, 25)]
    assert pooled.health()["suggestion_workers"]["replaced"] >= 1
