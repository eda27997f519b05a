"""The bus interface: publish/subscribe of typed events on MQTT-style topics.

Two implementations stand behind it: `memory.InProcessBus` (the embedded default) and an MQTT
adapter. Topic filters use MQTT wildcards (`+` one level, `#` the rest).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from emulator.domain.events import Event


class Bus(Protocol):
    async def publish(self, topic: str, event: Event, *, retain: bool = False) -> None:
        """Deliver `event` to every subscription whose filter matches `topic`."""

    def subscribe(
        self, *filters: str
    ) -> AbstractAsyncContextManager[AsyncIterator[tuple[str, Event]]]:
        """An async context yielding an iterator of (topic, event) for the filters."""


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT topic-filter matching."""
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
