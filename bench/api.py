"""API latency and throughput: our server against moto_server and a trivial aiohttp floor.

Three targets answer the same AWS JSON 1.1 requests on loopback:
  ours     `amt serve` on a store holding 100 finished tuning jobs and their 2,000 training jobs
  moto     `moto_server`, seeded through boto3 (its jobs are born finished)
  trivial  an aiohttp app answering every POST with a fixed small JSON body: the floor any
           Python emulator built on aiohttp can reach, since it does no work at all
Each (operation, client) cell runs for a fixed duration after a warm-up: raw HTTP from an
aiohttp client at concurrency 1 and 8, and boto3 (sequential, one client), which is what users
feel. Server CPU per request is read from /proc, so it stays meaningful even where the load
generator and the servers compete for the same few cores.

    python bench/api.py            # full run (about 2 minutes)
    python bench/api.py --quick    # short cells, a smoke test of the whole pipeline
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `emulator`, `bench`, `tests` importable
    sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import AsyncExitStack, ExitStack, contextmanager  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

from bench.populate import Population, populate_moto, populate_store  # noqa: E402
from emulator.clock import Clock, SystemClock  # noqa: E402
from emulator.store.sqlite import Store  # noqa: E402
from emulator.testing import ServerProcess, free_port  # noqa: E402

JSON_11 = "application/x-amz-json-1.1"
TRIVIAL_BODY = b'{"ok":true}'
TRIVIAL_READY = "trivial server listening"
AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/sagemaker/aws4_request, "
    "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" + "0" * 64
)
OPERATIONS = (
    "DescribeHyperParameterTuningJob",
    "DescribeTrainingJob",
    "ListHyperParameterTuningJobs",
)
SHORT = {
    "DescribeHyperParameterTuningJob": "DescribeTuningJob",
    "DescribeTrainingJob": "DescribeTrainingJob",
    "ListHyperParameterTuningJobs": "ListTuningJobs",
}
BOTO3_METHOD = {
    "DescribeHyperParameterTuningJob": "describe_hyper_parameter_tuning_job",
    "DescribeTrainingJob": "describe_training_job",
    "ListHyperParameterTuningJobs": "list_hyper_parameter_tuning_jobs",
}
CONCURRENCY = (1, 8)
SATURATED = 8
"""The concurrency the targets are judged at."""
TARGETS = ("ours", "moto", "trivial")
GOAL_VS_MOTO = 10.0
GOAL_VS_TRIVIAL = 0.25
GOAL_P99_MS = 5.0


# ---- what is measured -------------------------------------------------------------------
@dataclass
class Plan:
    """Durations of one run and the size of the seeded data."""

    cell_seconds: float
    boto3_seconds: float
    warmup_seconds: float
    tuning_jobs: int = 100
    children: int = 20
    moto_tuning_jobs: int = 100
    moto_training_jobs: int = 200


FULL = Plan(cell_seconds=3.0, boto3_seconds=2.0, warmup_seconds=0.5)
QUICK = Plan(cell_seconds=0.5, boto3_seconds=0.4, warmup_seconds=0.2)


@dataclass
class Target:
    """A running server to measure, with the job names it holds."""

    name: str
    endpoint: str
    population: Population
    pid: int | None = None


@dataclass
class Cell:
    """The latencies of one (target, operation, client) run."""

    target: str
    operation: str
    client: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cpu_seconds: float | None = None

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile_ms(self, fraction: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000.0

    @property
    def cpu_us_per_request(self) -> float | None:
        if self.cpu_seconds is None or not self.latencies:
            return None
        return self.cpu_seconds / len(self.latencies) * 1e6


def request_params(operation: str, population: Population) -> list[dict[str, Any]]:
    """The requests a cell cycles through: every seeded job in turn, or one List page."""
    if operation == "DescribeHyperParameterTuningJob":
        return [{"HyperParameterTuningJobName": n} for n in population.tuning_jobs]
    if operation == "DescribeTrainingJob":
        return [{"TrainingJobName": n} for n in population.training_jobs]
    return [{"MaxResults": 10}]


def headers_for(operation: str) -> dict[str, str]:
    """Exactly what boto3 sends, with a SigV4-shaped Authorization nobody verifies."""
    return {
        "X-Amz-Target": f"SageMaker.{operation}",
        "Content-Type": JSON_11,
        "X-Amz-Date": "20240101T000000Z",
        "Authorization": AUTHORIZATION,
    }


def process_cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process (all its threads), from /proc; None elsewhere."""
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def measuring(cell: Cell, pid: int | None, clock: Clock) -> Iterator[None]:
    """Stamp a cell's wall time and the server's CPU time around the code that loads it."""
    cpu_before = process_cpu_seconds(pid)
    started = clock.monotonic()
    yield
    cell.seconds = clock.monotonic() - started
    cpu_after = process_cpu_seconds(pid)
    if cpu_before is not None and cpu_after is not None:
        cell.cpu_seconds = cpu_after - cpu_before


