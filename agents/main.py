"""`amt agent`: one agent process per host, taking training jobs from an MQTT broker."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
from contextlib import suppress
from pathlib import Path

from agents.agent import Agent
from agents.resources import host_resources, parse_gpu_selection
from agents.runner import AgentContext
from agents.runtime.docker import DockerRuntime
from emulator.bus.factory import open_bus
from emulator.clock import SystemClock
from emulator.domain.events import AgentHeartbeat, agent_topic
from emulator.settings import Settings, apply_config, load_config_file, parse_image_flag

log = logging.getLogger(__name__)


def add_agent_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    agent = sub.add_parser("agent", help="run training jobs for a control plane over MQTT")
    agent.add_argument("--bus", required=True, metavar="URL", help="mqtt://host:port of the broker")
    agent.add_argument(
        "--endpoint", default="http://127.0.0.1:8780", help="the emulator's URL (S3)"
    )
    agent.add_argument("--agent-id", default=None, help="stable id (default: the host name)")
    agent.add_argument("--gpus", type=parse_gpu_selection, default="all", help="all|none|0,1")
    agent.add_argument("--accept-gpu-types", action="store_true", help="run GPU types on CPU")
    agent.add_argument("--slots", type=int, default=None, help="jobs at once (default: GPUs or 4)")
    agent.add_argument("--runtime", choices=["process", "docker"], default="process")
    agent.add_argument("--work-dir", type=Path, default=Path.home() / ".amt-agent" / "jobs")
    agent.add_argument("--image", action="append", default=[], metavar="URI=COMMAND")
    agent.add_argument("--config", type=Path, help="TOML file with an [images] table")
    agent.add_argument("--region", default="us-east-1")
    agent.add_argument("--stop-grace", type=float, default=30.0)
    agent.add_argument("--log-level", default="INFO")


def agent_settings(args: argparse.Namespace) -> Settings:
    """The image mappings of this host (they belong to the host that runs the job)."""
    settings = Settings()
    if args.config:
        apply_config(settings, load_config_file(args.config))
    for flag in args.image:
        uri, command = parse_image_flag(flag)
        settings.images[uri] = command
    return settings


async def run_agent(args: argparse.Namespace) -> None:
    if args.runtime == "docker":
        reason = await asyncio.to_thread(DockerRuntime.check)
        if reason is not None:
            raise SystemExit(f"amt agent --runtime docker: {reason}")
    hostname = socket.gethostname()
    agent_id = args.agent_id or hostname
    resources = host_resources(args.gpus)
    clock = SystemClock()
    ctx = AgentContext(
        work_dir=args.work_dir.expanduser(),
        clock=clock,
        images=agent_settings(args).images,
        s3_endpoint_url=args.endpoint,
        region=args.region,
        stop_grace_seconds=args.stop_grace,
        num_cpus=resources.cpus,
        runtime_kind=args.runtime,
    )
    offline = AgentHeartbeat(ts=0.0, agent=agent_id, host=hostname, online=False)
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
        )
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with suppress(NotImplementedError):
                loop.add_signal_handler(sig, stopped.set)
        async with agent.running_context():
            gpus = ", ".join(f"{g.index}:{g.name}" for g in resources.gpus) or "none"
            print(
                f"amt agent {agent_id} on {args.bus} (GPUs: {gpus}; slots: {agent.slots})",
                flush=True,
            )
            await stopped.wait()
