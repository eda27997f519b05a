"""The suggestion pool: answers in worker processes, survives a worker's death, never waits
forever. Real processes, no server."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from emulator.suggest.pool import WORKER_NICENESS, SuggestionPool
from emulator.tuner.suggestion import SuggestionAnswer, SuggestionRequest, answer
from tests.processes import running
from tests.unit.test_suggestion import bayesian_request


def slow_answer(request: SuggestionRequest) -> SuggestionAnswer:
    """Says it started (a file named by the request's tuning job), then takes a while."""
    Path(request.tuning_job).touch()
    time.sleep(1.0)
    return answer(request)


def dying_answer(request: SuggestionRequest) -> SuggestionAnswer:
    os._exit(3)


def stuck_answer(request: SuggestionRequest) -> SuggestionAnswer:
    time.sleep(30)
    return answer(request)


def broken_answer(request: SuggestionRequest) -> SuggestionAnswer:
    raise ValueError("no such strategy")


class Outcomes:
    def __init__(self) -> None:
        self.answers: list[SuggestionAnswer] = []
        self.failures: list[tuple[SuggestionRequest, str]] = []
        self.done = asyncio.Event()

    async def deliver(self, reply: SuggestionAnswer) -> None:
        self.answers.append(reply)
        self.done.set()

    async def fail(self, request: SuggestionRequest, reason: str) -> None:
        self.failures.append((request, reason))
        self.done.set()


async def run_one(pool: SuggestionPool, outcomes: Outcomes, request: SuggestionRequest) -> None:
    runner = asyncio.create_task(pool.run())
    try:
        pool.ask(request)
        await asyncio.wait_for(outcomes.done.wait(), 120)
    finally:
        runner.cancel()
        await pool.close()


async def test_a_worker_killed_mid_request_is_replaced_and_the_answer_comes_once(tmp_path):
    outcomes = Outcomes()
    pool = SuggestionPool(outcomes.deliver, outcomes.fail, workers=1, compute=slow_answer)
    marker = tmp_path / "started"
    request = SuggestionRequest(**{**bayesian_request().__dict__, "tuning_job": str(marker)})
    runner = asyncio.create_task(pool.run())
    try:
        pool.ask(request)
        for _ in range(600):
            if marker.exists():
                break
            await asyncio.sleep(0.05)
        (pid,) = pool.worker_pids()
        os.kill(pid, signal.SIGKILL)
        await asyncio.wait_for(outcomes.done.wait(), 120)
        await asyncio.sleep(0.2)  # a second answer would have come by now
    finally:
        runner.cancel()
        await pool.close()
    assert outcomes.failures == []
    assert outcomes.answers == [answer(request)]
    assert pool.replaced == 1


async def test_a_request_whose_workers_keep_dying_fails_after_the_attempts():
    outcomes = Outcomes()
    pool = SuggestionPool(
        outcomes.deliver, outcomes.fail, workers=1, attempts=2, compute=dying_answer
    )
    await run_one(pool, outcomes, bayesian_request())
    ((_request, reason),) = outcomes.failures
    assert reason.startswith("InternalServerError: ")
    assert "worker process died" in reason
    assert pool.replaced == 2
    assert outcomes.answers == []


async def test_a_stuck_worker_is_killed_and_the_request_fails_in_bounded_time():
    outcomes = Outcomes()
    pool = SuggestionPool(
        outcomes.deliver,
        outcomes.fail,
        workers=1,
        attempts=2,
        timeout_seconds=1.0,
        compute=stuck_answer,
    )
    await run_one(pool, outcomes, bayesian_request())
    ((_request, reason),) = outcomes.failures
    assert "no answer within 1 seconds" in reason
    assert pool.replaced == 2


async def test_a_strategy_that_raises_fails_at_once_without_retrying():
    outcomes = Outcomes()
    pool = SuggestionPool(outcomes.deliver, outcomes.fail, workers=1, compute=broken_answer)
    await run_one(pool, outcomes, bayesian_request())
    ((_request, reason),) = outcomes.failures
    assert "ValueError: no such strategy" in reason
    assert pool.replaced == 0


async def test_closing_kills_a_worker_still_busy_after_the_grace():
    outcomes = Outcomes()
    pool = SuggestionPool(outcomes.deliver, outcomes.fail, workers=1, compute=stuck_answer)
    runner = asyncio.create_task(pool.run())
    pool.ask(bayesian_request())
    for _ in range(600):
        if pool.worker_pids():
            break
        await asyncio.sleep(0.05)
    (pid,) = pool.worker_pids()
    began = time.monotonic()
    runner.cancel()
    await pool.close(grace_seconds=1.0)
    assert time.monotonic() - began < 10
    await asyncio.sleep(0.5)
    assert not running(pid)


def niceness_answer(request: SuggestionRequest) -> SuggestionAnswer:
    """Answers with the worker's own niceness (the number, in the tuning job's name)."""
    return SuggestionAnswer(f"nice={os.nice(0)}", request.request_id, ())


async def test_workers_run_below_the_servers_priority():
    """A fit must not take a core from the event loop: the workers are niced, so the loop
    preempts them the moment it has an API call or a batch of events to handle."""
    outcomes = Outcomes()
    pool = SuggestionPool(outcomes.deliver, outcomes.fail, workers=1, compute=niceness_answer)
    await run_one(pool, outcomes, bayesian_request())
    assert not outcomes.failures
    (reply,) = outcomes.answers
    assert reply.tuning_job == f"nice={min(19, os.nice(0) + WORKER_NICENESS)}"


OWNER = """
import asyncio, sys
from emulator.suggest.pool import SuggestionPool
from tests.unit.test_suggestion import bayesian_request

async def main():
    answered = asyncio.Event()
    async def deliver(reply):
        answered.set()
    async def fail(request, reason):
        sys.exit(reason)
    pool = SuggestionPool(deliver, fail, workers=2)
    runner = asyncio.create_task(pool.run())
    pool.ask(bayesian_request())
    await answered.wait()
    print(*pool.worker_pids(), flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


def test_the_workers_end_when_the_process_that_owns_the_pool_is_killed():
    """Workers are the fork server's children and hold their queue's pipes open: without
    watching their owner they would outlive an `amt serve` or `amt tuner` killed with SIGKILL,
    idle forever."""
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER], stdout=subprocess.PIPE, text=True, cwd=Path.cwd()
    )
    try:
        assert owner.stdout is not None
        workers = [int(pid) for pid in owner.stdout.readline().split()]
        assert workers and all(running(pid) for pid in workers)
    finally:
        owner.kill()
        owner.wait(30)
    deadline = time.monotonic() + 20
    while any(running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if running(pid)]