# ---- raw HTTP load ------------------------------------------------------------------------
async def http_load(
    session: aiohttp.ClientSession,
    target: Target,
    operation: str,
    concurrency: int,
    seconds: float,
    clock: Clock,
) -> Cell:
    """`concurrency` workers, each sending its next request as soon as the last one answered."""
    cell = Cell(target.name, operation, f"http c={concurrency}")
    bodies = itertools.cycle(
        [json.dumps(p).encode() for p in request_params(operation, target.population)]
    )
    headers = headers_for(operation)
    url = target.endpoint + "/"

    async def worker(deadline: float) -> None:
        while clock.monotonic() < deadline:
            body = next(bodies)
            sent = clock.monotonic()
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    payload = await response.read()
            except aiohttp.ClientError as error:
                cell.errors.append(f"{type(error).__name__}: {error}")
                continue
            if response.status != 200:
                cell.errors.append(f"{response.status} {payload[:200]!r}")
                continue
            cell.latencies.append(clock.monotonic() - sent)

    with measuring(cell, target.pid, clock):
        deadline = clock.monotonic() + seconds
        await asyncio.gather(*(worker(deadline) for _ in range(concurrency)))
    return cell


async def http_cells(targets: list[Target], plan: Plan, clock: Clock) -> list[Cell]:
    """Every raw-HTTP cell, the targets taking turns within each (operation, concurrency), so
    that a burst of load from elsewhere on the machine does not skew one target's numbers."""
    cells: list[Cell] = []
    async with AsyncExitStack() as stack:
        sessions = {
            t.name: await stack.enter_async_context(
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=max(CONCURRENCY)))
            )
            for t in targets
        }
        for operation in OPERATIONS:
            for target in targets:
                warm = await http_load(
                    sessions[target.name], target, operation, SATURATED, plan.warmup_seconds, clock
                )
                if warm.errors and not warm.latencies:
                    raise RuntimeError(f"{target.name} {operation} failed: {warm.errors[0]}")
            for concurrency in CONCURRENCY:
                for target in targets:
                    session = sessions[target.name]
                    cells.append(
                        await http_load(
                            session, target, operation, concurrency, plan.cell_seconds, clock
                        )
                    )
    return cells


# ---- boto3 --------------------------------------------------------------------------------
def boto3_client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "sagemaker",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


def boto3_load(target: Target, operation: str, seconds: float, clock: Clock) -> Cell:
    """One client calling as fast as it can, as a script polling a job does."""
    cell = Cell(target.name, operation, "boto3")
    client = boto3_client(target.endpoint)
    call: Callable[..., Any] = getattr(client, BOTO3_METHOD[operation])
    params = itertools.cycle(request_params(operation, target.population))
    for _ in range(20):  # warm-up: botocore loads its models on the first call
        call(**next(params))
    with measuring(cell, target.pid, clock):
        deadline = clock.monotonic() + seconds
        while clock.monotonic() < deadline:
            request = next(params)
            sent = clock.monotonic()
            call(**request)
            cell.latencies.append(clock.monotonic() - sent)
    return cell


def boto3_cells(targets: list[Target], plan: Plan, clock: Clock) -> list[Cell]:
    return [
        boto3_load(target, operation, plan.boto3_seconds, clock)
        for operation in OPERATIONS
        for target in targets
    ]


# ---- the targets --------------------------------------------------------------------------
def child_env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": str(ROOT) + (os.pathsep + path if path else "")}


def start_ours(stack: ExitStack, data_dir: Path, plan: Plan, clock: Clock) -> Target:
    """Seed a fresh store directly (fast), then serve it with `amt serve` in a child process."""
    store = Store(data_dir / "amt.sqlite3")
    try:
        population = populate_store(
            store, tuning_jobs=plan.tuning_jobs, children=plan.children, now=clock.now()
        )
    finally:
        store.close()
    server = ServerProcess(data_dir, env=child_env())
    stack.callback(server.stop, 15.0)
    stack.push(log_on_failure(server))
    server.start()
    assert server.proc is not None
    return Target("ours", server.endpoint, population, server.proc.pid)


