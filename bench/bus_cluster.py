"""The systems bench/bus.py measures: `amt serve` with its in-process bus and local agent, or
`amt serve --bus mqtt://… --agents 0` with a separate `amt agent` process and a Mosquitto
broker of its own on a free loopback port.

Both are started exactly as a user starts them (child processes, real command lines), and both
map one image to bench/metric_program.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.clock import Clock
from emulator.testing import ServerProcess
from tests.broker import Broker

ROOT = Path(__file__).resolve().parents[1]
IMAGE = "bench/metric-program:latest"
PROGRAM = f"{sys.executable} {ROOT / 'bench' / 'metric_program.py'}"
BUCKET = "amt-bench-bus"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
AGENT_ID = "bench-agent"
STOP_GRACE = "2"
AGENT_SLOTS = 8


@dataclass
class Cluster:
    """A running control plane (and, over MQTT, its broker and agent) the bench can drive."""

    bus: str  # "in-process" | "mqtt"
    server: ServerProcess
    sagemaker: Any
    broker: Broker | None = None
    agent: subprocess.Popen[bytes] | None = None

    @property
    def database(self) -> Path:
        return self.server.data_dir / "amt.sqlite3"

    @property
    def server_pid(self) -> int:
        assert self.server.proc is not None
        return self.server.proc.pid


def child_env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": str(ROOT) + (os.pathsep + path if path else "")}


def start_server(stack: ExitStack, data_dir: Path, extra_args: list[str]) -> ServerProcess:
    server = ServerProcess(
        data_dir,
        images={IMAGE: PROGRAM},
        extra_args=["--stop-grace", STOP_GRACE, *extra_args],
        env=child_env(),
    )
    stack.callback(server.stop, 30.0)
    server.start()
    client = server.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return server


@contextmanager
def in_process_cluster(work: Path) -> Iterator[Cluster]:
    """`amt serve`: the embedded bus and one local agent (16 slots)."""
    with ExitStack() as stack:
        server = start_server(stack, work / "data", [])
        yield Cluster("in-process", server, server.client("sagemaker"))


@contextmanager
def mqtt_cluster(work: Path, clock: Clock) -> Iterator[Cluster]:
    """Mosquitto, `amt serve --bus … --agents 0` and one `amt agent --gpus none` process."""
    with ExitStack() as stack:
        broker = Broker(work / "broker")
        broker.start()
        stack.callback(broker.stop)
        server = start_server(stack, work / "data", ["--bus", broker.url, "--agents", "0"])
        agent = start_agent(stack, broker.url, server.endpoint, work / "agent", clock)
        yield Cluster("mqtt", server, server.client("sagemaker"), broker, agent)


def start_agent(
    stack: ExitStack, bus: str, endpoint: str, work: Path, clock: Clock
) -> subprocess.Popen[bytes]:
    """An `amt agent` process without GPUs (so GPU instance types wait instead of running)."""
    cmd = [sys.executable, "-m", "emulator.cli", "agent", "--bus", bus, "--endpoint", endpoint]
    cmd += ["--agent-id", AGENT_ID, "--gpus", "none", "--slots", str(AGENT_SLOTS)]
    cmd += ["--work-dir", str(work), "--stop-grace", STOP_GRACE, "--image", f"{IMAGE}={PROGRAM}"]
    cmd += ["--log-level", "WARNING"]
    work.mkdir(parents=True, exist_ok=True)
    log = work / "agent.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **child_env(), "PYTHONUNBUFFERED": "1"},
        )
    stack.callback(stop_process, proc)
    deadline = clock.monotonic() + 60.0
    while "amt agent " not in log.read_text():  # the banner: connected and announced
        try:  # waiting on the process both paces the loop and notices an early exit
            code: int | None = proc.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            code = None
        if code is not None or clock.monotonic() > deadline:
            raise RuntimeError(f"amt agent did not start (exit {code}):\n{log.read_text()}")
    return proc


def stop_process(proc: subprocess.Popen[Any], timeout: float = 30.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def training_request(
    name: str,
    hyperparameters: dict[str, str],
    metrics: list[dict[str, str]],
    *,
    instance_type: str = "ml.m5.large",
) -> dict[str, Any]:
    """A CreateTrainingJob request for the bench image."""
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": metrics,
        },
        "RoleArn": ROLE,
        "HyperParameters": hyperparameters,
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/output"},
        "ResourceConfig": {"InstanceType": instance_type, "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }
