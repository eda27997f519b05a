"""Start-up: how long a user's test session waits for its first answer, and the memory it keeps.

Four systems, each started fresh in its own process as a user starts it, side by side:
  amt serve          `python -m emulator.cli serve` (embedded bus, one local agent)
  moto_server        `python -m moto.server`
  EmbeddedEmulator   a Python process: `with EmbeddedEmulator() as amt:` and a boto3 call
  mock_aws           a Python process: `with mock_aws():` and a boto3 call

Method:
  first answer   wall time from spawning the process to the first answered SageMaker call
                 (`ListTrainingJobs`). Servers: the bench sends a raw AWS JSON 1.1 request every
                 5 ms until one is answered (its own client is warm, so only the server's
                 start-up counts). In-process systems: the child process times itself from
                 interpreter start (`time.time()` against the bench's spawn stamp) to the end of
                 its first boto3 call, client creation included, as a test suite pays it.
  idle RSS       resident memory of the process 1 s after its first answer (/proc).
Rounds alternate between the systems, so load on the shared machine falls on all of them alike;
the medians are compared as ratios: amt serve / moto_server and EmbeddedEmulator / mock_aws.

    python bench/startup.py              # 5 rounds
    python bench/startup.py --rounds 3
    python bench/startup.py --baseline DIR   # also amt serve and EmbeddedEmulator from DIR,
                                             # another checkout (e.g. `git archive` of main)
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `emulator`, `bench`, `tests` importable
    sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import textwrap  # noqa: E402
import time  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

from bench.api import AUTHORIZATION, JSON_11  # noqa: E402
from emulator.testing import free_port  # noqa: E402

POLL_SECONDS = 0.005
IDLE_SECONDS = 1.0
LIMIT_SECONDS = 60.0
GOAL_SECONDS = 1.0
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}

EMBEDDED = """
    import time
    from emulator.embedded import EmbeddedEmulator
    with EmbeddedEmulator() as amt:
        amt.client("sagemaker").list_training_jobs()
        print(time.time(), flush=True)
        time.sleep(3600)
"""
MOCK_AWS = """
    import time
    import boto3
    from moto import mock_aws
    with mock_aws():
        boto3.client("sagemaker").list_training_jobs()
        print(time.time(), flush=True)
        time.sleep(3600)
"""


@dataclass
class Sample:
    seconds: float
    rss_mb: float


@dataclass
class System:
    name: str
    start: Callable[[Path], tuple[subprocess.Popen[str], Callable[[], float]]]
    """Spawns the system in a work directory; returns the process and a function that waits
    for the first answer and returns the wall time (time.time()) it came."""
    samples: list[Sample] = field(default_factory=list)

    def median_seconds(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    def median_rss(self) -> float:
        return statistics.median(s.rss_mb for s in self.samples)


def child_env(root: Path) -> dict[str, str]:
    """The environment of a system's process: the checkout `root` first on the path."""
    path = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        **CREDENTIALS,
        "PYTHONPATH": str(root) + (os.pathsep + path if path else ""),
        "PYTHONUNBUFFERED": "1",
    }


