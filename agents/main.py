"""`amt agent`: an agent process on a host, taking training jobs from an MQTT broker.

Several agents may share a host: each needs its own `--work-dir` (a second agent on one work
directory is refused), and each gets a default id that is stable across its restarts but
differs per work directory (`<host>-<hash of the work dir>`). Without `--endpoint`, a job's
data comes from where the control plane says its S3 answers (sent with each assignment).
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import hashlib
import logging
import os
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from agents.agent import Agent, new_instance
from agents.resources import host_resources, parse_gpu_selection
from agents.runner import AgentContext
from agents.runtime.choice import add_runtime_arguments, engine_for
from agents.runtime.container import sweep
from emulator.bus.factory import MQTT_SCHEMES, open_bus
from emulator.clock import Clock, SystemClock
from emulator.domain.events import SILENT_SECONDS, AgentHeartbeat, agent_topic
from emulator.settings import Settings, load_config_file, parse_image_flag, with_config

log = logging.getLogger(__name__)

LOCK_FILE = ".amt-agent.lock"
PROBE_SECONDS = 1.0
"""How long to wait for the broker's retained heartbeat of our id (none: the id is free)."""
DUPLICATE_EXIT = 3
"""Exit status of an agent that found its id already online."""


def add_agent_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    agent = sub.add_parser("agent", help="run training jobs for a control plane over MQTT")
    agent.add_argument("--bus", required=True, metavar="URL", help="mqtt://host:port of the broker")
    agent.add_argument(
        "--endpoint",
        default=None,
        help="the emulator's URL for S3 (default: the one the control plane sends)",
    )
    agent.add_argument(
        "--agent-id", default=None, help="stable id (default: host name and a work-dir hash)"
    )
    agent.add_argument("--gpus", type=parse_gpu_selection, default="all", help="all|none|0,1")
    agent.add_argument("--accept-gpu-types", action="store_true", help="run GPU types on CPU")
    agent.add_argument("--slots", type=int, default=None, help="jobs at once (default: GPUs or 4)")
    add_runtime_arguments(agent)
    agent.add_argument("--work-dir", type=Path, default=Path.home() / ".amt-agent" / "jobs")
    agent.add_argument("--image", action="append", default=[], metavar="URI=COMMAND")
    agent.add_argument("--config", type=Path, help="TOML file with an [images] table")
    agent.add_argument("--region", default="us-east-1")
    agent.add_argument("--stop-grace", type=float, default=30.0)
    agent.add_argument("--log-level", default="INFO")


def agent_settings(args: argparse.Namespace) -> Settings:
    """The image mappings of this host (they belong to the host that runs the job)."""
    settings = with_config(Settings(), load_config_file(args.config)) if args.config else Settings()
    images = dict(settings.images)
    for flag in args.image:
        uri, command = parse_image_flag(flag)
        images[uri] = command
    return replace(settings, images=images)


def default_agent_id(hostname: str, work_dir: Path) -> str:
    """Stable across restarts, distinct per work directory: `<host>-<8 hex digits>`."""
    digest = hashlib.sha256(str(work_dir.absolute()).encode()).hexdigest()[:8]
    return f"{hostname}-{digest}"


