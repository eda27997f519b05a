"""The console's routes: its static files and the log tail its training job page shows.

The log tail reads `<data_dir>/logs/<job>.log`, the file the control plane appends a job's
lines to. The path is built only from the name the store holds for an existing job, after
checking it against SageMaker's own pattern for training job names, so a request can never
name a file outside the logs folder.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from pathlib import Path

from aiohttp import web

from emulator.context import CONTEXT

STATIC_DIR = Path(__file__).parent / "static"
JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
"""SageMaker's TrainingJobName pattern (botocore's service model), matched in full."""
DEFAULT_TAIL = 100
MAX_TAIL = 1000
TAIL_READ_BYTES = 256 * 1024
"""A tail reads at most this much from the end of the file: logs can be long."""


def add_routes(app: web.Application) -> None:
    """Register the console; call before the AWS catch-all route, which would answer first."""
    app.router.add_get("/console", _redirect)
    app.router.add_get("/console/", _index)
    app.router.add_static("/console/static/", STATIC_DIR, append_version=False)
    app.router.add_get("/_emulator/training-jobs/{name}/logs", log_tail)


async def _redirect(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/console/")


async def _index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


async def log_tail(request: web.Request) -> web.Response:
    """The last `tail` lines (default 100, at most 1000) of a training job's log."""
    context = request.app[CONTEXT]
    tail = _tail_count(request.query.get("tail"))
    row = context.store.get_training_job(request.match_info["name"])
    if tail is None:
        return _validation_error("tail must be a whole number of lines.")
    row = context.store.get_training_job(request.match_info["name"])
    if row is None or not JOB_NAME.fullmatch(str(row.doc.get("TrainingJobName", ""))):
        return _validation_error("Requested resource not found.")
    job = row.doc["TrainingJobName"]
    path = context.settings.data_dir / "logs" / f"{job}.log"
    lines = await asyncio.to_thread(read_tail, path, tail)
    return web.json_response({"TrainingJobName": job, "Lines": lines})


def _validation_error(message: str) -> web.Response:
    """Shaped as the AWS API's errors, which the console already knows how to show."""
    return web.json_response({"__type": "ValidationException", "message": message}, status=400)


def _tail_count(text: str | None) -> int | None:
    """The requested line count, capped at MAX_TAIL; None when it is not a whole number."""
    if text is None:
        return DEFAULT_TAIL
    try:
        value = int(text)
    except ValueError:
        return None
    return value if value >= 0 else None


def read_tail(path: Path, lines: int) -> list[str]:
    """The last `lines` lines of a text file (none when it does not exist yet)."""
    if lines == 0:
        return []
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, 2)
            start = max(0, size - TAIL_READ_BYTES)
            fh.seek(start)
            data = fh.read()
    except FileNotFoundError:
        return []
    text = data.decode("utf-8", errors="replace").splitlines()
    if start > 0 and text:
        text = text[1:]  # the first line was cut by the read window
    return list(deque(text, maxlen=min(lines, MAX_TAIL)))
