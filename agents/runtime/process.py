"""The `process` runtime: a training program as a local process group.

The program gets its own session (process group), so a stop reaches every process it forked:
SIGTERM to the group, a grace period, then SIGKILL; the group is killed after a normal exit
too, so no stray descendant outlives its job. Where `setpriv` exists the program also gets
SIGKILL if the agent dies (Linux PDEATHSIG; set by a helper binary because `preexec_fn` is not
safe in a process with threads). Where the OS allows (root on Linux, `unshare` works), it runs
in a private mount namespace in which its job directory is bind-mounted at `/opt/ml` (the
mount point is created on the host if missing; it stays empty there).
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path

from agents.runtime.base import Launch, LineSink, Outcome, StopSignal
from agents.runtime.race import DRAIN_SECONDS, race
from emulator.clock import Clock

OPT_ML = Path("/opt/ml")
TOKEN_VARIABLE = "AMT_JOB_TOKEN"
"""Marks every process of one job, so those that leave its process group are found too."""
POLL_SECONDS = 0.02
PROC = Path("/proc")
MOUNT_SCRIPT = 'mkdir -p /opt/ml && mount --bind "$0" /opt/ml && cd "$1" && shift && exec "$@"'


@functools.cache
def mount_namespace_available() -> bool:
    """Whether a job can get its private /opt/ml here: root on Linux, and `unshare` plus the
    bind mount really work (a sandbox may forbid either). Probed once per process, by doing
    it; it forks, so call it from a worker thread."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return False
    with tempfile.TemporaryDirectory() as scratch:
        probe = ["test", "-d", str(OPT_ML)]
        try:
            result = subprocess.run(
                in_mount_namespace(probe, Path(scratch), "/"),
                capture_output=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return False
    return result.returncode == 0


def in_mount_namespace(argv: Sequence[str], host_dir: Path, cwd: str) -> list[str]:
    """Wrap argv so it runs with `host_dir` bind-mounted at /opt/ml, starting in `cwd`."""
    unshare = ["unshare", "--mount", "--propagation", "private"]
    return [*unshare, "sh", "-c", MOUNT_SCRIPT, str(host_dir), cwd, *argv]


def die_with_agent(argv: Sequence[str]) -> list[str]:
    """Prefix argv so the kernel kills the program if the agent process dies."""
    setpriv = shutil.which("setpriv") if sys.platform.startswith("linux") else None
    return [setpriv, "--pdeathsig", "KILL", *argv] if setpriv else list(argv)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def group_alive(pgid: int) -> bool:
    """Whether any process of group `pgid` still runs (zombies awaiting a reaper do not)."""
    if not PROC.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, _ppid, group = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if int(group) == pgid and state not in ("Z", "X"):
            return True
    return False


async def kill_group(pgid: int, clock: Clock, token: str | None = None) -> None:
    """SIGKILL the whole group — and, with a token, every process carrying it in its
    environment (a descendant that called setsid left the group) — and wait (at most
    DRAIN_SECONDS) until none of it runs: nothing may outlive the job."""
    for _ in range(int(DRAIN_SECONDS / POLL_SECONDS)):
        _signal_group(pgid, signal.SIGKILL)
        escaped = await asyncio.to_thread(carrying, token) if token else []
        for pid in escaped:
            with suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if not escaped and not await asyncio.to_thread(group_alive, pgid):
            return
        await clock.sleep(POLL_SECONDS)


def carrying(token: str) -> list[int]:
    """Live processes whose environment holds this job's token."""
    needle = f"{TOKEN_VARIABLE}={token}".encode()
    found = []
    for entry in PROC.iterdir() if PROC.is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state not in ("Z", "X"):
                    found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


async def reaped(proc: asyncio.subprocess.Process, clock: Clock) -> int:
    """The exit code once the program itself has exited, even while a child it left
    behind still holds its output pipe (`proc.wait()` would wait for the pipe too)."""
    while proc.returncode is None:
        await clock.sleep(POLL_SECONDS)
    return proc.returncode


class ProcessRuntime:
    """Runs the program as a local process group, in a private /opt/ml where possible."""

    def __init__(self, use_mount_namespace: bool | None = None) -> None:
        self._namespace = use_mount_namespace

    async def uses_namespace(self) -> bool:
        if self._namespace is None:
            self._namespace = await asyncio.to_thread(mount_namespace_available)
        return self._namespace

    async def container_dir(self, host_dir: Path) -> Path:
        return OPT_ML if await self.uses_namespace() else host_dir

    async def run(
        self,
        launch: Launch,
        *,
        on_line: LineSink,
        stop: StopSignal,
        max_runtime: float,
        grace: float,
        clock: Clock,
    ) -> Outcome:
        argv, cwd = list(launch.argv), launch.cwd
        if await self.uses_namespace():
            argv, cwd = in_mount_namespace(argv, launch.host_dir, cwd), str(launch.host_dir)
        token = uuid.uuid4().hex
        proc = await asyncio.create_subprocess_exec(
            *die_with_agent(argv),
            env={**launch.env, TOKEN_VARIABLE: token},
            cwd=cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        program = ProcessGroup(proc, token, clock)
        return await race(
            program, on_line=on_line, stop=stop, max_runtime=max_runtime, grace=grace, clock=clock
        )


class ProcessGroup:
    """A started program's process group, as the race drives it (`race.Running`): SIGTERM to
    the group, then SIGKILL; after its end, every process of the group or carrying the job's
    token is killed."""

    def __init__(self, proc: asyncio.subprocess.Process, token: str, clock: Clock) -> None:
        assert proc.stdout is not None
        self.proc, self.token, self.clock = proc, token, clock
        self.pgid = proc.pid
        self.name = str(self.pgid)
        self.output = proc.stdout

    async def exit_code(self) -> int:
        return await reaped(self.proc, self.clock)

    async def terminate(self, grace: float) -> float:
        _signal_group(self.pgid, signal.SIGTERM)
        return grace

    async def kill(self) -> None:
        _signal_group(self.pgid, signal.SIGKILL)

    async def sweep(self) -> None:
        await kill_group(self.pgid, self.clock, self.token)

    async def release(self) -> None:
        _signal_group(self.pgid, signal.SIGKILL)
