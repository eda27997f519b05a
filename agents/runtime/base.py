"""The runtime seam: how a prepared training job becomes a running program.

The runner prepares the job directory and the environment; a runtime decides where the program
sees that directory (`container_dir`) and runs it to an `Outcome`. `process` runs a local
process group, `container` a container of the job's image (agents/runtime/container.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from emulator.clock import Clock

LineSink = Callable[[str], Awaitable[None]]
"""Receives each output line of the program, in order."""

StopSignal = Callable[[], Coroutine[Any, Any, str]]
"""Returns (with the reason) when the job must stop."""

MAX_RUNTIME = "max_runtime"
"""The stop reason a runtime reports when MaxRuntimeInSeconds ran out."""


@dataclass(frozen=True)
class Launch:
    """Everything needed to start the program, in the runtime's view of paths."""

    argv: Sequence[str]
    env: dict[str, str]
    cwd: str
    """Working directory as the program sees it (under `container_dir` or a real path)."""
    host_dir: Path
    """The job directory on this machine (the program's /opt/ml)."""


@dataclass(frozen=True)
class Outcome:
    exit_code: int | None
    stopped: str | None = None
    """Why the program was stopped (a stop reason, or MAX_RUNTIME); None if it exited alone."""


class Runtime(Protocol):
    async def container_dir(self, host_dir: Path) -> Path:
        """Where the program will see `host_dir`: `/opt/ml`, or `host_dir` itself."""
        ...

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
        """Run to the end, or until `stop()` returns or `max_runtime` passes (then
        SIGTERM, `grace` seconds, SIGKILL). Nothing the program started may survive."""
        ...
