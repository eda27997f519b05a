"""The bus interface: publish/subscribe of typed events on MQTT-style topics.

Two implementations stand behind it: `memory.InProcessBus` (the embedded default) and an MQTT
adapter. Topic filters use MQTT wildcards (`+` one level, `#` the rest).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from emulator.domain.events import Event


class Subscription(Protocol):
    """What `subscribe()` yields: `async for topic, event in it`, or a batch at a time.

    Taking more (`__anext__`, `batch`) acknowledges what was taken before, so a consumer
    handles each event (commits its effect) before it asks for the next: an event taken but
    not yet handled when the process dies is delivered again (over MQTT, on its next session).
    """

    def __aiter__(self) -> AsyncIterator[tuple[str, Event]]: ...

    async def __anext__(self) -> tuple[str, Event]: ...

    async def batch(self, limit: int) -> list[tuple[str, Event]]:
        """Acknowledge what was taken before; wait for one (topic, event), then take those
        already waiting, `limit` in all."""
        ...

    def ready(self, limit: int) -> list[tuple[str, Event]]:
        """Take up to `limit` more of those already waiting, without waiting (maybe none);
        they join the batch being taken, acknowledged with it."""
        ...


class BusClosed(RuntimeError):
    """Publishing on a bus that was closed: whoever published learns that nobody will hear it."""


class Bus(Protocol):
    async def publish(self, topic: str, event: Event, *, retain: bool = False) -> None:
        """Deliver `event` to every subscription whose filter matches `topic`."""

    def subscribe(self, *filters: str) -> AbstractAsyncContextManager[Subscription]:
        """An async context yielding the (topic, event) pairs for the filters."""


SHARED = "$share/"


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT topic-filter matching; a shared subscription (`$share/<group>/<filter>`, which the
    broker gives each message to one subscriber of the group) matches as its filter."""
    if pattern.startswith(SHARED):
        pattern = pattern.split("/", 2)[2] if pattern.count("/") >= 2 else ""
    p_parts = pattern.split("/")
    t_parts = topic.split("/")
    for i, part in enumerate(p_parts):
        if part == "#":
            return True
        if i >= len(t_parts):
            return False
        if part not in ("+", t_parts[i]):
            return False
    return len(p_parts) == len(t_parts)
