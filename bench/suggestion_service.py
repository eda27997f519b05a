"""The API while Bayesian tuning jobs run: suggestions on the event loop against the worker pool.

Issue 13's scale scenario, side by side in one run: `amt serve --simulate SET --time-scale
1000`, the example spec (Bayesian, Auto early stopping) with N jobs, P parallel, T tuning jobs
at once, created through boto3; while they run, one client calls
DescribeHyperParameterTuningJob as fast as it can. Each mode runs on a fresh server:

  loop   suggestion_workers = 0: every GP fit and acquisition search on the event loop
  pool   the default: a process pool beside the control plane computes them
  remote `--bus mqtt://... --remote-tuners` on a Mosquitto of its own, with one `amt tuner`
         process answering (the whole bus is MQTT then, the simulated agent's events too);
         `--kill-tuner-after S` SIGKILLs that worker after S seconds and starts another, as a
         supervisor would

Prints, per mode: the creates' total seconds, the wall seconds until every tuning job ended,
Describe latency p50 / p99 / max while they ran (one call every `--interval` seconds, as a
script polling its jobs does, each followed by a List call: List p99 / max), the effective
time scale, and pool/loop ratios; `ended`: training jobs ended (of tunings x jobs) when every
tuning job had ended or the `--limit` ran out.

Measured on the 2-core development machine, each line one run (other work ran beside it):
  1 x 500 jobs, load 2.9:   loop wall 71.5 s, Describe p50 392 ms, p99 2.05 s, max 2.5 s;
                            pool wall 52.1 s, Describe p50 7.6 ms, p99 329 ms, max 1.6 s
  1 x 500 jobs, load 7.2:   loop p50 720 ms, p99 3.1 s;  pool p50 12.6 ms, p99 905 ms
  20 x 500 jobs, 240 s:     creates 12.1 s -> 0.59 s; Describe p50 1.8 s -> 27 ms, p99 4.5 s
                            -> 1.4 s; no tuning job ended in either (scale 2.9 / 3.3): what the
                            loop still does (early stopping, every child decoded per update)
                            and the CPU the fits need are the limit, not the API.
  20 x 500 jobs, 600 s, pool only, load 1.8 (store-counted placements, clock without polling):
                            before 2,438 of 10,000 training jobs ended, Describe p50 68.7 ms,
                            p99 560 ms, scale 1.0; after 7,130 ended, p50 5.0 ms, p99 31.1 ms,
                            scale 1.8, creates 0.24 s; no tuning job had ended yet. The loop
                            now idles most of the time: held time waiting on the fits is the limit.
  the same, one worker -> one niced worker per core (2):  7,130 -> 8,235 ended, p99 28.6 ms;
                            `--slots 1000` with one worker: 7,504. Virtual time is held while
                            any request is out, so tuning jobs' fits rarely overlap: each job's
                            end asks for one suggestion (~60-100 ms at 200-450 observations).
  1 x 500 jobs, workers 1 / 2 alternating: wall 40.8 / 32.4 / 33.4 / 33.6 s, p99 17-22 ms.
  20 x 500 jobs, 600 s, remote (one `amt tuner`, SIGKILLed at 300 s and started again):
                            6,649 ended, Describe p50 3.1 ms, p99 28.7 ms, creates 0.25 s,
                            2 requests sent again after the 60 s timeout; with the worker's
                            last will and arrival announced: 6,890 ended, p50 3.6 ms, p99
                            31.0 ms, creates 0.27 s, 2 requests sent again at once.
  2 x 40 jobs, 5 parallel, remote, the worker killed at 3 s: wall 65.3 s -> 5.3 s (the same).
  20 x 500 jobs, 600 s, pool, two niced workers, quiet machine, in one session:
                            before 8,007 ended, Describe p50 3.6 ms, p99 25.0 ms, no tuning
                            job done; fewer acquisition candidates past 128 points alone
                            8,063; with the history in the order jobs ended (the kernel fit's
                            cache had missed 5-15 times per refit size) all 20 tuning jobs
                            Completed, 10,000 jobs, in 495 s, p50 4.5 ms, p99 26.2 ms,
                            creates 0.24 s. One 500-job tuning job: 32.3 s -> 23.2 s.
                            Again later, pool then remote in one run (load 1.2): pool all
                            Completed in 570 s, p99 32.7 ms, creates 0.42 s; remote (one `amt
                            tuner`, killed at 300 s and started again) 7,287 ended in 600 s
                            (6,890 before), p99 57.8 ms, 4 requests resent: one worker
                            computes one request at a time, half the pool's two.
  20 x 500 jobs, 600 s, `amt tuner` with a pool of its own (one process per core, 2 here),
  Describe and List timed:  remote, killed at 300 s: all 20 Completed in 589 s (p99 47.5 ms)
                            and, again, 573 s (Describe p99 42.6 ms, List p99 79.5 ms,
                            creates 0.31 s, 4 requests resent); pool: 564 s (Describe p99
                            32.8 ms, List p99 78.9 ms, creates 0.24 s); remote, not killed:
                            8,464 ended in 600 s (List p99 118 ms), then all in 633 s.
                            Pool, RandomSeed 1..20 (`--distinct-seeds`): 542 s, p99 27.5 ms.
  After events were encoded without `dataclasses.asdict` (9.8 -> 0.9 ms per 450-job request
  on the loop): remote, not killed, 603.6 s (Describe p99 33.3 ms, List p99 80.7 ms).
  After List paged from summaries made once per child write (a List of a 500-job tuning
  job's children: 21.4 -> 1.6 ms on the server) and the Bayesian strategy's exact savings:
  remote, not killed: 500.4 s (Describe p99 25.3 ms, List p99 33.6 ms, creates 0.26 s);
  remote, killed at 300 s: 531.9 s (p99 26.5 ms, List p99 36.3 ms, 6 requests resent);
  pool: 491.0 s (p99 28.7 ms, List p99 38.1 ms, creates 0.24 s). All 20 Completed each time.

    python bench/suggestion_service.py                    # 1 tuning job of 500 jobs, 50 parallel
    python bench/suggestion_service.py --jobs 100 --tunings 2 --limit 300
    python bench/suggestion_service.py --modes pool --tunings 20 --workers 1 --slots 1000
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `emulator`, `bench`, `tests` importable
    sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import urllib.request  # noqa: E402
from contextlib import ExitStack  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

from bench.api import boto3_client  # noqa: E402
from emulator.clock import Clock, SystemClock  # noqa: E402
from emulator.testing import ServerProcess  # noqa: E402
from tests.broker import Broker  # noqa: E402

SPEC = ROOT / "fixtures" / "specs" / "image-classification-early-stopping.json"
MODES = ("loop", "pool", "remote")
ENDED = ("Completed", "Failed", "Stopped")


@dataclass
class Result:
    mode: str
    creates_s: float = 0.0
    wall_s: float = 0.0
    latencies: list[float] = field(default_factory=list)
    """DescribeHyperParameterTuningJob's, in seconds."""
    list_latencies: list[float] = field(default_factory=list)
    """ListHyperParameterTuningJobs' and ListTrainingJobsForHyperParameterTuningJob's."""
    statuses: list[str] = field(default_factory=list)
    ended_jobs: int = 0
    """Training jobs of the tuning jobs that had ended when the run stopped."""
    effective_scale: float = 0.0
    resent: int = 0
    """Remote mode: requests sent again after no answer came within the timeout."""

    def quantile(self, q: float) -> float:
        """Of Describe's latencies."""
        return quantile(self.latencies, q)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def request(name: str, args: argparse.Namespace, index: int) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(SPEC.read_text())
    spec["HyperParameterTuningJobName"] = name
    limits = spec["HyperParameterTuningJobConfig"]["ResourceLimits"]
    limits["MaxNumberOfTrainingJobs"] = args.jobs
    limits["MaxParallelTrainingJobs"] = args.parallel
    spec["HyperParameterTuningJobConfig"]["RandomSeed"] = 1 + index if args.distinct_seeds else 1
    return spec


