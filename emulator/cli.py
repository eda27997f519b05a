"""`amt`: the command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web

from agents.main import add_agent_parser, run_agent
from agents.runtime.choice import RUNTIMES, add_runtime_arguments
from emulator.client import commands
from emulator.client.report import report
from emulator.client.session import Emulator
from emulator.serve import build_app, endpoint_url
from emulator.settings import (
    DEFAULT_PORT,
    DEFAULT_TIME_SCALE,
    PUBLIC_AGENT_KEY,
    SIMULATED_SLOTS,
    Settings,
    load_config_file,
    parse_image_flag,
    private_agent_key,
    with_config,
)
from emulator.simulator.cli import (
    EPOCH_SECONDS_HELP,
    REPLAY_HELP,
    REPLAYS,
    add_simulate_parser,
    positive_seconds,
    simulate,
)
from emulator.simulator.curves_cli import add_curves_parser, curves


def _serve_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="run the emulator (API, tuner and a local agent)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument("--data-dir", type=Path, default=None, help="default ~/.amt")
    serve.add_argument(
        "--image",
        action="append",
        default=[],
        metavar="URI=COMMAND",
        help="run training image URI (or glob) as the local COMMAND (repeatable)",
    )
    serve.add_argument("--config", type=Path, help="TOML file: settings and an [images] table")
    serve.add_argument("--region", default=None)
    serve.add_argument("--account", default=None)
    serve.add_argument(
        "--stop-grace", type=float, default=None, help="seconds between SIGTERM and SIGKILL"
    )
    serve.add_argument("--agents", type=int, default=None, help="in-process agents (default 1)")
    serve.add_argument("--slots", type=int, default=None, help="training jobs per local agent")
    serve.add_argument(
        "--auth", choices=["sigv4"], default=None, help="verify every request's SigV4 signature"
    )
    serve.add_argument(
        "--credentials", type=Path, default=None, help="INI file of access keys (for --auth)"
    )
    serve.add_argument(
        "--bus",
        default=None,
        metavar="URL",
        help="MQTT broker for remote agents (mqtt://host:port)",
    )
    serve.add_argument(
        "--suggestion-workers",
        type=int,
        default=None,
        metavar="N",
        help="processes computing Bayesian suggestions beside the API (default: sized to the "
        "machine; 0: on the API's event loop)",
    )
    serve.add_argument(
        "--remote-tuners",
        action="store_const",
        const=True,
        default=None,
        help="with --bus: `amt tuner` workers compute the suggestions, through the broker",
    )
    add_runtime_arguments(serve)
    serve.add_argument("--log-level", default="WARNING")
    simulated = serve.add_argument_group(
        "simulated time",
        "Training jobs replay a recorded curve set (see `amt simulate --list`) instead of "
        "running programs; every timestamp, timer and timeout of the server is virtual.",
    )
    simulated.add_argument(
        "--simulate", metavar="NAME", default=None, help="the recorded curve set to replay"
    )
    simulated.add_argument(
        "--time-scale",
        type=float,
        default=None,
        metavar="X",
        help=f"virtual seconds per wall second (default {DEFAULT_TIME_SCALE:g}: two hours in "
        "about 7 s); an overloaded server runs slower, never out of order",
    )
    simulated.add_argument(
        "--startup",
        type=float,
        default=None,
        metavar="SECONDS",
        help="per-job start-up overhead, as in `amt simulate`: ~120 cold SageMaker, ~20 warm "
        "pool, 0 local (default 0)",
    )
    simulated.add_argument(
        "--epoch-seconds",
        type=positive_seconds,
        default=None,
        metavar="SECONDS",
        help=f"as in `amt simulate`: {EPOCH_SECONDS_HELP}",
    )
    simulated.add_argument(
        "--replay", choices=REPLAYS, default=None, help=f"{REPLAY_HELP} (default nearest)"
    )


FLAG_SETTINGS = (
    ("region", "region"),
    ("account", "account"),
    ("stop_grace", "stop_grace_seconds"),
    ("agents", "agents"),
    ("slots", "agent_slots"),
    ("bus", "bus_url"),
    ("auth", "auth"),
    ("credentials", "credentials_file"),
    ("simulate", "simulate"),
    ("time_scale", "time_scale"),
    ("startup", "startup_seconds"),
    ("epoch_seconds", "epoch_seconds"),
    ("replay", "replay"),
    ("runtime", "runtime"),
    ("container_cli", "container_cli"),
    ("suggestion_workers", "suggestion_workers"),
    ("remote_tuners", "remote_tuners"),
)
"""`amt serve` flags that set the setting of the same meaning when given."""


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Defaults, then the config file, then the flags; built once, checked, never changed."""
    config = load_config_file(args.config) if args.config else {}
    settings = with_config(Settings(host=args.host, port=args.port), config)
    images = dict(settings.images)
    for flag in args.image:
        uri, command = parse_image_flag(flag)
        images[uri] = command
    changes: dict[str, Any] = {"images": images}
    if args.data_dir:
        changes["data_dir"] = args.data_dir.expanduser()
    for name, attr in FLAG_SETTINGS:
        value = getattr(args, name)
        if value is not None:
            changes[attr] = value
    settings = replace(settings, **changes)
    if settings.simulate and args.slots is None and "agent_slots" not in config:
        settings = replace(settings, agent_slots=SIMULATED_SLOTS)
    if settings.auth == "sigv4" and settings.agent_credentials == PUBLIC_AGENT_KEY:
        settings = replace(settings, agent_credentials=private_agent_key())
    settings.check_simulation()
    if settings.runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {settings.runtime!r}")
    if settings.auth and not settings.credentials_file:
        raise ValueError(
            "--auth sigv4 needs --credentials FILE (access keys, INI like ~/.aws/credentials)"
        )
    if settings.suggestion_workers is not None and settings.suggestion_workers < 0:
        raise ValueError(
            f"--suggestion-workers must be 0 or more, got {settings.suggestion_workers}"
        )
    if settings.remote_tuners and not settings.bus_url:
        raise ValueError("--remote-tuners needs a broker: --bus mqtt://...")
    return settings


