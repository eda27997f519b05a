"""Per-job overhead of a container against a local process, side by side in one run.

One `amt serve --runtime auto` runs the same one-line training program both ways, in
alternation: as a mapped local process, and in a container of the example base image
(`python -m fixtures.images.build`). For each job it reads, from the server, the time from the
CreateTrainingJob call to the first metric line (the agent stamps each line as it reads it)
and to Completed. The engine's bare `run --rm <image> true` is timed too, as the floor.

    python bench/container_overhead.py [--jobs 5]
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `emulator`, `bench`, `tests` importable
    sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from typing import Any  # noqa: E402

from agents.runtime.container import Engine, detect_engine  # noqa: E402
from emulator.domain.status import TERMINAL_TRAINING  # noqa: E402
from emulator.testing import ServerProcess  # noqa: E402
from fixtures.images.build import BASE  # noqa: E402

PROGRAM = "print('bench:loss=0.5', flush=True)"
PROCESS_IMAGE = "amt-bench/process:1"
BUCKET = "amt-bench"
ROLE = "arn:aws:iam::123456789012:role/bench"


def request(name: str, image: str, entrypoint: list[str] | None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "TrainingImage": image,
        "TrainingInputMode": "File",
        "MetricDefinitions": [{"Name": "loss", "Regex": r"bench:loss=([0-9.]+)"}],
    }
    if entrypoint:
        spec["ContainerEntrypoint"] = entrypoint
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": spec,
        "RoleArn": ROLE,
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def one_job(
    server: ServerProcess, sagemaker: Any, name: str, body: dict[str, Any]
) -> tuple[float, float]:
    """(seconds to the first metric line, seconds to Completed) of one job."""
    started = time.time()
    sagemaker.create_training_job(**body)
    while True:
        job = sagemaker.describe_training_job(TrainingJobName=name)
        if job["TrainingJobStatus"] in TERMINAL_TRAINING:
            break
        time.sleep(0.05)
    ended = time.time()
    if job["TrainingJobStatus"] != "Completed":
        raise SystemExit(f"{name}: {job['TrainingJobStatus']}: {job.get('FailureReason')}")
    url = f"{server.endpoint}/_emulator/training-jobs/{name}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        points = json.load(response)["Metrics"]["loss"]
    return points[0]["timestamp"] - started, ended - started


def bare_run(engine: Engine, rounds: int) -> list[float]:
    """The engine's own floor: `run --rm <image> true`, attached."""
    times = []
    for _ in range(rounds):
        started = time.monotonic()
        command = engine.cli("run", "--rm", "--network", "host", BASE, "true")
        subprocess.run(command, check=True, env=engine.environ(), capture_output=True)
        times.append(time.monotonic() - started)
    return times


def summary(label: str, values: list[float]) -> str:
    return (
        f"{label:<34} median {statistics.median(values):6.2f} s   "
        f"min {min(values):6.2f}   max {max(values):6.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=5, help="jobs of each kind")
    args = parser.parse_args()
    engine = detect_engine()
    with tempfile.TemporaryDirectory(prefix="amt-bench-") as data:
        server = ServerProcess(
            Path(data),
            images={PROCESS_IMAGE: f'{sys.executable} -c "{PROGRAM}"'},
            extra_args=["--runtime", "auto"],
        ).start()
        try:
            sagemaker, s3 = server.client("sagemaker"), server.client("s3")
            s3.create_bucket(Bucket=BUCKET)
            kinds = {
                "process": (PROCESS_IMAGE, None),
                "container": (BASE, ["python3", "-c", PROGRAM]),
            }
            first: dict[str, list[float]] = {k: [] for k in kinds}
            done: dict[str, list[float]] = {k: [] for k in kinds}
            one_job(server, sagemaker, "warm-up", request("warm-up", *kinds["container"]))
            for index in range(args.jobs):
                for kind, (image, entrypoint) in kinds.items():
                    name = f"{kind}-{index}"
                    metric, completed = one_job(
                        server, sagemaker, name, request(name, image, entrypoint)
                    )
                    first[kind].append(metric)
                    done[kind].append(completed)
        finally:
            server.stop()
    floor = bare_run(engine, args.jobs)
    print(f"engine: {' '.join(engine.command)} ({engine.kind}); {args.jobs} jobs of each kind")
    for kind in kinds:
        print(summary(f"{kind}: create -> first metric", first[kind]))
        print(summary(f"{kind}: create -> Completed", done[kind]))
    print(summary("engine floor: run --rm true", floor))
    extra = statistics.median(first["container"]) - statistics.median(first["process"])
    ratio = statistics.median(first["container"]) / statistics.median(first["process"])
    print(f"container overhead to the first metric: {extra:+.2f} s ({ratio:.2f}x the process)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
