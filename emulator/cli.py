"""`amt`: the command line."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from aiohttp import web

from emulator.settings import (
    DEFAULT_PORT,
    Settings,
    apply_config,
    load_config_file,
    parse_image_flag,
)


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
    serve.add_argument("--log-level", default="WARNING")


def settings_from_args(args: argparse.Namespace) -> Settings:
    settings = Settings(host=args.host, port=args.port)
    if args.config:
        apply_config(settings, load_config_file(args.config))
    if args.data_dir:
        settings.data_dir = args.data_dir.expanduser()
    for flag in args.image:
        uri, command = parse_image_flag(flag)
        settings.images[uri] = command
    for name, attr in (
        ("region", "region"),
        ("account", "account"),
        ("stop_grace", "stop_grace_seconds"),
        ("agents", "agents"),
        ("slots", "agent_slots"),
    ):
        value = getattr(args, name)
        if value is not None:
            setattr(settings, attr, value)
    return settings


def serve(args: argparse.Namespace) -> int:
    from emulator.serve import build_app, endpoint_url

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="amt", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_parser(sub)
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            return serve(args)
    except ValueError as error:
        print(f"amt: {error}", file=sys.stderr)
        return 2
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
