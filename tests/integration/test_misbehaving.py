"""Training programs that misbehave (tests/programs/), run by a real `amt serve`: each job ends
in the right status with a clear FailureReason, nothing it started is left running, and the
server's memory stays bounded.

Every program prints `READY <pid> [<pid> ...]` (the processes it started) where it can, and the
tests read those pids back from the job's log to check `/proc` after the job has ended.
"""

from __future__ import annotations

import gzip
import io
import os
import signal
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agents.runtime.race import MAX_LINE
from tests.conftest import Server, start_server, wait_for
from tests.processes import running
from tests.requests import BUCKET, training_request

pytestmark = pytest.mark.slow

PROGRAMS = Path(__file__).resolve().parents[1] / "programs"
GRACE = 2.0
LOSS = [{"Name": "loss", "Regex": r"loss=(\S*)"}]
FLOOD_MB = 48
MODEL_MB = 200
IMAGES = {
    "ignore-sigterm": "ignore_sigterm.py",
    "fork-tree-exit": "fork_tree.py exit",
    "fork-tree-wait": "fork_tree.py wait",
    "fork-escape-exit": "fork_tree.py exit escape",
    "fork-escape-wait": "fork_tree.py wait escape",
    "flood": f"flood_stdout.py {FLOOD_MB}",
    "bad-metrics": "bad_metrics.py",
    "fill-model": f"fill_model.py {MODEL_MB}",
    "exit-3": "exit_early.py 3",
    "exit-0": "exit_early.py 0",
}


def image(name: str) -> str:
    return f"local/misbehaving-{name}:latest"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    args = ["--stop-grace", str(GRACE)]
    for name, command in IMAGES.items():
        program, *rest = command.split()
        args += ["--image", f"{image(name)}={sys.executable} {PROGRAMS / program} {' '.join(rest)}"]
    srv = start_server(tmp_path_factory.mktemp("misbehaving"), extra_args=args)
    yield srv
    srv.process.stop()


# --- helpers ----------------------------------------------------------------------------------


def run(server: Server, job: str, program: str, **overrides: Any) -> None:
    spec = {"TrainingImage": image(program), "MetricDefinitions": LOSS}
    server.sagemaker.create_training_job(
        **training_request(job, AlgorithmSpecification=spec, **overrides)
    )


def log_lines(server: Server, job: str) -> list[str]:
    path = server.process.data_dir / "logs" / f"{job}.log"
    return path.read_text(errors="replace").splitlines() if path.is_file() else []


def started_pids(server: Server, job: str, timeout: float = 60) -> list[int]:
    lines = wait_for(
        lambda: {"ready": [line for line in log_lines(server, job) if line.startswith("READY")]},
        lambda found: bool(found["ready"]),
        timeout,
    )["ready"]
    return [int(word) for word in lines[0].split()[1:] if word.isdigit()]


