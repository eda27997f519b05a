"""How a started training program ends, for every runtime: its own exit, a stop request or
MaxRuntimeInSeconds, whichever comes first.

While the program runs its output is forwarded line by line. When a stop or the timer wins,
the program is asked to end (SIGTERM, or the engine's stop), given its grace, then killed;
whatever way it ended, nothing of it may run on, and its output is drained (for a bounded
time: a descendant that escaped may hold the pipe). A runtime says only how to do each of
those to its kind of program (`Running`); the order and the outcome are decided here, once.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from agents.runtime.base import MAX_RUNTIME, LineSink, Outcome, StopSignal
from emulator.clock import Clock

MAX_LINE = 64 * 1024
CHUNK = 64 * 1024
DRAIN_SECONDS = 5.0
"""How long the output may take to reach its end once the program has ended."""


class Running(Protocol):
    """A started program, as `race` drives it to its end."""

    name: str
    """Names the race's tasks (a process group id, a container name)."""
    output: asyncio.StreamReader
    """The program's stdout and stderr, together."""

    async def exit_code(self) -> int:
        """Return the program's exit code once it has exited."""
        ...

    async def terminate(self, grace: float) -> float:
        """Ask the program to end (it may take `grace` seconds); how long to wait for its
        exit before `kill`."""
        ...

    async def kill(self) -> None:
        """End the program now: it did not end when asked."""
        ...

    async def sweep(self) -> None:
        """After the program's end, or a failure to follow it: make sure nothing of it
        still runs, and wait until nothing does."""
        ...

    async def release(self) -> None:
        """Last, however the race ended (cancelled too): end whatever is left at once."""
        ...


def split_lines(buffer: bytes, final: bool = False) -> tuple[list[bytes], bytes]:
    """Complete lines in `buffer` (a line longer than MAX_LINE is cut into pieces) and the
    unfinished rest; with `final`, the rest is a line too."""
    lines: list[bytes] = []
    while True:
        newline = buffer.find(b"\n", 0, MAX_LINE + 1)
        if 0 <= newline <= MAX_LINE:
            lines.append(buffer[:newline])
            buffer = buffer[newline + 1 :]
        elif len(buffer) >= MAX_LINE:
            lines.append(buffer[:MAX_LINE])
            buffer = buffer[MAX_LINE:]
        else:
            break
    if final and buffer:
        lines.append(buffer)
        buffer = b""
    return lines, buffer


async def pump(stream: asyncio.StreamReader, sink: LineSink) -> None:
    """Forward the program's output line by line until EOF."""
    rest = b""
    while True:
        chunk = await stream.read(CHUNK)
        lines, rest = split_lines(rest + chunk, final=not chunk)
        for line in lines:
            await sink(line.decode("utf-8", "replace").rstrip("\r"))
        if not chunk:
            return


async def within(task: asyncio.Future[Any], seconds: float, clock: Clock) -> bool:
    """Wait for `task` at most `seconds` of `clock` time; whether it finished."""
    timer: asyncio.Future[Any] = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
    return task.done()


async def first_end(
    ends: set[asyncio.Task[Any]], reader: asyncio.Task[None]
) -> set[asyncio.Task[Any]]:
    """Wait for the first of `ends`; if forwarding output fails meanwhile, raise that (a
    program whose output nobody reads would block on its next write)."""
    watched = {*ends, reader}
    while True:
        done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        if reader in done:
            reader.result()
            watched.discard(reader)
        if done & ends:
            return done & ends


async def race(
    program: Running,
    *,
    on_line: LineSink,
    stop: StopSignal,
    max_runtime: float,
    grace: float,
    clock: Clock,
) -> Outcome:
    """Follow `program` to its end (see the module docstring): the `Runtime.run` contract.
    Its four tasks end before it returns; they are not a TaskGroup's because a failure to
    forward output must reach the runner as itself, not inside an exception group."""
    name = program.name
    reader = asyncio.create_task(pump(program.output, on_line), name=f"pump-{name}")
    exited = asyncio.create_task(program.exit_code(), name=f"wait-{name}")
    stopper = asyncio.create_task(stop(), name=f"stop-{name}")
    timer = asyncio.create_task(clock.sleep(max_runtime), name=f"timer-{name}")
    tasks = (stopper, timer, exited, reader)
    try:
        done = await first_end({exited, stopper, timer}, reader)
        reason = None
        if exited not in done:
            reason = stopper.result() if stopper in done else MAX_RUNTIME
            patience = await program.terminate(grace)
            if not await within(exited, patience, clock):
                await program.kill()
                await exited
        await program.sweep()
        if await within(reader, DRAIN_SECONDS, clock):
            reader.result()
        return Outcome(exited.result(), reason)
    except Exception:
        await program.sweep()
        raise
    finally:
        await program.release()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
