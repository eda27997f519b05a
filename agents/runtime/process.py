"""The `process` runtime: a training program as a local process group.

The program gets its own session (process group), so a stop reaches every process it forked:
SIGTERM to the group, a grace period, then SIGKILL. It also dies with the agent (Linux
PDEATHSIG), so a killed server leaves no training process behind. Where the OS allows (root on
Linux), it runs in a private mount namespace in which its job directory is `/opt/ml`.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.clock import Clock

MAX_LINE = 64 * 1024
CHUNK = 64 * 1024
MOUNT_SCRIPT = 'mkdir -p /opt/ml && mount --bind "$0" /opt/ml && cd "$1" && shift && exec "$@"'

LineSink = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class Outcome:
    exit_code: int | None
    stopped: str | None = None
    """Why the process was stopped (the stop reason, or "max_runtime"); None if it exited."""


@functools.cache
def mount_namespace_available() -> bool:
    """Whether `unshare --mount` works here (root on Linux, not forbidden by a sandbox)."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return False
    try:
        probe = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "true"],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


def in_mount_namespace(argv: Sequence[str], job_dir: Path, cwd: str) -> list[str]:
    """Wrap argv so it runs with `job_dir` bind-mounted at /opt/ml, starting in `cwd`."""
    prefix = ["unshare", "--mount", "--propagation", "private", "sh", "-c", MOUNT_SCRIPT]
    return [*prefix, str(job_dir), cwd, *argv]


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGKILL us if the agent process dies."""
    if sys.platform.startswith("linux"):
        with suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _pump(stream: asyncio.StreamReader, sink: LineSink) -> None:
    """Forward output line by line; a line longer than MAX_LINE is cut into pieces."""
    buffer = b""
    while chunk := await stream.read(CHUNK):
        buffer += chunk
        while True:
            newline = buffer.find(b"\n")
            if newline < 0 and len(buffer) < MAX_LINE:
                break
            cut = newline if 0 <= newline < MAX_LINE else MAX_LINE
            line, buffer = buffer[:cut], buffer[cut + 1 if cut == newline else cut :]
            await sink(line.decode("utf-8", "replace").rstrip("\r"))
    if buffer:
        await sink(buffer.decode("utf-8", "replace").rstrip("\r"))


async def run(
    argv: Sequence[str],
    *,
    env: dict[str, str],
    cwd: Path,
    on_line: LineSink,
    stop: Callable[[], Coroutine[Any, Any, str]],
    max_runtime: float,
    grace: float,
    clock: Clock,
) -> Outcome:
    """Run to the end, or until `stop()` returns a reason or `max_runtime` passes."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        env=env,
        cwd=str(cwd),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_die_with_parent,
        limit=MAX_LINE,
    )
    assert proc.stdout is not None
    pgid = proc.pid
    reader = asyncio.create_task(_pump(proc.stdout, on_line), name=f"pump-{pgid}")
    exited = asyncio.create_task(proc.wait(), name=f"wait-{pgid}")
    stopper = asyncio.create_task(stop(), name=f"stop-{pgid}")
    timer = asyncio.create_task(clock.sleep(max_runtime), name=f"timer-{pgid}")
    try:
        done, _ = await asyncio.wait({exited, stopper, timer}, return_when=asyncio.FIRST_COMPLETED)
        reason = None
        if exited not in done:
            reason = stopper.result() if stopper in done else "max_runtime"
            await _terminate(pgid, exited, grace, clock)
        _signal_group(pgid, signal.SIGKILL)
        await reader
        return Outcome(proc.returncode, reason)
    finally:
        for task in (stopper, timer, exited, reader):
            task.cancel()
        _signal_group(pgid, signal.SIGKILL)


async def _terminate(pgid: int, exited: asyncio.Task[int], grace: float, clock: Clock) -> None:
    """SIGTERM to the group; SIGKILL if it has not exited after `grace` seconds."""
    _signal_group(pgid, signal.SIGTERM)
    timer = asyncio.create_task(clock.sleep(grace))
    await asyncio.wait({exited, timer}, return_when=asyncio.FIRST_COMPLETED)
    timer.cancel()
    if not exited.done():
        _signal_group(pgid, signal.SIGKILL)
        await exited
