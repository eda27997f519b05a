"""A small pool of worker processes that answers the tuner's requests for suggestions.

A Bayesian suggestion (a Gaussian-process fit and an acquisition search) takes from
milliseconds to a second of CPU; on the control plane's event loop it would hold up every API
call meanwhile. `SuggestionPool.ask` only queues the request and returns; a task sends it to a
worker process and hands the answer to `deliver` (which applies it under the control plane's
turn). Requests of different tuning jobs are computed side by side, up to one per worker.

A request is a pure function's input (`tuner.suggestion`), so sending it again is always safe:

- a worker that dies mid-request breaks the whole `ProcessPoolExecutor` (every request in it
  fails with BrokenProcessPool): the pool is replaced by a fresh one, and each request that was
  in it is sent again;
- a request not answered within `timeout_seconds` (a worker stuck) has its workers killed and
  is sent again;
- after `attempts` tries, or at once when the strategy itself raised (trying again would raise
  again), `fail` is called with an AWS-style reason: the tuning job fails instead of waiting
  forever.

The timeout is wall time, not the server's clock: the work it bounds is real CPU time, whatever
the speed of virtual time (`amt serve --simulate`).

Workers start from a fork server that has already imported the strategies, so a replacement is
ready in milliseconds, and no worker is a fork of the threaded server process.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import select
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from emulator.tuner.suggestion import SuggestionAnswer, SuggestionRequest, answer

log = logging.getLogger(__name__)

ATTEMPTS = 3
TIMEOUT_SECONDS = 120.0
"""Per attempt. A 500-job Bayesian history is answered in about a second on one core."""
CLOSE_GRACE_SECONDS = 5.0
OWNER_POLL_SECONDS = 1.0
PRELOAD = ["emulator.tuner.suggestion", "emulator.tuner.strategies.bayesian"]

Deliver = Callable[[SuggestionAnswer], Awaitable[None]]
Fail = Callable[[SuggestionRequest, str], Awaitable[None]]
Compute = Callable[[SuggestionRequest], SuggestionAnswer]


WORKER_NICENESS = 10
"""Workers run at a lower priority than the server: the event loop takes a core the moment
it has work (an API call, a batch of events), and the fits have every cycle it leaves."""


def default_workers() -> int:
    """One per core, at most four. The loop is idle most of the time under a heavy tuning
    load (it waits on the fits), so a core kept for it was a core mostly unused: workers are
    niced instead (`WORKER_NICENESS`), and yield to it."""
    return max(1, min(4, os.cpu_count() or 1))


def start_worker(owner: int) -> None:
    """A worker's initializer: run below the server's priority (see `WORKER_NICENESS`), and
    end when `owner`, the process that made the pool, is gone. Its workers are children of
    the fork server, not of the owner, and hold their own queue's pipes open, so nothing else
    ends them when the owner is killed (SIGKILL): they would wait for work forever."""
    try:
        os.nice(WORKER_NICENESS)
    except OSError:  # pragma: no cover - a platform without nice(2): run at equal priority
        log.debug("cannot lower the suggestion worker's priority")
    threading.Thread(target=_exit_with, args=(owner,), name="owner-watch", daemon=True).start()


def _exit_with(owner: int) -> None:
    """Wait until process `owner` ends, then end this process at once."""
    try:
        handle = os.pidfd_open(owner)
    except (AttributeError, OSError):  # pragma: no cover - no pidfd (not Linux, or old)
        while _alive(owner):
            time.sleep(OWNER_POLL_SECONDS)
    else:
        select.select([handle], [], [])
    os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - alive, under another user
        return True
    return True


class SuggestionPool:
    """Answers requests in worker processes; see the module docstring."""

    def __init__(
        self,
        deliver: Deliver,
        fail: Fail,
        *,
        workers: int | None = None,
        attempts: int = ATTEMPTS,
        timeout_seconds: float = TIMEOUT_SECONDS,
        compute: Compute = answer,
    ) -> None:
        """`compute` runs in the workers: a module-level function (it travels by name)."""
        self.workers = workers or default_workers()
        self.attempts = attempts
        self.timeout_seconds = timeout_seconds
        self._deliver = deliver
        self._fail = fail
        self._compute = compute
        self._queue: asyncio.Queue[SuggestionRequest] = asyncio.Queue()
        self._executor: ProcessPoolExecutor | None = None
        self.replaced = 0
        """Pools replaced after a worker died or hung."""

    def ask(self, request: SuggestionRequest) -> SuggestionAnswer | None:
        """Queue the request: its answer goes to `deliver` later (never None here at once)."""
        self._queue.put_nowait(request)
        return None

    async def run(self) -> None:
        """Send queued requests to the workers until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            while True:
                request = await self._queue.get()
                tasks.create_task(self._answer(request), name=f"suggest-{request.tuning_job}")

    def worker_pids(self) -> list[int]:
        """The worker processes now running (none before the first request)."""
        executor = self._executor
        processes = getattr(executor, "_processes", None) or {}
        return [p.pid for p in processes.values() if p.pid is not None]

    async def close(self, grace_seconds: float = CLOSE_GRACE_SECONDS) -> None:
        """Stop the workers; requests not answered are dropped (a restarted tuner asks again).
        A worker still busy after `grace_seconds` is killed: shutting down never hangs."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        processes = list((getattr(executor, "_processes", None) or {}).values())
        try:
            async with asyncio.timeout(grace_seconds):
                await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
        except TimeoutError:
            for process in processes:
                process.kill()

    async def _answer(self, request: SuggestionRequest) -> None:
        reason = "no attempt made"
        for attempt in range(1, self.attempts + 1):
            executor = self._pool()
            try:
                async with asyncio.timeout(self.timeout_seconds):
                    # submit() may start a worker and wait for the fork server's answer (the
                    # first time, for its imports): off the loop, like the work itself.
                    sent = await asyncio.to_thread(executor.submit, self._compute, request)
                    reply = await asyncio.wrap_future(sent)
            except BrokenProcessPool:
                reason = "its worker process died"
                self._replace(executor)
            except TimeoutError:
                reason = f"no answer within {self.timeout_seconds:g} seconds"
                self._replace(executor, kill=True)
            except Exception as error:
                reason = f"the strategy failed: {type(error).__name__}: {error}"
                break
            else:
                await self._deliver(reply)
                return
            log.warning(
                "suggestion for %s, attempt %d of %d: %s",
                request.tuning_job,
                attempt,
                self.attempts,
                reason,
            )
        await self._fail(
            request,
            f"InternalServerError: No suggestion could be computed for the next training jobs "
            f"({reason}).",
        )

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOAD)
            self._executor = ProcessPoolExecutor(
                self.workers,
                mp_context=context,
                initializer=start_worker,
                initargs=(os.getpid(),),
            )
        return self._executor

    def _replace(self, broken: ProcessPoolExecutor, *, kill: bool = False) -> None:
        """A fresh pool for the next attempts, unless another request replaced it already."""
        if self._executor is not broken:
            return
        self._executor = None
        self.replaced += 1
        if kill:
            processes = getattr(broken, "_processes", None) or {}
            for process in list(processes.values()):
                process.kill()
        broken.shutdown(wait=False, cancel_futures=True)