@contextmanager
def work_dir_lock(work_dir: Path, agent_id: str) -> Iterator[None]:
    """Hold the work directory for this agent; SystemExit saying who holds it otherwise.
    An advisory lock (flock): the kernel drops it when the agent dies, however it dies."""
    work_dir.mkdir(parents=True, exist_ok=True)
    path = work_dir / LOCK_FILE
    handle = path.open("a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another agent"
            raise SystemExit(
                f"amt agent: work directory {work_dir} is in use by {holder}; give each "
                "agent on a host its own --work-dir"
            ) from None
        handle.truncate(0)
        handle.write(f"agent {agent_id} (pid {os.getpid()})\n")
        handle.flush()
        yield
    finally:
        handle.close()


async def online_twin(url: str, agent_id: str, clock: Clock) -> AgentHeartbeat | None:
    """The heartbeat of another process online under `agent_id`, read before we connect
    under that id (connecting would take its broker session and set the two fighting)."""
    if urlsplit(url).scheme not in MQTT_SCHEMES:
        return None
    from emulator.bus.mqtt import read_retained  # noqa: PLC0415 - aiomqtt is loaded only when a broker is used

    try:
        beat = await read_retained(url, agent_topic(agent_id, "heartbeat"), PROBE_SECONDS)
    except Exception as error:  # the broker is away: the bus retries, and says so
        log.warning("could not check whether agent id %r is in use: %s", agent_id, error)
        return None
    recent = isinstance(beat, AgentHeartbeat) and clock.now() - beat.ts < SILENT_SECONDS
    return beat if isinstance(beat, AgentHeartbeat) and beat.online and recent else None


async def until_any(*events: asyncio.Event) -> None:
    """Return once any of `events` is set."""
    async with asyncio.TaskGroup() as waiters:
        waits = [waiters.create_task(event.wait()) for event in events]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for wait in waits:
            wait.cancel()


async def run_agent(args: argparse.Namespace) -> int:
    hostname = socket.gethostname()
    work_dir = args.work_dir.expanduser().absolute()
    agent_id = args.agent_id or default_agent_id(hostname, work_dir)
    with work_dir_lock(work_dir, agent_id):
        twin = await online_twin(args.bus, agent_id, SystemClock())
        if twin is not None:
            log.error(
                "agent id %r is already online on host %s (another process); this one stops. "
                "Give each agent its own --agent-id or --work-dir.",
                agent_id,
                twin.host,
            )
            return DUPLICATE_EXIT
        return await _serve_jobs(args, hostname, work_dir, agent_id)


async def _serve_jobs(
    args: argparse.Namespace, hostname: str, work_dir: Path, agent_id: str
) -> int:
    runtime = args.runtime or "process"
    engine = await asyncio.to_thread(engine_for, runtime, args.container_cli)
    clock = SystemClock()
    if engine is not None:
        left = await sweep(engine, str(work_dir), clock)
        if left:
            log.warning("removed containers an earlier agent left running: %s", ", ".join(left))
    resources = host_resources(args.gpus)
    ctx = AgentContext(
        work_dir=work_dir,
        clock=clock,
        images=agent_settings(args).images,
        s3_endpoint_url=args.endpoint,
        region=args.region,
        stop_grace_seconds=args.stop_grace,
        num_cpus=resources.cpus,
        runtime_kind=runtime,
        engine=engine,
    )
    instance = new_instance()
    offline = AgentHeartbeat(ts=0.0, agent=agent_id, host=hostname, online=False, instance=instance)
    will = (agent_topic(agent_id, "heartbeat"), offline)
    async with open_bus(args.bus, client_id=f"amt-agent-{agent_id}", will=will, clock=clock) as bus:
        agent = Agent(
            agent_id,
            bus,
            ctx,
            slots=args.slots or max(len(resources.gpus), 4),
            host=hostname,
            gpus=tuple(resources.gpus),
            accept_gpu_types=args.accept_gpu_types,
            instance=instance,
        )
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with suppress(NotImplementedError):
                loop.add_signal_handler(sig, stopped.set)
        async with agent.running_context():
            gpus = ", ".join(f"{g.index}:{g.name}" for g in resources.gpus) or "none"
            where = " in containers" if engine else ""
            print(
                f"amt agent {agent_id} on {args.bus} (GPUs: {gpus}; slots: {agent.slots}; "
                f"work dir: {work_dir}; runtime: {runtime}{where})",
                flush=True,
            )
            await until_any(stopped, agent.duplicate)
        return DUPLICATE_EXIT if agent.duplicate.is_set() else 0