def answered(port: int) -> bool:
    """One SageMaker call on loopback; True once a server answers it with HTTP 200."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/",
        data=b"{}",
        headers={
            "Content-Type": JSON_11,
            "X-Amz-Target": "SageMaker.ListTrainingJobs",
            "Authorization": AUTHORIZATION,
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=LIMIT_SECONDS) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError):
        return False


def server_system(name: str, argv: Callable[[int, Path], list[str]], root: Path = ROOT) -> System:
    """A server process polled over HTTP until its first answer."""

    def start(work: Path) -> tuple[subprocess.Popen[str], Callable[[], float]]:
        port = free_port()
        proc = subprocess.Popen(
            argv(port, work),
            cwd=work,  # not the bench's directory: `python -m` puts the cwd first on the path
            env=child_env(root),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )

        def first_answer() -> float:
            deadline = time.monotonic() + LIMIT_SECONDS
            while not answered(port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not answer (exit {proc.poll()})")
                time.sleep(POLL_SECONDS)
            return time.time()

        return proc, first_answer

    return System(name, start)


def script_system(name: str, script: str, root: Path = ROOT) -> System:
    """A Python process that prints the wall time of its first answered boto3 call."""

    def start(work: Path) -> tuple[subprocess.Popen[str], Callable[[], float]]:
        proc = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(script)],
            cwd=work,
            env=child_env(root),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

        def first_answer() -> float:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"{name} exited before answering (exit {proc.wait()})")
            return float(line)

        return proc, first_answer

    return System(name, start)


def rss_mb(pid: int) -> float:
    """Resident set size of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def measure(system: System, work: Path) -> Sample:
    spawned = time.time()
    proc, first_answer = system.start(work)
    try:
        seconds = first_answer() - spawned
        time.sleep(IDLE_SECONDS)
        return Sample(seconds, rss_mb(proc.pid))
    finally:
        proc.kill()
        proc.wait(30)


def amt_serve(port: int, work: Path) -> list[str]:
    return [
        *(sys.executable, "-m", "emulator.cli", "serve"),
        *("--port", str(port), "--data-dir", str(work)),
    ]


def systems(baseline: Path | None) -> list[System]:
    compared = []
    if baseline is not None:
        compared = [
            server_system("amt serve (baseline)", amt_serve, baseline),
            script_system("Embedded (baseline)", EMBEDDED, baseline),
        ]
    return [
        *compared,
        server_system("amt serve", amt_serve),
        server_system(
            "moto_server",
            lambda port, _work: [sys.executable, "-m", "moto.server", "-p", str(port)],
        ),
        script_system("EmbeddedEmulator", EMBEDDED),
        script_system("mock_aws", MOCK_AWS),
    ]


def report(measured: list[System], rounds: int) -> str:
    by_name = {s.name: s for s in measured}
    lines = [
        f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.2f} at the end; "
        f"{rounds} rounds, systems alternating; medians.",
        "",
        f"{'system':<18} {'first answer s':>14} {'idle RSS MB':>12}  {'answers (s)':<40}",
    ]
    for system in measured:
        every = " ".join(f"{s.seconds:.2f}" for s in system.samples)
        lines.append(
            f"{system.name:<18} {system.median_seconds():>14.3f} {system.median_rss():>12.0f}  "
            f"{every}"
        )
    lines.append("")
    pairs = [("amt serve", "moto_server"), ("EmbeddedEmulator", "mock_aws")]
    if "amt serve (baseline)" in by_name:
        pairs += [
            ("amt serve (baseline)", "moto_server"),
            ("Embedded (baseline)", "mock_aws"),
            ("amt serve", "amt serve (baseline)"),
            ("EmbeddedEmulator", "Embedded (baseline)"),
        ]
    for ours, theirs in pairs:
        a, b = by_name[ours], by_name[theirs]
        lines.append(
            f"{ours} / {theirs}: first answer {a.median_seconds() / b.median_seconds():.2f}x, "
            f"idle RSS {a.median_rss() / b.median_rss():.2f}x"
        )
    lines += ["", "Targets:"]
    for ours in ("amt serve", "EmbeddedEmulator"):
        seconds = by_name[ours].median_seconds()
        verdict = "PASS" if seconds < GOAL_SECONDS else "FAIL"
        lines.append(f"  [{verdict}] {ours} answers its first call in < 1 s ({seconds:.3f} s)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--baseline", type=Path, default=None, help="another checkout to compare against"
    )
    args = parser.parse_args(argv)
    measured = systems(args.baseline)
    with tempfile.TemporaryDirectory(prefix="amt-bench-startup-") as tmp:
        for round_ in range(args.rounds):
            for index, system in enumerate(measured):
                work = Path(tmp) / f"{round_}-{index}"
                work.mkdir()
                system.samples.append(measure(system, work))
            print(f"  round {round_ + 1} of {args.rounds}", file=sys.stderr, flush=True)
    print(report(measured, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
