"""`amt tuner --bus mqtt://...`: a worker that answers requests for suggestions from the broker.

Workers share one subscription (`$share/amt-tuners/...`), so the broker hands each request to
one of them; start as many as the tuning load needs, on any host that reaches the broker. A
request is answered in a thread, so the worker's connection stays alive while it computes.
A worker keeps nothing between requests: killing one loses at most the requests it held,
which the control plane sends again (`suggest.remote`).
"""

from __future__ import annotations

import asyncio
import logging
import os
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
from emulator.tuner.suggestion import answer

log = logging.getLogger(__name__)


async def answer_requests(bus: Bus, clock: Clock, worker: str = "") -> None:
    """Answer the requests the broker hands this worker, one at a time, until cancelled.
    Once subscribed, the worker says so (`TunerOnline`: what was sent while no worker listened
    is sent again); each request is announced as taken first, so that if this worker dies
    computing it, its last will (`TunerGone`) makes the control plane send it again at once."""
    async with bus.subscribe(SHARED_SUGGESTION_REQUESTS) as requests:
        online = TunerOnline(ts=clock.now(), worker=worker)
        await bus.publish(tuner_topic(worker), online, retain=True)
        async for _topic, event in requests:
            if not isinstance(event, SuggestionRequested):
                continue
            try:
                request = decode_request(event.request)
                taken = SuggestionTaken(
                    ts=clock.now(), worker=worker, request_id=request.request_id
                )
                await bus.publish(event.reply_to, taken)
                reply = await asyncio.to_thread(answer, request)
            except Exception:
                log.exception("cannot answer the request of %s", event.tuning_job)
                continue  # the control plane sends it again, then fails the tuning job
            answered = SuggestionAnswered(
                ts=clock.now(), tuning_job=reply.tuning_job, answer=encode_answer(reply)
            )
            await bus.publish(event.reply_to, answered)
            log.info(
                "suggestion answered for %s: %d configurations",
                reply.tuning_job,
                len(reply.configs),
            )


def default_worker_id() -> str:
    """Unique per process: a worker's session is clean (the broker keeps nothing for a worker
    that is gone, and shares the requests among the workers connected)."""
    return f"amt-tuner-{socket.gethostname()}-{os.getpid()}"


async def run_worker(url: str, worker_id: str) -> None:
    """Connect to the broker at `url` and answer requests until cancelled."""
    clock = SystemClock()
    will = (tuner_topic(worker_id), TunerGone(ts=clock.now(), worker=worker_id))
    async with open_bus(url, client_id=worker_id, will=will, clock=clock, persistent=False) as bus:
        print(f"amt tuner {worker_id} answering suggestions on {url}", flush=True)
        await answer_requests(bus, clock, worker_id)
