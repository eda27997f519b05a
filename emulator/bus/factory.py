"""Choosing the bus from a URL: the one decision `amt serve --bus` and `amt agent --bus` share.

`None` or `memory://` is the embedded in-process bus (one process, nothing to install);
`mqtt://` and `mqtts://` reach a real broker, so agents on other processes or hosts can join.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, nullcontext
from urllib.parse import urlsplit

from emulator.bus.base import Bus
from emulator.bus.memory import InProcessBus
from emulator.clock import Clock
from emulator.domain.events import Event

MQTT_SCHEMES = ("mqtt", "mqtts")


def open_bus(
    url: str | None,
    *,
    client_id: str,
    will: tuple[str, Event] | None = None,
    clock: Clock | None = None,
    persistent: bool = True,
) -> AbstractAsyncContextManager[Bus]:
    """The bus named by `url`, as an async context manager that connects and disconnects it.

    `client_id` must be stable across restarts of the same process role (the broker keeps its
    session: subscriptions and queued messages); `will` is published by the broker if this
    process dies without closing the bus; `persistent=False` asks for a clean session (the
    broker keeps nothing while we are away). They matter only over MQTT.
    """
    scheme = urlsplit(url).scheme if url else "memory"
    if scheme == "memory":
        return nullcontext(InProcessBus())
    if scheme in MQTT_SCHEMES:
        from emulator.bus.mqtt import MqttBus  # noqa: PLC0415 - aiomqtt is loaded only when a broker is used

        return MqttBus(
            url or "", client_id=client_id, will=will, clock=clock, persistent=persistent
        )
    raise ValueError(
        f"unsupported bus URL {url!r}: use memory://, mqtt://[user:password@]host[:port] "
        "or mqtts://..."
    )
