"""`amt tuner --bus mqtt://...`: a worker that answers requests for suggestions from the broker.

Workers share one subscription (`$share/amt-tuners/...`), so the broker hands each request to
one of them; start as many as the tuning load needs, on any host that reaches the broker. A
worker computes in its own `SuggestionPool` (one process per core by default, `--processes`),
so one worker uses its host's cores and its connection stays alive while they compute; a
process of the pool that dies is replaced and its request computed again there.
A worker keeps nothing between requests: killing one loses at most the requests it held,
which the control plane sends again (`suggest.remote`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket

from emulator.bus.base import Bus
from emulator.bus.factory import open_bus
from emulator.clock import Clock, SystemClock
from emulator.domain.events import (
    SHARED_SUGGESTION_REQUESTS,
    SuggestionAnswered,
    SuggestionRequested,
    SuggestionTaken,
    TunerGone,
    TunerOnline,
    tuner_topic,
)
from emulator.suggest.codec import decode_request, encode_answer
from emulator.suggest.pool import SuggestionPool
from emulator.tuner.suggestion import SuggestionAnswer, SuggestionRequest

log = logging.getLogger(__name__)


async def answer_requests(
    bus: Bus, clock: Clock, worker: str = "", *, processes: int | None = None
) -> None:
    """Answer the requests the broker hands this worker, up to `processes` at once (default:
    one per core, at most four), until cancelled. Once subscribed, the worker says so
    (`TunerOnline`: what was sent while no worker listened is sent again); each request is
    announced as taken when it arrives, so that if this worker dies before answering it, its
    last will (`TunerGone`) makes the control plane send it again at once; one that stops
    (cancelled, SIGTERM, Ctrl-C) says `TunerGone` itself."""
    reply_to: dict[str, str] = {}
    """Where each request held here is answered, by request id."""

    async def deliver(reply: SuggestionAnswer) -> None:
        topic = reply_to.pop(reply.request_id, None)
        if topic is None:
            return  # the same request, sent twice, was answered already
        answered = SuggestionAnswered(
            ts=clock.now(), tuning_job=reply.tuning_job, answer=encode_answer(reply)
        )
        await bus.publish(topic, answered)
        log.info(
            "suggestion answered for %s: %d configurations", reply.tuning_job, len(reply.configs)
        )

    async def give_up(request: SuggestionRequest, reason: str) -> None:
        """The control plane sends it again after its timeout, then fails the tuning job."""
        reply_to.pop(request.request_id, None)
        log.error("cannot answer the request of %s: %s", request.tuning_job, reason)

    pool = SuggestionPool(deliver, give_up, workers=processes)
    try:
        async with bus.subscribe(SHARED_SUGGESTION_REQUESTS) as requests:
            computing = asyncio.create_task(pool.run(), name="suggestion-pool")
            try:
                online = TunerOnline(ts=clock.now(), worker=worker)
                await bus.publish(tuner_topic(worker), online, retain=True)
                async for _topic, event in requests:
                    if isinstance(event, SuggestionRequested):
                        await _take(bus, clock, worker, event, pool, reply_to)
            finally:
                computing.cancel()
    finally:
        try:
            # Leaving cleanly, the broker sends no last will: say it, so that the requests
            # this worker held are sent again now, not after the control plane's timeout.
            gone = TunerGone(ts=clock.now(), worker=worker)
            await bus.publish(tuner_topic(worker), gone, retain=True)
        finally:
            await pool.close()


async def _take(
    bus: Bus,
    clock: Clock,
    worker: str,
    event: SuggestionRequested,
    pool: SuggestionPool,
    reply_to: dict[str, str],
) -> None:
    try:
        request = decode_request(event.request)
    except Exception:
        log.exception("cannot read the request of %s", event.tuning_job)
        return  # the control plane sends it again, then fails the tuning job
    taken = SuggestionTaken(ts=clock.now(), worker=worker, request_id=request.request_id)
    await bus.publish(event.reply_to, taken)
    reply_to[request.request_id] = event.reply_to
    pool.ask(request)


def default_worker_id() -> str:
    """Unique per process: a worker's session is clean (the broker keeps nothing for a worker
    that is gone, and shares the requests among the workers connected)."""
    return f"amt-tuner-{socket.gethostname()}-{os.getpid()}"


async def run_worker(url: str, worker_id: str, processes: int | None = None) -> None:
    """Connect to the broker at `url` and answer requests until cancelled, or until SIGTERM,
    which ends it the same way: its processes stopped, its requests left to other workers."""
    current = asyncio.current_task()
    if current is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, current.cancel)
    clock = SystemClock()
    will = (tuner_topic(worker_id), TunerGone(ts=clock.now(), worker=worker_id))
    async with open_bus(url, client_id=worker_id, will=will, clock=clock, persistent=False) as bus:
        print(f"amt tuner {worker_id} answering suggestions on {url}", flush=True)
        await answer_requests(bus, clock, worker_id, processes=processes)
