"""The control plane's side of remote suggestion workers (`amt tuner --bus mqtt://...`).

Requests are published on one topic that every worker shares (an MQTT shared subscription:
the broker gives each to one worker of the group); answers come back on this control plane's
own topic. A worker announces itself once subscribed (`TunerOnline`), each request it takes
(`SuggestionTaken`), and leaves a last will (`TunerGone`). When a worker goes, the request it
took, and any no worker has announced (it may have been queued for the gone one), is
published again at once; when a worker comes, so are those no worker has announced (the
broker drops what is published while no worker listens). One not answered
within `timeout_seconds` (a worker stuck, or a message lost) is published again too, up to
`attempts` times in all; then the tuning job fails. An answer that comes twice, or for a
request re-sent meanwhile, is applied once: the tuner applies only the answer to the request
it still waits for (by `request_id`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from emulator.bus.base import Bus
from emulator.clock import Clock
from emulator.domain.events import (
    SUGGESTION_REQUESTS,
    TUNER_STATUS,
    SuggestionAnswered,
    SuggestionRequested,
    SuggestionTaken,
    TunerGone,
    TunerOnline,
    suggestion_answers_topic,
)
from emulator.suggest.codec import decode_answer, encode_request
from emulator.tuner.suggestion import SuggestionAnswer, SuggestionRequest

log = logging.getLogger(__name__)

ATTEMPTS = 3
TIMEOUT_SECONDS = 60.0
CHECK_SECONDS = 0.5

Deliver = Callable[[SuggestionAnswer], Awaitable[None]]
Fail = Callable[[SuggestionRequest, str], Awaitable[None]]


@dataclass
class _Out:
    request: SuggestionRequest
    attempt: int
    deadline: float
    worker: str | None = None
    """The worker that announced it took the request (None: none yet)."""


class RemoteSuggestions:
    """Sends requests to `amt tuner` workers through the bus; see the module docstring."""

    def __init__(
        self,
        bus: Bus,
        clock: Clock,
        deliver: Deliver,
        fail: Fail,
        *,
        control_plane: str = "amt-control-plane",
        attempts: int = ATTEMPTS,
        timeout_seconds: float = TIMEOUT_SECONDS,
    ) -> None:
        self.bus = bus
        self.clock = clock
        self.attempts = attempts
        self.timeout_seconds = timeout_seconds
        self.reply_to = suggestion_answers_topic(control_plane)
        self._deliver = deliver
        self._fail = fail
        self._queue: asyncio.Queue[SuggestionRequest] = asyncio.Queue()
        self._out: dict[str, _Out] = {}
        self.resent = 0
        """Requests published again after no answer came in time."""

    def ask(self, request: SuggestionRequest) -> SuggestionAnswer | None:
        """Queue the request: its answer goes to `deliver` later."""
        self._queue.put_nowait(request)
        return None

    async def run(self) -> None:
        """Send requests, take answers, re-send what was not answered, until cancelled."""
        async with (
            self.bus.subscribe(self.reply_to, TUNER_STATUS) as answers,
            asyncio.TaskGroup() as tasks,
        ):
            tasks.create_task(self._send(), name="suggestions-send")
            tasks.create_task(self._watch(), name="suggestions-watch")
            async for _topic, event in answers:
                if isinstance(event, SuggestionTaken):
                    out = self._out.get(event.request_id)
                    if out is not None:
                        out.worker = event.worker
                    continue
                if isinstance(event, TunerGone):
                    await self._worker_gone(event.worker)
                    continue
                if isinstance(event, TunerOnline):
                    await self._worker_online(event.worker)
                    continue
                if not isinstance(event, SuggestionAnswered):
                    continue
                try:
                    reply = decode_answer(event.answer)
                except (KeyError, TypeError, ValueError, AttributeError):
                    log.exception("a suggestion answer that cannot be read: %s", event.answer)
                    continue  # its request is sent again, or fails, in time
                await self._answered(reply)

    async def _send(self) -> None:
        while True:
            request = await self._queue.get()
            await self._publish(request, attempt=1)

    async def _publish(self, request: SuggestionRequest, attempt: int) -> None:
        deadline = self.clock.monotonic() + self.timeout_seconds
        self._out[request.request_id] = _Out(request, attempt, deadline)
        event = SuggestionRequested(
            ts=self.clock.now(),
            tuning_job=request.tuning_job,
            request=encode_request(request),
            reply_to=self.reply_to,
        )
        await self.bus.publish(SUGGESTION_REQUESTS, event)

    async def _answered(self, answer: SuggestionAnswer) -> None:
        if self._out.pop(answer.request_id, None) is None:
            return  # answered already (a re-sent request answered twice)
        await self._deliver(answer)

    async def _watch(self) -> None:
        while True:
            await self.clock.sleep(CHECK_SECONDS)
            now = self.clock.monotonic()
            late = f"no suggestion worker answered within {self.timeout_seconds:g}s"
            for out in [o for o in self._out.values() if o.deadline <= now]:
                await self._retry(out, late)

    async def _worker_gone(self, worker: str) -> None:
        """A worker's last will. What it had taken is tried again now. So is every request no
        worker has taken yet, on the same attempt: it may sit unread in the gone worker's
        session, which the broker drops with it (if a live worker holds it instead, its two
        answers are applied once; and a will delivered again, retained, costs no attempt)."""
        for out in list(self._out.values()):
            if out.worker == worker:
                await self._retry(out, f"suggestion worker {worker} went away")
            elif out.worker is None:
                await self._again(out, f"suggestion worker {worker} went away")

    async def _worker_online(self, worker: str) -> None:
        """A worker subscribed: requests no worker has taken may have been sent while none
        listened (the broker drops those), so they are sent again."""
        for out in [o for o in self._out.values() if o.worker is None]:
            await self._again(out, f"suggestion worker {worker} came online")

    async def _again(self, out: _Out, why: str) -> None:
        """Publish the request again on the same attempt: no worker failed on it."""
        self.resent += 1
        log.info("%s: %s's request sent again", why, out.request.tuning_job)
        await self._publish(out.request, out.attempt)

    async def _retry(self, out: _Out, why: str) -> None:
        """Publish the request again, or, after `attempts`, fail its tuning job."""
        if out.attempt < self.attempts:
            self.resent += 1
            log.warning("%s for %s; sending it again", why, out.request.tuning_job)
            await self._publish(out.request, out.attempt + 1)
            return
        del self._out[out.request.request_id]
        await self._fail(
            out.request,
            "InternalServerError: No suggestion worker answered the request for the "
            f"next training jobs ({self.attempts} attempts of "
            f"{self.timeout_seconds:g} seconds).",
        )
