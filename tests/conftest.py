"""Real wiring for tests: an `amt serve` process on a free port, boto3 clients over HTTP."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.testing import ServerProcess
from tests.requests import BUCKET, IMAGE

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_PROGRAM = ROOT / "fixtures" / "algorithms" / "sklearn_sgd.py"
IMAGES = {IMAGE: f"{sys.executable} {FIXTURE_PROGRAM}"}


class Server:
    """What a test sees: the endpoint, clients, and the store's state."""

    def __init__(self, process: ServerProcess) -> None:
        self.process = process
        self.endpoint = process.endpoint
        self.sagemaker = process.client("sagemaker")
        self.s3 = process.client("s3")

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        return self.process.snapshot()

    def wait_tuning(self, name: str, timeout: float = 180) -> dict[str, Any]:
        return wait_for(
            lambda: self.sagemaker.describe_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=name
            ),
            lambda d: d["HyperParameterTuningJobStatus"] in ("Completed", "Stopped", "Failed"),
            timeout,
        )

    def wait_training(self, name: str, timeout: float = 120) -> dict[str, Any]:
        return wait_for(
            lambda: self.sagemaker.describe_training_job(TrainingJobName=name),
            lambda d: d["TrainingJobStatus"] in ("Completed", "Stopped", "Failed"),
            timeout,
        )


def wait_for(
    fetch: Callable[[], dict[str, Any]],
    done: Callable[[dict[str, Any]], bool],
    timeout: float,
    interval: float = 0.2,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s; last value: {value}")
        time.sleep(interval)


def start_server(data_dir: Path, **kwargs: Any) -> Server:
    process = ServerProcess(data_dir, images=IMAGES, **kwargs).start()
    server = Server(process)
    server.s3.create_bucket(Bucket=BUCKET)
    return server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One emulator for the session (tests use unique job names)."""
    srv = start_server(tmp_path_factory.mktemp("amt-data"), extra_args=["--stop-grace", "3"])
    yield srv
    srv.process.stop()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[Server]:
    """An emulator of the test's own, for tests that kill or restart it."""
    srv = start_server(tmp_path / "amt-data", extra_args=["--stop-grace", "3"])
    yield srv
    srv.process.stop()


_counter = iter(range(1, 1_000_000))


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Job names unique within the session: `unique("tune")` -> `tune-<n>-<pid-ish>`."""
    stamp = format(int(time.time() * 1000) % 10**6, "x")
    return lambda prefix: f"{prefix}-{next(_counter)}-{stamp}"