def log_on_failure(server: ServerProcess) -> Callable[..., None]:
    """An exit callback showing the server's last output when the benchmark fails."""

    def show(exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is not None and not issubclass(exc_type, KeyboardInterrupt):
            tail = "\n".join(list(server.output)[-40:])
            print(f"--- last output of our server ---\n{tail}", file=sys.stderr)

    return show


def spawn(stack: ExitStack, command: list[str]) -> subprocess.Popen[bytes]:
    """A child process that is terminated (then killed) when the stack unwinds."""
    proc = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **child_env()},
    )

    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    stack.callback(stop)
    return proc


async def wait_listening(port: int, proc: subprocess.Popen[bytes], clock: Clock) -> None:
    """Until something accepts connections on the port (the child died: fail at once)."""
    deadline = clock.monotonic() + 60.0
    while clock.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await clock.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after 60 s")


def start_moto(stack: ExitStack, plan: Plan, clock: Clock) -> Target:
    port = free_port()
    proc = spawn(stack, [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)])
    asyncio.run(wait_listening(port, proc, clock))
    endpoint = f"http://127.0.0.1:{port}"
    population = populate_moto(
        boto3_client(endpoint),
        tuning_jobs=plan.moto_tuning_jobs,
        training_jobs=plan.moto_training_jobs,
    )
    return Target("moto", endpoint, population, proc.pid)


def start_trivial(stack: ExitStack, population: Population, clock: Clock) -> Target:
    port = free_port()
    proc = spawn(
        stack, [sys.executable, str(Path(__file__).resolve()), "--trivial-server", str(port)]
    )
    asyncio.run(wait_listening(port, proc, clock))
    return Target("trivial", f"http://127.0.0.1:{port}", population, proc.pid)


async def trivial_handler(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=TRIVIAL_BODY, content_type=JSON_11)


def run_trivial_server(port: int) -> None:
    """The floor: aiohttp doing nothing but reading the request and answering fixed JSON."""
    app = web.Application()
    app.router.add_post("/{tail:.*}", trivial_handler)
    web.run_app(
        app,
        host="127.0.0.1",
        port=port,
        access_log=None,
        print=lambda _banner: print(TRIVIAL_READY, flush=True),
    )


# ---- the report -----------------------------------------------------------------------------
Cells = dict[tuple[str, str, str], Cell]
CLIENTS = (*(f"http c={c}" for c in CONCURRENCY), "boto3")


def ratio(cells: Cells, cell: Cell, other: str) -> float:
    reference = cells.get((other, cell.operation, cell.client))
    if reference is None or not reference.throughput:
        return float("nan")
    return cell.throughput / reference.throughput


def cpu_ratio(cells: Cells, cell: Cell, other: str) -> float:
    """Throughput ratio if each server had a core to itself: the other's CPU/request over ours.

    Steadier than measured throughput when other processes load the machine."""
    reference = cells.get((other, cell.operation, cell.client))
    ours, theirs = cell.cpu_us_per_request, reference and reference.cpu_us_per_request
    return theirs / ours if ours and theirs else float("nan")


def format_table(cells: list[Cell]) -> str:
    """One row per cell, grouped by operation and client; ratios on our rows."""
    by_key = {(c.target, c.operation, c.client): c for c in cells}
    lines = [
        f"{'operation':<20} {'client':<9} {'target':<8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'req/s':>7} {'srv CPU':>8} {'ours/moto':>10} {'ours/trivial':>13}",
        f"{'(µs/req)':>72}",
    ]
    for operation in OPERATIONS:
        for client in CLIENTS:
            first = True
            for target in TARGETS:
                cell = by_key.get((target, operation, client))
                if cell is not None:
                    lines.append(format_row(by_key, cell, first))
                    first = False
        lines.append("")
    return "\n".join(lines)