def serve(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    app = build_app(settings)
    line = f"amt-emulator listening on {endpoint_url(settings)}"
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        print=lambda _banner: print(line, flush=True),
        access_log=None,
        auto_decompress=False,  # S3 objects uploaded gzip-encoded are stored byte for byte
        shutdown_timeout=max(5.0, settings.stop_grace_seconds + 5.0),
    )
    return 0


def _client_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    endpoint = f"http://127.0.0.1:{DEFAULT_PORT}"
    jobs = sub.add_parser("jobs", help="tuning jobs with their status and best objective")
    describe = sub.add_parser("describe", help="DescribeHyperParameterTuningJob, as JSON")
    watch = sub.add_parser("watch", help="follow a tuning job live until it ends")
    report = sub.add_parser("report", help="analytics table (CSV) and charts (PNG)")
    for command in (describe, watch, report):
        command.add_argument("name")
    watch.add_argument("--interval", type=float, default=2.0)
    report.add_argument("--out", type=Path, required=True)
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    for command in (jobs, describe, watch, report):
        command.add_argument("--endpoint", default=endpoint)
        command.add_argument(
            "--region", default=region, help="the region whose jobs to read (default: %(default)s)"
        )


def client_command(args: argparse.Namespace) -> int:
    emulator = Emulator(args.endpoint, args.region)
    if args.command == "jobs":
        return commands.jobs(emulator)
    if args.command == "describe":
        return commands.describe(emulator, args.name)
    if args.command == "watch":
        return commands.watch(emulator, args.name, interval=args.interval)
    for path in report(emulator, args.name, args.out):
        print(path)
    return 0


def agents_list(args: argparse.Namespace) -> int:
    """`amt agents`: one line per connected agent, from the server's /health."""
    with urllib.request.urlopen(f"{args.endpoint.rstrip('/')}/health", timeout=10) as response:
        health = json.load(response)
    for agent in health.get("agents", []):
        gpus = ",".join(str(g.get("index")) for g in agent["gpus"]) or "-"
        state = "online" if agent["online"] else "offline"
        duplicate = f"\tDUPLICATE: {agent['duplicate']}" if agent.get("duplicate") else ""
        print(
            f"{agent['agent']}\t{agent['host']}\tgpus={gpus}\t"
            f"free={agent['free_slots']}/{agent['slots']}\t{state}{duplicate}"
        )
    return 0


def agent(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    return asyncio.run(run_agent(args))


def positive_count(text: str) -> int:
    """An argparse type: a whole number above zero."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {text}")
    return value


def _tuner_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tuner = sub.add_parser("tuner", help="a worker computing suggestions for a control plane")
    tuner.add_argument("--bus", required=True, metavar="URL", help="the broker (mqtt://...)")
    tuner.add_argument("--id", default=None, help="broker client id (default amt-tuner-HOST-PID)")
    tuner.add_argument(
        "--processes",
        type=positive_count,
        default=None,
        metavar="N",
        help="requests computed at once, each in its own process (default: one per core, <= 4)",
    )
    tuner.add_argument("--log-level", default="WARNING")


def tuner(args: argparse.Namespace) -> int:
    """`amt tuner`: the strategies are loaded only by the command that runs them."""
    from emulator.suggest.worker import default_worker_id, run_worker  # noqa: PLC0415

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        asyncio.run(run_worker(args.bus, args.id or default_worker_id(), args.processes))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="amt", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_parser(sub)
    add_agent_parser(sub)
    listing = sub.add_parser("agents", help="list the agents connected to a server")
    listing.add_argument("--endpoint", default=f"http://127.0.0.1:{DEFAULT_PORT}")
    _client_parsers(sub)
    add_simulate_parser(sub)
    add_curves_parser(sub)
    _tuner_parser(sub)
    args = parser.parse_args(argv)
    commands = {
        "serve": serve,
        "agent": agent,
        "agents": agents_list,
        "jobs": client_command,
        "describe": client_command,
        "watch": client_command,
        "report": client_command,
        "simulate": simulate,
        "curves": curves,
        "tuner": tuner,
    }
    try:
        return commands[args.command](args)
    except ValueError as error:
        print(f"amt: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
