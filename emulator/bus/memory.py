"""The embedded bus: asyncio queues in one process, with MQTT's retained-message semantics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from emulator.bus.base import topic_matches
from emulator.domain.events import Event

_Item = tuple[str, Event]
BULK_TOPICS = ("/logs", "/metrics")
"""Events a training program can produce faster than they are applied: their publishers wait."""
HIGH_WATER = 64
LOW_WATER = 16
"""Queue lengths (events) at which bulk publishers wait / resume: with 64 KiB log lines at
most, a flood holds a few MiB of the server's memory, not the whole flood."""


class Inbox(asyncio.Queue[_Item]):
    """A subscription's queue. It never refuses an event (control messages must not block the
    consumer that publishes them), but publishers of bulk events wait while it is long: that is
    the backpressure that keeps a flooding training program from filling the server's memory."""

    def __init__(self) -> None:
        super().__init__()
        self._room = asyncio.Event()
        self._room.set()
        self.closed = False

    def close(self) -> None:
        """The subscription ended: nobody will drain it, so nobody may wait for it."""
        self.closed = True
        self._room.set()

    def get_nowait(self) -> _Item:
        item = super().get_nowait()
        if self.qsize() <= LOW_WATER:
            self._room.set()
        return item

    async def wait_for_room(self) -> None:
        while self.qsize() > HIGH_WATER and not self.closed:
            self._room.clear()
            await self._room.wait()


class InProcessBus:
    """Delivery is in order per subscription and never lost while subscribed."""

    def __init__(self) -> None:
        self._subs: list[tuple[tuple[str, ...], Inbox]] = []
        self._retained: dict[str, Event] = {}

    async def publish(self, topic: str, event: Event, *, retain: bool = False) -> None:
        if retain:
            self._retained[topic] = event
        receivers = [
            q for filters, q in self._subs if any(topic_matches(f, topic) for f in filters)
        ]
        for queue in receivers:
            queue.put_nowait((topic, event))
        if topic.endswith(BULK_TOPICS):
            for queue in receivers:
                await queue.wait_for_room()

    @asynccontextmanager
    async def subscribe(self, *filters: str) -> AsyncIterator[QueueSubscription]:
        queue = Inbox()
        for topic, event in self._retained.items():
            if any(topic_matches(f, topic) for f in filters):
                queue.put_nowait((topic, event))
        entry = (filters, queue)
        self._subs.append(entry)
        try:
            yield QueueSubscription(queue)
        finally:
            self._subs.remove(entry)
            queue.close()


class QueueSubscription:
    """A subscription's endless iterator over its queue (shared by both bus implementations),
    which also hands over everything already queued at once, for consumers that batch.

    Asking for more (`__anext__`, `batch`) settles everything taken before: a consumer handles
    what it took before it asks again, so that is the moment its effects are durable. Over MQTT
    `settle(n)` then acknowledges those n deliveries to the broker (at-least-once: what was
    taken but never settled is delivered again on the next session); in-process it is None.
    `ready` only adds to what is being taken, so it settles nothing.
    """

    def __init__(
        self, queue: asyncio.Queue[_Item], settle: Callable[[int], None] | None = None
    ) -> None:
        self._queue = queue
        self._settle = settle
        self._taken = 0  # handed out since the last settlement

    def __aiter__(self) -> QueueSubscription:
        return self

    async def __anext__(self) -> _Item:
        self._settle_taken()
        item = await self._queue.get()
        self._taken += 1
        return item

    async def batch(self, limit: int) -> list[_Item]:
        self._settle_taken()
        first = await self._queue.get()
        self._taken += 1
        return [first, *self.ready(limit - 1)]

    def ready(self, limit: int) -> list[_Item]:
        items: list[_Item] = []
        while len(items) < limit and not self._queue.empty():
            items.append(self._queue.get_nowait())
        self._taken += len(items)
        return items

    def _settle_taken(self) -> None:
        if self._taken and self._settle is not None:
            self._settle(self._taken)
        self._taken = 0
