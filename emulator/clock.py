"""The one place that reads time.

Every part of the emulator takes a `Clock` instead of calling `time.time()` or
`asyncio.sleep()` itself, so the simulator can run the very same code in virtual time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    """Wall time, monotonic time and sleeping, as one injectable dependency."""

    def now(self) -> float:
        """Epoch seconds, as AWS timestamps are."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin, never going backwards."""

    async def sleep(self, seconds: float) -> None:
        """Suspend the caller for `seconds` of this clock's time."""


class SystemClock:
    """Real time: what the server uses."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """A clock that moves only when told to: for pure unit tests of time-dependent rules."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._origin = start

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._now - self._origin

    def advance(self, seconds: float) -> None:
        self._now += seconds

    async def sleep(self, seconds: float) -> None:
        self._now += max(0.0, seconds)
        await asyncio.sleep(0)


class ScaledClock:
    """Virtual time running `scale` times faster than wall time: `amt serve --simulate`.

    Sleeps last `seconds / scale` of wall time, and every reading is virtual, so timestamps,
    tuner ticks, MaxRuntimeInSeconds, heartbeats and stop delays all keep their meaning.

    Fast virtual time turns any stall of the event loop into a long virtual pause: at 1000x a
    20 ms stall is 20 virtual seconds, longer than the lost-agent timeout. So virtual time never
    passes the deadline of a sleeper that has not yet resumed: `now()` is wall time times
    `scale`, held back at the earliest pending deadline. Timers therefore fire in the order and
    at the virtual moments they were set for. A server that cannot keep up would then race to
    catch up once it can; instead, time held back for longer than `max_lag` wall seconds is
    given up, so an overloaded server simply runs slower than `scale` (`effective_scale()`),
    never out of order and never in bursts. It is trio's MockClock idea with wall time, not
    idleness, moving the clock.
    """

    def __init__(
        self,
        scale: float,
        start: float | None = None,
        *,
        max_lag: float = 0.25,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        if not scale > 0:
            raise ValueError(f"time scale must be positive, got {scale}")
        self.scale = float(scale)
        self._wall = wall
        self._wall_origin = wall()
        self._start = time.time() if start is None else start
        self._last = self._start
        self._max_lag = max_lag * self.scale
        self._given_up = 0.0
        """Virtual seconds the clock fell behind `scale` (overload) and did not catch up."""
        self._pending: list[tuple[float, int]] = []
        """Heap of (deadline, token) of sleepers; tokens in `_resumed` are gone (lazily)."""
        self._resumed: set[int] = set()
        self._tokens = itertools.count()
        self._holds = 0
        """Holds not released yet (`hold`)."""
        self._blocked: dict[int, asyncio.Future[None]] = {}
        """Sleepers past their wall deadline waiting for earlier ones, by token: each is woken
        when it becomes the earliest (`_wake_earliest`), not polled."""
        self._lock = threading.Lock()  # now() may be read from worker threads

    def _unheld(self) -> float:
        """Virtual time as wall time alone has it."""
        elapsed = (self._wall() - self._wall_origin) * self.scale
        return self._start + elapsed - self._given_up

    def now(self) -> float:
        with self._lock:
            return self._now()

    def _now(self) -> float:
        pending = self._pending
        while pending and pending[0][1] in self._resumed:
            self._resumed.discard(heapq.heappop(pending)[1])
        now = self._unheld()
        if pending:
            earliest = pending[0][0]
            if now - earliest > self._max_lag:
                self._given_up += now - earliest - self._max_lag
            now = min(now, earliest)
        self._last = max(self._last, now)
        return self._last

    def monotonic(self) -> float:
        return self.now() - self._start

    def effective_scale(self) -> float:
        """Virtual seconds per wall second so far: `scale` unless the server fell behind."""
        wall = self._wall() - self._wall_origin
        return self.monotonic() / wall if wall > 0 else self.scale

    def hold(self) -> Callable[[], None]:
        """Hold virtual time where it is until the returned function is called: work done
        off the event loop for the server (a suggestion computed in a worker process) takes
        virtual time as the same work on the loop would, i.e. none, unless it overruns."""
        with self._lock:
            token = next(self._tokens)
            heapq.heappush(self._pending, (self._now(), token))
            self._holds += 1
        released = False

        def release() -> None:
            """Call on the event loop (it wakes the sleeper next in line)."""
            nonlocal released
            with self._lock:
                if not released:
                    released = True
                    self._resumed.add(token)
                    self._holds -= 1
            self._wake_earliest()

        return release

    async def sleep(self, seconds: float) -> None:
        with self._lock:
            deadline = self._now() + max(0.0, seconds)
            token = next(self._tokens)
            heapq.heappush(self._pending, (deadline, token))
        try:
            while True:
                ahead = deadline - self._unheld()
                if ahead > 0:
                    await asyncio.sleep(ahead / self.scale)
                elif self.now() < deadline:
                    # An earlier sleeper (or a hold) is due first: wait to be the earliest.
                    # Waiting, not polling: a thousand overdue sleepers of an overloaded
                    # server polling each turn took most of its CPU.
                    woken = asyncio.get_running_loop().create_future()
                    self._blocked[token] = woken
                    try:
                        await woken
                    finally:
                        del self._blocked[token]
                else:
                    return
        finally:
            with self._lock:
                self._resumed.add(token)
            self._wake_earliest()

    def _wake_earliest(self) -> None:
        """Wake the earliest pending sleeper if it waits for its turn (it checks again)."""
        with self._lock:
            pending = self._pending
            while pending and pending[0][1] in self._resumed:
                self._resumed.discard(heapq.heappop(pending)[1])
            earliest = pending[0][1] if pending else None
        woken = self._blocked.get(earliest) if earliest is not None else None
        if woken is not None and not woken.done():
            woken.set_result(None)