def health(endpoint: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{endpoint}/health", timeout=30) as response:
        return dict(json.load(response))


def run_mode(mode: str, args: argparse.Namespace, work: Path, clock: Clock) -> Result:
    config = work / f"{mode}.toml"
    lines = ["suggestion_workers = 0"] if mode == "loop" else []
    if mode == "pool" and args.workers is not None:
        lines.append(f"suggestion_workers = {args.workers}")
    if args.slots is not None:
        lines.append(f"agent_slots = {args.slots}")
    config.write_text("".join(f"{line}\n" for line in lines))
    extra = ["--simulate", args.set, "--time-scale", str(args.scale), "--config", str(config)]
    env = {"PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with ExitStack() as stack:
        if mode == "remote":
            broker = Broker(work / "broker")
            broker.start()
            stack.callback(broker.stop)
            extra += ["--bus", broker.url, "--remote-tuners"]
            tuners = Tuners(broker.url, env)
            stack.callback(tuners.stop)
            tuners.start()
            if args.kill_tuner_after:
                timer = threading.Timer(args.kill_tuner_after, tuners.replace)
                timer.start()
                stack.callback(timer.cancel)
        server = ServerProcess(work / mode, extra_args=extra, env=env).start()
        stack.callback(server.stop)
        return drive(mode, args, server, clock)


class Tuners:
    """The `amt tuner` worker of the remote mode; `replace` kills it (SIGKILL) and starts
    another."""

    def __init__(self, url: str, env: dict[str, str]) -> None:
        self.url, self.env = url, {**os.environ, **env}
        self.process: subprocess.Popen[bytes] | None = None
        self.killed = 0

    def start(self) -> None:
        command = [sys.executable, "-m", "emulator.cli", "tuner", "--bus", self.url]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def replace(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.killed += 1
        self.start()

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()


def drive(mode: str, args: argparse.Namespace, server: ServerProcess, clock: Clock) -> Result:
    """Create the tuning jobs, poll them while they run, count what ended."""
    result = Result(mode)
    client = boto3_client(server.endpoint)
    client.list_hyper_parameter_tuning_jobs()  # botocore loads its model once
    names = [f"bench-{mode}-{i}" for i in range(args.tunings)]
    began = clock.monotonic()
    for index, name in enumerate(names):
        client.create_hyper_parameter_tuning_job(**request(name, args, index))
    result.creates_s = clock.monotonic() - began
    done = threading.Event()
    poller = threading.Thread(
        target=poll, args=(server.endpoint, names, result, done, clock, args.interval)
    )
    poller.start()
    done.wait(args.limit)
    done.set()
    poller.join()
    result.wall_s = clock.monotonic() - began
    result.ended_jobs = sum(ended_training_jobs(client, name) for name in names)
    served = health(server.endpoint)
    result.effective_scale = float(served["simulation"]["effective_time_scale"])
    result.resent = int(served["suggestion_workers"].get("resent", 0))
    return result


def ended_training_jobs(client: Any, name: str) -> int:
    described = client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    counters = described["TrainingJobStatusCounters"]
    return int(sum(v for k, v in counters.items() if k != "InProgress"))


def poll(
    endpoint: str,
    names: list[str],
    result: Result,
    done: threading.Event,
    clock: Clock,
    interval: float,
) -> None:
    """Describe the tuning jobs in turn, each followed by a List call (the tuning jobs, or
    that tuning job's first 100 training jobs, alternately), timing each call, until all have
    ended."""
    client = boto3_client(endpoint)
    ended: dict[str, str] = {}
    calls = 0
    while not done.is_set() and len(ended) < len(names):
        for name in names:
            sent = clock.monotonic()
            described = client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
            result.latencies.append(clock.monotonic() - sent)
            status = described["HyperParameterTuningJobStatus"]
            if status in ENDED:
                ended[name] = status
            done.wait(interval)
            calls += 1
            sent = clock.monotonic()
            if calls % 2:
                client.list_hyper_parameter_tuning_jobs(MaxResults=100)
            else:
                client.list_training_jobs_for_hyper_parameter_tuning_job(
                    HyperParameterTuningJobName=name, MaxResults=100
                )
            result.list_latencies.append(clock.monotonic() - sent)
            done.wait(interval)
    result.statuses = [ended.get(n, "InProgress") for n in names]
    done.set()


def report(results: list[Result]) -> str:
    rows = [
        f"{'mode':5} {'creates s':>9} {'wall s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
        f"{'calls':>6} {'List p99':>8} {'max ms':>8} {'scale':>7} {'ended':>6}  statuses"
    ]
    for r in results:
        rows.append(
            f"{r.mode:5} {r.creates_s:9.2f} {r.wall_s:8.1f} {1000 * r.quantile(0.5):8.1f} "
            f"{1000 * r.quantile(0.99):8.1f} {1000 * max(r.latencies, default=0):8.1f} "
            f"{len(r.latencies):6d} {1000 * quantile(r.list_latencies, 0.99):8.1f} "
            f"{1000 * max(r.list_latencies, default=0):8.1f} "
            f"{r.effective_scale:7.1f} {r.ended_jobs:6d}  "
            f"{ {s: r.statuses.count(s) for s in set(r.statuses)} }"
            + (f"  resent {r.resent}" if r.mode == "remote" else "")
        )
    by = {r.mode: r for r in results}
    if {"loop", "pool"} <= set(by):
        loop, pool = by["loop"], by["pool"]
        rows.append(
            "pool/loop: "
            f"wall {pool.wall_s / loop.wall_s:.2f}, "
            f"Describe p50 {pool.quantile(0.5) / loop.quantile(0.5):.3f}, "
            f"p99 {pool.quantile(0.99) / loop.quantile(0.99):.3f}, "
            f"median {statistics.median(pool.latencies) * 1000:.1f} ms vs "
            f"{statistics.median(loop.latencies) * 1000:.1f} ms"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--parallel", type=int, default=50)
    parser.add_argument("--tunings", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1000.0)
    parser.add_argument("--set", default="image-classification-cpu")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between calls")
    parser.add_argument("--limit", type=float, default=600.0, help="wall seconds per mode")
    parser.add_argument("--workers", type=int, help="pool mode's workers (default: the server's)")
    parser.add_argument(
        "--slots", type=int, help="the simulated agent's slots (default: the server's)"
    )
    parser.add_argument(
        "--kill-tuner-after",
        type=float,
        metavar="S",
        help="remote mode: SIGKILL the amt tuner worker after S seconds and start another",
    )
    parser.add_argument(
        "--distinct-seeds",
        action="store_true",
        help="RandomSeed 1, 2, ... for the tuning jobs (default: all 1, the same request)",
    )
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    args = parser.parse_args(argv)
    clock = SystemClock()
    with tempfile.TemporaryDirectory(prefix="amt-suggest-bench-") as work:
        results = [run_mode(mode, args, Path(work), clock) for mode in args.modes]
    print(
        f"{args.tunings} tuning job(s) x {args.jobs} jobs, {args.parallel} parallel, "
        f"--time-scale {args.scale:g}, load before {os.getloadavg()[0]:.1f}"
    )
    print(report(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