def format_row(by_key: Cells, cell: Cell, first: bool) -> str:
    cpu = cell.cpu_us_per_request
    row = (
        f"{SHORT[cell.operation] if first else '':<20} {cell.client if first else '':<9} "
        f"{cell.target:<8} {cell.percentile_ms(0.5):>7.2f} {cell.percentile_ms(0.99):>7.2f} "
        f"{cell.throughput:>7.0f} {'' if cpu is None else f'{cpu:.0f}':>8}"
    )
    if cell.target == "ours":
        row += f" {ratio(by_key, cell, 'moto'):>9.1f}x {ratio(by_key, cell, 'trivial'):>13.2f}"
    if cell.errors:
        row += f"  ({len(cell.errors)} errors, first: {cell.errors[0]})"
    return row


def goals(cells: list[Cell]) -> list[tuple[str, bool]]:
    """The targets we hold ourselves to, judged per operation at concurrency 8 over raw HTTP."""
    by_key = {(c.target, c.operation, c.client): c for c in cells}
    client = f"http c={SATURATED}"
    verdicts: list[tuple[str, bool]] = []
    for operation in OPERATIONS:
        ours = by_key.get(("ours", operation, client))
        if ours is None:
            continue
        vs_moto = ratio(by_key, ours, "moto")
        vs_trivial = ratio(by_key, ours, "trivial")
        p99 = ours.percentile_ms(0.99)
        name = SHORT[operation]
        verdicts += [
            (
                f"{name}: throughput >= {GOAL_VS_MOTO:.0f}x moto ({vs_moto:.1f}x; "
                f"{cpu_ratio(by_key, ours, 'moto'):.1f}x by server CPU per request)",
                vs_moto >= GOAL_VS_MOTO,
            ),
            (
                f"{name}: throughput >= 1/4 of trivial ({vs_trivial:.2f}; "
                f"{cpu_ratio(by_key, ours, 'trivial'):.2f} by server CPU per request)",
                vs_trivial >= GOAL_VS_TRIVIAL,
            ),
            (
                f"{name}: p99 < {GOAL_P99_MS:.0f} ms at {SATURATED} concurrent ({p99:.2f} ms)",
                p99 < GOAL_P99_MS,
            ),
        ]
    return verdicts


def report(cells: list[Cell], targets: list[Target], plan: Plan, load_before: float) -> str:
    seeded = {t.name: t.population for t in targets}
    header = [
        f"Seeded: ours {len(seeded['ours'].tuning_jobs)} tuning jobs / "
        f"{len(seeded['ours'].training_jobs)} training jobs (Completed, with metrics); "
        f"moto {len(seeded['moto'].tuning_jobs)} tuning jobs / "
        f"{len(seeded['moto'].training_jobs)} training jobs.",
        f"Each cell: {plan.cell_seconds:g} s raw HTTP (aiohttp client), "
        f"{plan.boto3_seconds:g} s boto3 (sequential), after a warm-up.",
        f"Load average before the run: {load_before:.2f} (other busy processes skew every number).",
        f"Note: {os.cpu_count()} CPU cores shared by the load generator (one Python process) and "
        "the server; c=8 throughput is bounded by the client as well, for every target alike. "
        "'srv CPU' is the server's own CPU time per request.",
        "",
    ]
    checks = [f"  [{'PASS' if ok else 'FAIL'}] {text}" for text, ok in goals(cells)]
    return "\n".join([*header, format_table(cells), "Targets:", *checks])


def run(plan: Plan, clock: Clock) -> str:
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="amt-bench-") as tmp, ExitStack() as stack:
        ours = start_ours(stack, Path(tmp), plan, clock)
        moto = start_moto(stack, plan, clock)
        trivial = start_trivial(stack, ours.population, clock)
        targets = [ours, moto, trivial]
        cells = asyncio.run(http_cells(targets, plan, clock))
        cells += boto3_cells(targets, plan, clock)
        return report(cells, targets, plan, load_before)


def interrupt_on_signals() -> None:
    """Ctrl-C and SIGTERM both unwind `run`, so every child server is stopped.

    SIGINT is re-armed because a shell starts background jobs with it ignored; SIGTERM is
    turned into SIGINT, which `asyncio.run` already knows how to cancel cleanly.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda _signum, _frame: signal.raise_signal(signal.SIGINT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short cells (a smoke test)")
    parser.add_argument("--trivial-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.trivial_server:
        run_trivial_server(args.trivial_server)
        return 0
    interrupt_on_signals()
    try:
        print(run(QUICK if args.quick else FULL, SystemClock()))
    except KeyboardInterrupt:
        print("interrupted; servers stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