def assert_all_gone(pids: list[int], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while any(running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [pid for pid in pids if running(pid)] == [], "processes outlived their job"


def server_memory(server: Server) -> dict[str, int]:
    """The server's resident and peak resident memory, in KiB, from /proc."""
    assert server.process.proc is not None
    status = Path(f"/proc/{server.process.proc.pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {key: int(fields[key].split()[0]) for key in ("VmRSS", "VmHWM")}


def stored_points(server: Server, job: str) -> list[float]:
    rows = server.snapshot()["metric_points"]
    return [row[4] for row in sorted(rows) if row[0] == job]


# --- the programs -----------------------------------------------------------------------------


def test_a_program_ignoring_sigterm_is_killed_after_the_grace(server: Server) -> None:
    run(server, "ignores-term", "ignore-sigterm")
    (pid,) = started_pids(server, "ignores-term")
    stopped_at = time.monotonic()
    server.sagemaker.stop_training_job(TrainingJobName="ignores-term")
    job = server.wait_training("ignores-term", timeout=60)
    assert job["TrainingJobStatus"] == "Stopped"
    assert time.monotonic() - stopped_at >= GRACE
    assert_all_gone([pid])


@pytest.mark.parametrize(
    ("program", "status"),
    [
        ("fork-tree-exit", "Completed"),
        ("fork-tree-wait", "Stopped"),
        ("fork-escape-exit", "Completed"),
        ("fork-escape-wait", "Stopped"),
    ],
)
def test_no_descendant_outlives_its_job(server: Server, program: str, status: str) -> None:
    """Children, grandchildren and (`escape`) a child that left the process group are all gone
    after the program exits by itself and after a stop."""
    run(server, program, program)
    pids = started_pids(server, program)
    try:
        if status == "Stopped":
            server.sagemaker.stop_training_job(TrainingJobName=program)
        assert server.wait_training(program, timeout=20)["TrainingJobStatus"] == status
        assert_all_gone(pids)
    finally:
        for pid in pids:  # whatever the runtime left: let the job and the server end
            if running(pid):
                os.kill(pid, signal.SIGKILL)


def test_stdout_without_newlines_is_cut_into_capped_lines(server: Server) -> None:
    run(server, "floods", "flood")
    job = server.wait_training("floods", timeout=180)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    lines = log_lines(server, "floods")
    assert max(len(line) for line in lines) <= MAX_LINE
    assert sum(len(line) for line in lines if set(line) == {"x"}) == FLOOD_MB * 1024 * 1024
    assert lines[-1].startswith("DONE")


def test_a_flood_does_not_grow_the_server(server: Server) -> None:
    run(server, "floods-warm-up", "bad-metrics")  # first logs and metrics load their modules
    server.wait_training("floods-warm-up", timeout=60)
    before = server_memory(server)
    run(server, "floods-memory", "flood")
    job = server.wait_training("floods-memory", timeout=180)
    after = server_memory(server)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    grown_mib = (after["VmHWM"] - before["VmHWM"]) / 1024
    assert grown_mib < FLOOD_MB / 2, f"peak RSS grew {grown_mib:.0f} MiB for {FLOOD_MB} MiB"


def test_non_finite_metric_values_are_not_stored(server: Server) -> None:
    run(server, "bad-metrics", "bad-metrics")
    job = server.wait_training("bad-metrics", timeout=60)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert stored_points(server, "bad-metrics") == [0.5, 0.25]
    final = {m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList", [])}
    assert final.get("loss") == 0.25


def test_skipped_metric_values_are_named_in_the_job_log(server: Server) -> None:
    run(server, "bad-metrics-log", "bad-metrics")
    server.wait_training("bad-metrics-log", timeout=60)
    notes = [line for line in log_lines(server, "bad-metrics-log") if "not a finite" in line]
    assert len(notes) == 9, log_lines(server, "bad-metrics-log")


def test_a_huge_model_file_is_packed_and_uploaded(server: Server) -> None:
    before = server_memory(server)
    run(server, "fills-model", "fill-model")
    job = server.wait_training("fills-model", timeout=240)
    after = server_memory(server)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    key = "output/fills-model/output/model.tar.gz"
    assert job["ModelArtifacts"]["S3ModelArtifacts"] == f"s3://{BUCKET}/{key}"
    packed = server.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(packed))) as tar:
        sizes = {member.name.lstrip("./"): member.size for member in tar.getmembers()}
    assert sizes["huge.bin"] == MODEL_MB * 1024 * 1024
    assert sizes["weights.txt"] == 12
    grown_mib = (after["VmHWM"] - before["VmHWM"]) / 1024
    assert grown_mib < MODEL_MB / 4, f"peak RSS grew {grown_mib:.0f} MiB for a {MODEL_MB} MB file"


@pytest.mark.parametrize(("code", "status"), [(3, "Failed"), (0, "Completed")])
def test_a_program_that_exits_before_printing_anything(
    server: Server, code: int, status: str
) -> None:
    name = f"exits-{code}"
    run(server, name, f"exit-{code}")
    job = server.wait_training(name, timeout=60)
    assert job["TrainingJobStatus"] == status
    if status == "Failed":
        assert job["FailureReason"] == ("AlgorithmError: the training program failed, exit code 3.")
    else:
        assert "FailureReason" not in job
