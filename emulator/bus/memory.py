"""The embedded bus: asyncio queues in one process, with MQTT's retained-message semantics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from emulator.bus.base import topic_matches
from emulator.domain.events import Event

_Item = tuple[str, Event]


class InProcessBus:
    """Delivery is in order per subscription and never lost while subscribed."""

    def __init__(self) -> None:
        self._subs: list[tuple[tuple[str, ...], asyncio.Queue[_Item]]] = []
        self._retained: dict[str, Event] = {}

    async def publish(self, topic: str, event: Event, *, retain: bool = False) -> None:
        if retain:
            self._retained[topic] = event
        for filters, queue in self._subs:
            if any(topic_matches(f, topic) for f in filters):
                queue.put_nowait((topic, event))

    @asynccontextmanager
    async def subscribe(self, *filters: str) -> AsyncIterator[AsyncIterator[_Item]]:
        queue: asyncio.Queue[_Item] = asyncio.Queue()
        for topic, event in self._retained.items():
            if any(topic_matches(f, topic) for f in filters):
                queue.put_nowait((topic, event))
        entry = (filters, queue)
        self._subs.append(entry)
        try:
            yield drain_queue(queue)
        finally:
            self._subs.remove(entry)


async def drain_queue(queue: asyncio.Queue[_Item]) -> AsyncIterator[_Item]:
    """A subscription's endless iterator over its queue (shared by both bus implementations)."""
    while True:
        yield await queue.get()
