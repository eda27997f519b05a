"""The race both runtimes share: exit, stop or MaxRuntime, and what is done to the program."""

from __future__ import annotations

import asyncio

import pytest

from agents.runtime.base import MAX_RUNTIME, Outcome
from agents.runtime.race import race
from emulator.clock import SystemClock

CLOCK = SystemClock()
FOREVER = 3600.0


class FakeProgram:
    """A program that writes `lines`, then exits when told to (or when asked, if it obeys)."""

    name = "fake"

    def __init__(self, lines: list[str], *, obeys: bool = True, patience: float = 0.0) -> None:
        self.output = asyncio.StreamReader()
        self.output.feed_data("".join(f"{line}\n" for line in lines).encode())
        self.obeys, self.patience = obeys, patience
        self.calls: list[str] = []
        self._ended = asyncio.Event()
        self._code = 0

    def end(self, code: int) -> None:
        self._code = code
        self.output.feed_eof()
        self._ended.set()

    async def exit_code(self) -> int:
        await self._ended.wait()
        return self._code

    async def terminate(self, grace: float) -> float:
        self.calls.append(f"terminate {grace:g}")
        if self.obeys:
            self.end(-15)
        return self.patience

    async def kill(self) -> None:
        self.calls.append("kill")
        self.end(-9)

    async def sweep(self) -> None:
        self.calls.append("sweep")

    async def release(self) -> None:
        self.calls.append("release")


async def never() -> str:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def at_once() -> str:
    return "user"


async def run(
    program: FakeProgram, stop=never, max_runtime: float = FOREVER
) -> tuple[Outcome, list[str]]:
    seen: list[str] = []

    async def on_line(line: str) -> None:
        seen.append(line)

    outcome = await race(
        program, on_line=on_line, stop=stop, max_runtime=max_runtime, grace=3.0, clock=CLOCK
    )
    return outcome, seen


async def test_a_program_that_exits_alone_is_swept_and_its_output_drained() -> None:
    program = FakeProgram(["a", "b"])
    asyncio.get_running_loop().call_soon(program.end, 2)
    outcome, seen = await run(program)
    assert outcome == Outcome(2, None)
    assert seen == ["a", "b"]
    assert program.calls == ["sweep", "release"]


async def test_a_stop_terminates_with_the_grace_and_reports_its_reason() -> None:
    program = FakeProgram(["x"])
    outcome, seen = await run(program, stop=at_once)
    assert outcome == Outcome(-15, "user")
    assert seen == ["x"]
    assert program.calls == ["terminate 3", "sweep", "release"]


async def test_a_program_deaf_to_the_stop_is_killed_after_its_patience() -> None:
    program = FakeProgram([], obeys=False, patience=0.01)
    outcome, _seen = await run(program, stop=at_once)
    assert outcome == Outcome(-9, "user")
    assert program.calls == ["terminate 3", "kill", "sweep", "release"]


async def test_max_runtime_ends_the_program_as_max_runtime() -> None:
    program = FakeProgram([])
    outcome, _seen = await run(program, max_runtime=0.01)
    assert outcome == Outcome(-15, MAX_RUNTIME)


async def test_a_failure_to_forward_output_is_raised_as_itself_and_the_program_swept() -> None:
    program = FakeProgram(["boom"])

    async def failing(line: str) -> None:
        raise ConnectionError(line)

    with pytest.raises(ConnectionError, match="boom"):
        await race(
            program, on_line=failing, stop=never, max_runtime=FOREVER, grace=1.0, clock=CLOCK
        )
    assert program.calls == ["sweep", "release"]
