"""Bus latency and throughput: metric line → stored point, metric line → early-stop SIGTERM, and
the metric events per second the control plane absorbs, for the in-process bus and for MQTT.

Systems (bench/bus_cluster.py), each started fresh, as a user starts them:
  in-process  `amt serve` (embedded bus, one local agent)
  mqtt        Mosquitto on a free loopback port, `amt serve --bus mqtt://… --agents 0`, and one
              `amt agent --bus mqtt://… --gpus none` process

Method:
  store latency   bench/metric_program.py prints `step=N sent=T` at a steady pace; T is its wall
                  time at print, and the metric regex captures T as the point's value. The bench
                  polls the store (read-only SQLite, every ms) and, for each new point,
                  latency = bench wall time when the row is first seen - value.
                  Resolution ≈ the poll period (+ up to 1 ms).
  stop latency    A Grid tuning job with Auto early stopping over a categorical `quality` in
                  descending order, so every job after the third is worse than the median of its
                  elders and is stopped at the first epoch the rule may judge (≥ 2). The program
                  records, in its SIGTERM handler, when the signal arrived and the send time of
                  its last epoch line (the line that triggered the stop, as long as the latency
                  is under the epoch interval; the bench checks this).
  throughput      Points landing in the store per second (rows counted every 50 ms), over the
                  middle 80 % of the run (10 %→90 % of the final count), with the server's CPU
                  use over that window from /proc; `µs/event` = server CPU per stored point and
                  `per core` = 1e6 / that: the rate if the server had a core to itself (steady
                  even when other work loads the machine, which skews the measured rate).
                  - 8 flooding programs (in-process; mqtt: on the one `amt agent` process):
                    8 training jobs whose program prints ~1,500 metric lines as fast as the
                    pipe takes them; each line is a log and a metric event;
                  - mqtt 8 synthetic agents, live: 8 MQTT clients (one connection and client
                    id each, as 8 `amt agent`s: MqttBus, TrainingMetric, QoS 1), in 2 processes
                    (8 Python processes are too heavy for 2 cores), stream points for 8 training
                    jobs that wait for a GPU (so no agent runs them) while the control plane
                    ingests them;
                  - mqtt 8 synthetic agents, backlog: the same, with the control plane paused
                    (SIGSTOP) while the agents publish, then resumed (SIGCONT): its own ingest
                    rate, without the publishers competing for the CPU.

    python bench/bus.py            # full run (about 2-3 minutes)
    python bench/bus.py --quick    # a short run: a smoke test of the whole pipeline
    python bench/bus.py --profile  # also py-spy the control plane during the synthetic floods
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `emulator`, `bench`, `tests` importable
    sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sqlite3  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import AbstractContextManager, contextmanager, nullcontext  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

from bench.api import interrupt_on_signals, process_cpu_seconds  # noqa: E402
from bench.bus_cluster import (  # noqa: E402
    Cluster,
    in_process_cluster,
    mqtt_cluster,
    training_request,
)
from bench.bus_flood import METRIC  # noqa: E402
from bench.bus_profile import Profiler  # noqa: E402
from emulator.clock import Clock, SystemClock  # noqa: E402
from emulator.domain.status import TERMINAL_TUNING  # noqa: E402
from emulator.store.reader import (  # noqa: E402
    count_points_after,
    failed_with_reason,
    last_point,
    points_after,
    read_only,
)

SENT = {"Name": METRIC, "Regex": r"sent=([0-9.]+)"}
QUALITY = {"Name": "quality", "Regex": r"quality=([0-9.]+)"}
POLL_SECONDS = 0.001
COUNT_SECONDS = 0.05
FLOOD_STAGGER = 100  # lines more for each next flooding program
AGENTS = 8
GOAL_P99_MS = 50.0
GOAL_EVENTS_PER_S = 5000.0


@dataclass(frozen=True)
class Plan:
    """Sizes and durations of one run."""

    rate: float = 50.0  # metric lines per second of the paced program
    pace_seconds: float = 10.0
    grid: int = 16  # training jobs of the early-stopping tuning job (3 references + stopped)
    parallel: int = 4
    epochs: int = 5
    epoch_seconds: float = 0.25
    flood_lines: int = 1500  # each flooding program (and FLOOD_STAGGER more for each next)
    flood_events: int = 3000  # per synthetic agent
    flood_processes: int = 2  # the 8 synthetic agents are spread over this many processes


FULL = Plan()
QUICK = Plan(pace_seconds=2.0, grid=6, parallel=3, epochs=3, flood_lines=400, flood_events=1000)


@dataclass
class Latency:
    measure: str
    bus: str
    seconds: list[float] = field(default_factory=list)
    note: str = ""

    def percentile_ms(self, fraction: float) -> float:
        """Nearest-rank percentile, in milliseconds."""
        if not self.seconds:
            return float("nan")
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000.0


@dataclass
class Throughput:
    bus: str
    source: str
    events: int = 0
    per_second: float = float("nan")
    server_cpu: float = float("nan")  # cores used by the server process over the window
    note: str = ""

    @property
    def cpu_us_per_event(self) -> float:
        """Server CPU per stored point: steadier than the rate when other work loads the host."""
        return self.server_cpu / self.per_second * 1e6 if self.per_second > 0 else float("nan")

    @property
    def capacity(self) -> float:
        """Points per second the server would store with one core to itself."""
        us = self.cpu_us_per_event
        return 1e6 / us if us > 0 else float("nan")


# ---- watching the store ------------------------------------------------------------------------
async def watch_arrivals(
    db: sqlite3.Connection, job: str, expected: int, limit_s: float, clock: Clock
) -> list[float]:
    """Poll for `job`'s new points; each one's latency is (now when first seen - its value)."""
    latencies: list[float] = []
    after = last_point(db)
    deadline = clock.monotonic() + limit_s
    while len(latencies) < expected and clock.monotonic() < deadline:
        rows = points_after(db, after, job, METRIC)
        seen = clock.now()
        for rowid, value in rows:
            latencies.append(seen - value)
            after = max(after, rowid)
        await clock.sleep(POLL_SECONDS)
    return latencies


async def count_arrivals(
    db: sqlite3.Connection,
    after: int,
    expected: int,
    pid: int,
    limit_s: float,
    clock: Clock,
) -> list[tuple[float, int, float]]:
    """(monotonic time, points stored after row `after`, server CPU seconds), every 50 ms,
    until `expected` points landed, or `limit_s`."""
    samples: list[tuple[float, int, float]] = []
    deadline = clock.monotonic() + limit_s
    while clock.monotonic() < deadline:
        count = count_points_after(db, after)
        samples.append((clock.monotonic(), count, process_cpu_seconds(pid) or 0.0))
        if samples[-1][1] >= expected:
            break
        await clock.sleep(COUNT_SECONDS)
    return samples


def steady_rate(
    samples: list[tuple[float, int, float]], low: float = 0.1, high: float = 0.9
) -> tuple[float, float]:
    """(points/s, server cores) between the samples where the count passed `low` and `high`
    of its final value: the start-up and the tail are left out."""
    if not samples or samples[-1][1] == 0:
        return float("nan"), float("nan")
    final = samples[-1][1]
    first = next(s for s in samples if s[1] >= low * final)
    last = next(s for s in samples if s[1] >= high * final)
    elapsed = last[0] - first[0]
    if elapsed <= 0:
        return float("nan"), float("nan")
    return (last[1] - first[1]) / elapsed, (last[2] - first[2]) / elapsed


# ---- 1. metric line -> stored point ------------------------------------------------------------
async def store_latency(cluster: Cluster, plan: Plan, clock: Clock) -> Latency:
    name = f"pace-{cluster.bus}"
    expected = int(plan.rate * plan.pace_seconds)
    hps = {"mode": "pace", "rate": str(plan.rate), "seconds": str(plan.pace_seconds)}
    with read_only(cluster.database) as db:
        cluster.sagemaker.create_training_job(**training_request(name, hps, [SENT]))
        seen = await watch_arrivals(db, name, expected, plan.pace_seconds + 60, clock)
    note = f"{plan.rate:g} lines/s for {plan.pace_seconds:g} s"
    if len(seen) < expected:
        note += f"; only {len(seen)} of {expected} points arrived"
    return Latency("line -> stored point", cluster.bus, seen, note)


# ---- 2. metric line -> early-stop SIGTERM ------------------------------------------------------
def early_stopping_request(name: str, plan: Plan, report_dir: Path) -> dict[str, Any]:
    """Grid over `quality` in descending order: each job is worse than every earlier one."""
    qualities = [f"{0.99 - 0.04 * i:.2f}" for i in range(plan.grid)]
    definition = training_request(
        name,
        {},
        [QUALITY],
    )
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Grid",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "quality"},
            "ResourceLimits": {
                "MaxNumberOfTrainingJobs": plan.grid,
                "MaxParallelTrainingJobs": plan.parallel,
            },
            "ParameterRanges": {
                "CategoricalParameterRanges": [{"Name": "quality", "Values": qualities}]
            },
            "TrainingJobEarlyStoppingType": "Auto",
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {
                "mode": "epochs",
                "epochs": str(plan.epochs),
                "epoch_seconds": str(plan.epoch_seconds),
                "report_dir": str(report_dir),
            },
            "AlgorithmSpecification": definition["AlgorithmSpecification"],
            "RoleArn": definition["RoleArn"],
            "OutputDataConfig": definition["OutputDataConfig"],
            "ResourceConfig": definition["ResourceConfig"],
            "StoppingCondition": definition["StoppingCondition"],
        },
    }


async def wait_tuning(cluster: Cluster, name: str, limit_s: float, clock: Clock) -> dict[str, Any]:
    deadline = clock.monotonic() + limit_s
    while True:
        desc: dict[str, Any] = cluster.sagemaker.describe_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name
        )
        if desc["HyperParameterTuningJobStatus"] in TERMINAL_TUNING:
            return desc
        if clock.monotonic() > deadline:
            raise TimeoutError(f"tuning job {name} still {desc['HyperParameterTuningJobStatus']}")
        await clock.sleep(0.25)


async def stop_latency(cluster: Cluster, plan: Plan, work: Path, clock: Clock) -> Latency:
    name = f"stop-{cluster.bus}"
    report_dir = work / f"sigterm-{cluster.bus}"
    report_dir.mkdir(parents=True)
    request = early_stopping_request(name, plan, report_dir)
    cluster.sagemaker.create_hyper_parameter_tuning_job(**request)
    desc = await wait_tuning(cluster, name, 120 + plan.grid * plan.epochs * 2, clock)
    reports = [json.loads(p.read_text()) for p in sorted(report_dir.glob("*.json"))]
    latencies = [r["sigterm"] - r["sent"] for r in reports if "sent" in r]
    stopped = desc["TrainingJobStatusCounters"]["Stopped"]
    note = f"{stopped} of {plan.grid} jobs early-stopped"
    if len(latencies) != stopped:
        note += f"; {len(latencies)} SIGTERM reports"
    late = [t for t in latencies if t >= plan.epoch_seconds]
    if late:
        note += f"; {len(late)} over the epoch interval (trigger line uncertain)"
    return Latency("line -> early-stop SIGTERM", cluster.bus, latencies, note)


# ---- 3. metric events per second ---------------------------------------------------------------
async def program_flood(cluster: Cluster, plan: Plan, clock: Clock) -> Throughput:
    """8 training jobs whose programs print their metric lines as fast as they can.

    Their line counts differ a little, so that they end apart: 6 or more jobs of the in-process
    agent uploading at once exhaust the server's default thread pool (see the report).
    """
    names = [f"flood-{cluster.bus}-{i}" for i in range(AGENTS)]
    lines = [plan.flood_lines + FLOOD_STAGGER * i for i in range(AGENTS)]
    with read_only(cluster.database) as db:
        after = last_point(db)
        for name, count in zip(names, lines, strict=True):
            hps = {"mode": "flood", "lines": str(count)}
            cluster.sagemaker.create_training_job(**training_request(name, hps, [SENT]))
        samples = await count_arrivals(db, after, sum(lines), cluster.server_pid, 180, clock)
        lost = lost_jobs(db, names)
    rate, cpu = steady_rate(samples)
    where = "in the server process" if cluster.bus == "in-process" else "in the agent process"
    note = f"1 log + 1 metric event per line; agent work {where}"
    if samples[-1][1] < sum(lines):
        note += f"; only {samples[-1][1]} of {sum(lines)} points stored"
    if lost:
        note += f"; {lost} of {AGENTS} jobs declared lost (agent 'stopped answering')"
    source = f"{AGENTS} flooding programs" + (" on 1 amt agent" if cluster.bus == "mqtt" else "")
    return Throughput(cluster.bus, source, samples[-1][1], rate, cpu, note)


def lost_jobs(db: sqlite3.Connection, names: list[str]) -> int:
    """Jobs the control plane failed because their agent looked gone."""
    return failed_with_reason(db, names, "stopped answering")


def pending_jobs(cluster: Cluster, prefix: str) -> list[str]:
    """Training jobs no agent here can take (a GPU type; the agent has none): they wait, and
    synthetic agents can report metrics for them."""
    names = [f"{prefix}-{i}" for i in range(AGENTS)]
    for name in names:
        request = training_request(name, {}, [SENT], instance_type="ml.p3.2xlarge")
        cluster.sagemaker.create_training_job(**request)
    return names


async def run_flooders(broker_url: str, jobs: list[str], plan: Plan) -> list[dict[str, float]]:
    """The synthetic agents, spread over `flood_processes` processes; their JSON results."""
    groups = [jobs[i :: plan.flood_processes] for i in range(plan.flood_processes)]
    procs = []
    for group in groups:
        args = [str(ROOT / "bench" / "bus_flood.py"), "--bus", broker_url]
        args += ["--events", str(plan.flood_events)]
        for job in group:
            args += ["--job", job]
        procs.append(
            await asyncio.create_subprocess_exec(
                sys.executable, *args, stdout=asyncio.subprocess.PIPE
            )
        )
    outputs = [await p.communicate() for p in procs]
    for proc in procs:
        if proc.returncode:
            raise RuntimeError(f"a flood publisher exited with {proc.returncode}")
    return [json.loads(out) for out, _ in outputs]


async def synthetic_flood(
    cluster: Cluster, plan: Plan, clock: Clock, *, paused: bool, profiler: Profiler | None
) -> Throughput:
    """8 synthetic agents over MQTT; `paused`: the control plane sleeps while they publish."""
    assert cluster.broker is not None
    mode = "backlog" if paused else "live"
    jobs = pending_jobs(cluster, mode)
    expected = AGENTS * plan.flood_events
    pid = cluster.server_pid
    profiling = profiler.sampling(pid, f"MQTT {mode}") if profiler else nullcontext()
    with read_only(cluster.database) as db:
        after = last_point(db)
        if paused:
            os.kill(pid, signal.SIGSTOP)
            try:
                published = await run_flooders(cluster.broker.url, jobs, plan)
            finally:
                os.kill(pid, signal.SIGCONT)
            with profiling:
                samples = await count_arrivals(db, after, expected, pid, 120, clock)
        else:
            with profiling:
                counter = asyncio.ensure_future(
                    count_arrivals(db, after, expected, pid, 120, clock)
                )
                published = await run_flooders(cluster.broker.url, jobs, plan)
                samples = await counter
    rate, cpu = steady_rate(samples)
    sent_rate = sum(p["events"] for p in published) / max(p["seconds"] for p in published)
    note = f"publishers' rate {sent_rate:.0f}/s"
    if paused:
        note = "publishers done before the control plane resumed"
    if samples[-1][1] < expected:
        note += f"; only {samples[-1][1]} of {expected} points stored"
    return Throughput(
        cluster.bus, f"{AGENTS} synthetic agents, {mode}", samples[-1][1], rate, cpu, note
    )


# ---- running it all ----------------------------------------------------------------------------
@dataclass
class Results:
    latencies: list[Latency] = field(default_factory=list)
    throughputs: list[Throughput] = field(default_factory=list)


async def measure(
    cluster: Cluster, plan: Plan, work: Path, clock: Clock, profiler: Profiler | None
) -> Results:
    results = Results()
    with stage(f"{cluster.bus}: line -> stored point", clock):
        results.latencies.append(await store_latency(cluster, plan, clock))
    with stage(f"{cluster.bus}: line -> early-stop SIGTERM", clock):
        results.latencies.append(await stop_latency(cluster, plan, work, clock))
    with stage(f"{cluster.bus}: flooding programs", clock):
        results.throughputs.append(await program_flood(cluster, plan, clock))
    if cluster.bus == "mqtt":
        for paused in (False, True):
            with stage(f"mqtt: synthetic agents, {'backlog' if paused else 'live'}", clock):
                flood = await synthetic_flood(
                    cluster, plan, clock, paused=paused, profiler=profiler
                )
            results.throughputs.append(flood)
    return results


@contextmanager
def stage(name: str, clock: Clock) -> Iterator[None]:
    """Progress on stderr, so that a long run shows where its time goes."""
    started = clock.monotonic()
    yield
    print(f"  {name}: {clock.monotonic() - started:.1f} s", file=sys.stderr, flush=True)


def run(plan: Plan, clock: Clock, profiler: Profiler | None) -> Results:
    results = Results()
    with tempfile.TemporaryDirectory(prefix="amt-bench-bus-") as tmp:
        systems: list[Callable[[Path], AbstractContextManager[Cluster]]] = [
            in_process_cluster,
            lambda work: mqtt_cluster(work, clock),
        ]
        for index, system in enumerate(systems):
            work = Path(tmp) / str(index)
            with stage(f"system {index + 1} of {len(systems)}", clock), system(work) as cluster:
                one = asyncio.run(measure(cluster, plan, work, clock, profiler))
            results.latencies += one.latencies
            results.throughputs += one.throughputs
    return results


# ---- the report --------------------------------------------------------------------------------
def format_table(results: Results) -> str:
    lines = [
        f"{'latency':<28} {'bus':<11} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  note",
    ]
    for lat in results.latencies:
        lines.append(
            f"{lat.measure:<28} {lat.bus:<11} {len(lat.seconds):>5} "
            f"{lat.percentile_ms(0.5):>8.2f} {lat.percentile_ms(0.99):>8.2f} "
            f"{lat.percentile_ms(1.0):>8.2f}  {lat.note}"
        )
    lines += [
        "",
        f"{'throughput':<36} {'bus':<11} {'points':>7} {'events/s':>9} {'srv cores':>9} "
        f"{'µs/event':>8} {'per core':>8}  note",
    ]
    for thr in results.throughputs:
        lines.append(
            f"{thr.source:<36} {thr.bus:<11} {thr.events:>7} {thr.per_second:>9.0f} "
            f"{thr.server_cpu:>9.2f} {thr.cpu_us_per_event:>8.0f} {thr.capacity:>8.0f}  {thr.note}"
        )
    return "\n".join(lines)


def goals(results: Results) -> list[tuple[str, bool]]:
    verdicts: list[tuple[str, bool]] = []
    for lat in results.latencies:
        if lat.bus == "mqtt" and lat.measure == "line -> stored point":
            p99 = lat.percentile_ms(0.99)
            verdicts.append((f"MQTT line -> stored point p99 < 50 ms ({p99:.1f} ms)", p99 < 50))
    for thr in results.throughputs:
        if thr.bus == "mqtt" and "synthetic" in thr.source:
            verdicts.append(
                (
                    f">= {GOAL_EVENTS_PER_S:.0f} metric events/s from {AGENTS} agents, "
                    f"{thr.source.split(', ')[-1]} ({thr.per_second:.0f}/s measured; "
                    f"{thr.capacity:.0f}/s per core by server CPU)",
                    thr.per_second >= GOAL_EVENTS_PER_S,
                )
            )
    return verdicts


def report(results: Results, load_before: float) -> str:
    header = [
        f"{os.cpu_count()} CPU cores, shared by the server, agents, programs, broker and bench; "
        f"load average before the run {load_before:.2f}.",
        "Latencies are wall-clock: the program stamps each line as it prints it; the bench "
        "stamps the stored point when its 1 ms poll first sees it, the program stamps SIGTERM "
        "in its handler.",
        "",
    ]
    checks = [f"  [{'PASS' if ok else 'FAIL'}] {text}" for text, ok in goals(results)]
    return "\n".join([*header, format_table(results), "", "Targets:", *checks])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (a smoke test)")
    parser.add_argument(
        "--profile", action="store_true", help="py-spy the control plane during the MQTT floods"
    )
    args = parser.parse_args(argv)
    interrupt_on_signals()
    clock = SystemClock()
    profiler = Profiler() if args.profile else None
    load_before = os.getloadavg()[0]
    try:
        results = run(QUICK if args.quick else FULL, clock, profiler)
    except KeyboardInterrupt:
        print("interrupted; servers stopped", file=sys.stderr)
        return 130
    print(report(results, load_before))
    if profiler is not None:
        print("\n" + profiler.report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
