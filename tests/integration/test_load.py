"""A bounded load test on loopback: 32 clients mixing Describe/List calls while 20 tuning jobs
run. No errors, nothing lost; the p99 latency is printed (benchmarks, not tests, judge speed)."""

from __future__ import annotations

import statistics
import threading
import time

import pytest

from tests.conftest import start_server
from tests.requests import tuning_request

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

CLIENTS = 32
TUNING_JOBS = 20
SECONDS = 15.0


def test_32_clients_while_20_tuning_jobs_run(tmp_path):
    server = start_server(tmp_path / "data", extra_args=["--slots", "8"])
    names = [f"load-{i}" for i in range(TUNING_JOBS)]
    try:
        for name in names:
            request = tuning_request(
                name,
                HyperParameterTuningJobConfig={
                    "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1}
                },
                TrainingJobDefinition={"StaticHyperParameters": {"epochs": "2"}},
            )
            server.sagemaker.create_hyper_parameter_tuning_job(**request)
        latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()
        deadline = time.monotonic() + SECONDS

        def client(index: int) -> None:
            sm = server.process.client("sagemaker")
            calls = [
                lambda: sm.describe_hyper_parameter_tuning_job(
                    HyperParameterTuningJobName=names[index % TUNING_JOBS]
                ),
                lambda: sm.list_hyper_parameter_tuning_jobs(MaxResults=50),
                lambda: sm.list_training_jobs_for_hyper_parameter_tuning_job(
                    HyperParameterTuningJobName=names[index % TUNING_JOBS]
                ),
                lambda: sm.list_training_jobs(MaxResults=20),
            ]
            n = 0
            while time.monotonic() < deadline:
                start = time.perf_counter()
                try:
                    calls[n % len(calls)]()
                except Exception as error:  # collected, asserted below
                    with lock:
                        errors.append(repr(error))
                with lock:
                    latencies.append(time.perf_counter() - start)
                n += 1

        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        latencies.sort()
        p99 = latencies[int(len(latencies) * 0.99)]
        print(
            f"\nload: {len(latencies)} calls from {CLIENTS} clients in {SECONDS:.0f}s, "
            f"p50 {statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, errors 0"
        )
        for name in names:
            desc = server.wait_tuning(name, timeout=300)
            assert desc["HyperParameterTuningJobStatus"] == "Completed"
            assert desc["TrainingJobStatusCounters"]["Completed"] == 2
            assert desc["ObjectiveStatusCounters"]["Succeeded"] == 2
    finally:
        server.process.stop()
