"""The bus over an MQTT broker (Mosquitto, EMQX, ...): the only module that imports aiomqtt.

One `MqttBus` per process holds one MQTT connection and shares it between every `subscribe()`.
Delivery is at-least-once end to end, which the consumers' dedupe by `event_id` turns into
exactly-once effects:

- **Outbox.** `publish()` appends to an in-memory outbox and returns. A drain task sends it in
  order at QoS 1 while connected; a message leaves the outbox only once the broker has
  acknowledged it (PUBACK). After a connection loss the unacknowledged ones are sent again.
- **Replay window.** A broker acknowledges a message before it has reached the subscribers or
  its disk; if the broker dies in between, the message is gone. So after a lost connection the
  messages acknowledged in the last `replay_seconds` are published again (duplicates are
  harmless, losses are not).
- **Persistent session.** `clean_session=False` with a stable client id: the broker keeps our
  subscriptions and queues QoS 1 messages while we are away. Subscriptions therefore stay
  subscribed at the broker for the bus's life; messages that match no open `subscribe()` (those
  queued for us arrive right after connecting) wait in a bounded backlog for the first
  `subscribe()` that matches.
- **Acknowledged once handled.** A received message is acknowledged (PUBACK) only when every
  subscription it was queued for has settled it, i.e. its consumer handled it and asked for
  more (`acks.py`): until then the broker keeps it, and sends it again on our next session if
  we die. So the broker's in-flight limit (Mosquitto `max_inflight_messages`, default 20) bounds
  what waits in our queues, the backlog included: 1000 is above the control plane's batch and
  below BACKLOG, so what a restarted control plane is sent before it subscribes always fits.
- **Reconnection** with exponential back-off (and jitter, so a fleet of agents does not
  reconnect in lockstep), re-subscribing every filter after each connect.
- **Last will**, retained (it replaces the retained heartbeat it contradicts), with a fresh
  `event_id` on every connection so a second death is not deduplicated away.

Broker settings that make a broker crash lose nothing: `persistence true`, `autosave_interval 1`
(Mosquitto then saves every one to two seconds, inside the default `replay_seconds` of 3),
`max_queued_messages 0` (or large, so an absent subscriber's queue is not cut), and
`max_inflight_messages 1000` (see above).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import socket
import ssl
from collections import deque
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

import aiomqtt
from aiomqtt.exceptions import MqttConnectError

from emulator.bus.acks import AckLedger, Delivery
from emulator.bus.base import BusClosed, topic_matches
from emulator.bus.memory import QueueSubscription
from emulator.clock import Clock, SystemClock
from emulator.domain.events import Event, decode, encode, new_event_id

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
WINDOW = 100  # QoS 1 publishes awaiting their PUBACK at once
BACKLOG = 10_000  # messages kept for a subscription not yet opened
TOPIC_CACHE = 4096  # topics whose matching subscriptions are remembered
REFUSALS = {4: "bad user name or password", 5: "not authorised", 134: "bad user name or password"}

_Item = tuple[str, Event]


def _qos1(filters: Iterable[str]) -> list[tuple[str, int]]:
    return [(f, 1) for f in sorted(set(filters))]


def _leaf(exc: BaseException) -> BaseException:
    """The first real exception inside (possibly nested) task-group exception groups."""
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


class BusConnectError(Exception):
    """The broker refused the connection (credentials, authorisation): retrying cannot help."""


@dataclass(frozen=True)
class TlsOptions:
    """Server verification against `ca_certs` (system CAs when None), optional client cert."""

    ca_certs: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    insecure: bool = False  # skip host-name verification (self-signed certs on an IP)

    def context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca_certs)
        if self.certfile:
            context.load_cert_chain(self.certfile, self.keyfile)
        if self.insecure:
            context.check_hostname = False
        return context


@dataclass(frozen=True)
class MqttAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: TlsOptions | None = None


def parse_url(url: str) -> MqttAddress:
    """`mqtt[s]://[user[:password]@]host[:port][?ca_certs=..&certfile=..&keyfile=..&insecure=1]`.

    TLS options ride in the query so that a bus is fully described by one URL on a command line.
    """
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an MQTT URL: {url!r} (expected mqtt://host:port or mqtts://...)")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    tls = None
    if parts.scheme == "mqtts":
        tls = TlsOptions(
            ca_certs=query.get("ca_certs"),
            certfile=query.get("certfile"),
            keyfile=query.get("keyfile"),
            insecure=query.get("insecure", "").lower() in ("1", "true", "yes"),
        )
    return MqttAddress(
        host=parts.hostname,
        port=parts.port or DEFAULT_PORTS[parts.scheme],
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=tls,
    )


@dataclass(frozen=True)
class _Outgoing:
    topic: str
    payload: bytes
    retain: bool


@dataclass(eq=False)
class _Subscription:
    """A local subscription: its queue, and beside it (same order) the deliveries it holds."""

    filters: tuple[str, ...]
    queue: asyncio.Queue[_Item] = field(default_factory=asyncio.Queue)
    held: deque[Delivery] = field(default_factory=deque)

    def matches(self, topic: str) -> bool:
        return any(topic_matches(f, topic) for f in self.filters)

    def put(self, item: _Item, delivery: Delivery) -> None:
        self.queue.put_nowait(item)
        self.held.append(delivery)

    def settle(self, count: int) -> None:
        """The consumer handled the `count` oldest items it took: they may be acknowledged."""
        for _ in range(min(count, len(self.held))):  # none left once abandoned
            self.held.popleft().release()

    def abandon(self) -> None:
        """Closed: what it holds was never (known to be) handled; the broker will resend it."""
        while self.held:
            self.held.popleft().release(abandon=True)


class MqttBus:
    """The `Bus` over MQTT: `async with MqttBus(url, client_id=...) as bus:`."""

    def __init__(
        self,
        url: str,
        *,
        client_id: str,
        username: str | None = None,
        password: str | None = None,
        tls: TlsOptions | None = None,
        will: tuple[str, Event] | None = None,
        clock: Clock | None = None,
        keepalive: int = 15,
        backoff: tuple[float, float] = (0.1, 5.0),
        replay_seconds: float = 3.0,
        close_timeout: float = 5.0,
        persistent: bool = True,
    ) -> None:
        """`persistent=False`: a clean session, for a client whose messages anyone else of its
        shared subscription may take instead (a suggestion worker): the broker keeps nothing
        for it while it is away, and gives what it would have had to the others."""
        address = parse_url(url)
        self.address = replace(
            address,
            username=username or address.username,
            password=password or address.password,
            tls=tls or address.tls,
        )
        self.client_id = client_id
        self._tls_context = self.address.tls.context() if self.address.tls else None
        self._will = will
        self._clock = clock or SystemClock()
        self._keepalive = keepalive
        self._backoff = backoff
        self._replay_seconds = replay_seconds
        self._close_timeout = close_timeout
        self._persistent = persistent
        self._outbox: deque[_Outgoing] = deque()
        self._acked: deque[tuple[float, _Outgoing]] = deque()
        self._pending = asyncio.Event()  # the outbox is not empty
        self._idle = asyncio.Event()  # the outbox is empty
        self._idle.set()
        self._subs: list[_Subscription] = []
        self._targets: dict[str, list[_Subscription]] = {}
        """Topic -> the subscriptions it matches; emptied whenever the subscriptions change."""
        self._filters: set[str] = set()
        self._backlog: deque[tuple[_Item, Delivery]] = deque()
        self._client: aiomqtt.Client | None = None
        self._first: asyncio.Future[None] | None = None  # outcome of the first connection
        self._runner: asyncio.Task[None] | None = None
        self._established = False
        self._ended = False
        self._closed = False

    @property
    def connected(self) -> bool:
        return self._client is not None

    async def __aenter__(self) -> Self:
        """Start the connection loop; fail fast only if the broker refuses us.

        A broker that cannot be reached is not an error: the bus keeps trying in the background
        and the outbox holds what is published meanwhile.
        """
        first = self._first = asyncio.get_running_loop().create_future()
        self._runner = asyncio.create_task(self._run(), name=f"mqtt-bus:{self.client_id}")
        self._runner.add_done_callback(self._runner_ended)
        try:
            await asyncio.shield(first)
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Give the outbox up to `close_timeout` to drain, then disconnect cleanly (no will)."""
        if self._closed:
            return
        self._closed = True
        if self._runner is None:
            return
        if not self._runner.done():
            with suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), self._close_timeout)
        if self._outbox:
            log.warning("%s: closing with %d undelivered events", self.client_id, len(self._outbox))
        self._runner.cancel()
        with suppress(asyncio.CancelledError, Exception):  # a crash was logged when it happened
            await self._runner

    def _runner_ended(self, task: asyncio.Task[None]) -> None:
        """If the loop dies of a bug, fail whoever waits for it instead of hanging them."""
        if task.cancelled() or task.exception() is None:
            return
        log.error("%s: MQTT loop died", self.client_id, exc_info=task.exception())
        if self._first is not None and not self._first.done():
            self._first.set_exception(RuntimeError(f"MQTT bus {self.client_id!r} loop died"))

    async def publish(self, topic: str, event: Event, *, retain: bool = False) -> None:
        """Queue `event` for the broker; it is sent (again, if need be) until acknowledged."""
        if self._closed:
            raise BusClosed(f"bus {self.client_id!r} is closed")
        self._outbox.append(_Outgoing(topic, encode(event), retain))
        self._idle.clear()
        self._pending.set()

    async def flush(self) -> None:
        """Wait until the broker has acknowledged everything published so far."""
        await self._idle.wait()

    @asynccontextmanager
    async def subscribe(self, *filters: str) -> AsyncIterator[QueueSubscription]:
        sub = _Subscription(filters)
        self._subs.append(sub)
        self._targets.clear()
        self._adopt_backlog(sub)
        self._filters.update(filters)
        client = self._client
        if client is not None:
            try:  # even for known filters: the broker then re-sends their retained messages
                self._check_granted(await client.subscribe(_qos1(filters)))
            except aiomqtt.MqttError as exc:
                log.info("%s: subscribe deferred to reconnection: %s", self.client_id, exc)
        try:
            yield QueueSubscription(sub.queue, sub.settle)
        finally:
            self._subs.remove(sub)
            self._targets.clear()
            sub.abandon()

    def _adopt_backlog(self, sub: _Subscription) -> None:
        kept = [entry for entry in self._backlog if not sub.matches(entry[0][0])]
        for item, delivery in self._backlog:
            if sub.matches(item[0]):
                sub.put(item, delivery)
        self._backlog.clear()
        self._backlog.extend(kept)

    # The connection loop.

    async def _run(self) -> None:
        delay = self._backoff[0]
        while not self._ended:
            self._established = False
            try:
                await self._session()
            except* MqttConnectError as group:
                self._refused(_leaf(group))
            except* aiomqtt.MqttError as group:
                log.warning("%s: MQTT connection lost: %s", self.client_id, _leaf(group))
            except* Exception:
                log.exception("%s: MQTT session failed", self.client_id)
            if self._first is not None and not self._first.done():
                self._first.set_result(None)  # unreachable at start: keep trying in the background
            if self._established:
                delay = self._backoff[0]
                self._requeue_recent()
            if not self._ended:
                await self._clock.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, self._backoff[1])

    async def _session(self) -> None:
        """One connection, from CONNACK to its loss."""
        client = aiomqtt.Client(
            self.address.host,
            self.address.port,
            username=self.address.username,
            password=self.address.password,
            identifier=self.client_id,
            clean_session=not self._persistent,
            will=self._will_message(),
            keepalive=self._keepalive,
            tls_context=self._tls_context,
            max_inflight_messages=WINDOW,
            logger=log.getChild("aiomqtt"),
        )
        client.pending_calls_threshold = 2 * WINDOW  # a full window is normal, not a warning
        ledger = _manual_acks(client)
        async with client:
            _no_delay(client)
            self._client = client
            self._established = True
            try:
                if self._first is not None and not self._first.done():
                    self._first.set_result(None)
                log.info("%s: connected to %s", self.client_id, self._where())
                if self._filters:
                    self._check_granted(await client.subscribe(_qos1(self._filters)))
                async with asyncio.TaskGroup() as tasks:
                    reader = self._read(client, ledger)
                    tasks.create_task(reader, name=f"mqtt-read:{self.client_id}")
                    tasks.create_task(self._send(client), name=f"mqtt-send:{self.client_id}")
            finally:
                self._client = None
                ledger.close()

    def _where(self) -> str:
        return f"{self.address.host}:{self.address.port}"

    def _check_granted(self, granted: tuple[int, ...] | list[Any]) -> None:
        """A broker's ACL refuses a subscription in the SUBACK, not with an error: say so."""
        if any(getattr(code, "value", code) >= 0x80 for code in granted):
            log.error("%s: the broker refused a subscription (ACL?): %s", self.client_id, granted)

    def _refused(self, exc: BaseException) -> None:
        """A refusal before the first connection ends the bus; later ones are retried."""
        code = getattr(getattr(exc, "rc", None), "value", getattr(exc, "rc", None))
        reason = REFUSALS.get(code, str(exc)) if isinstance(code, int) else str(exc)
        error = BusConnectError(
            f"MQTT broker {self._where()} refused client {self.client_id!r}: {reason} "
            "(check the bus URL's user name and password)"
        )
        if self._first is not None and not self._first.done():
            self._first.set_exception(error)
            self._ended = True
        else:
            log.error("%s", error)

    def _will_message(self) -> aiomqtt.Will | None:
        if self._will is None:
            return None
        topic, event = self._will
        fresh = replace(event, event_id=new_event_id(), ts=self._clock.now())
        return aiomqtt.Will(topic, encode(fresh), qos=1, retain=True)

    async def _read(self, client: aiomqtt.Client, ledger: AckLedger) -> None:
        async for message in client.messages:
            payload = message.payload
            delivery = ledger.receive(message.mid, message.qos)
            try:
                self._deliver(
                    message.topic.value, payload if isinstance(payload, bytes) else b"", delivery
                )
            finally:
                delivery.release()  # the reader's own hold: handed out (or dropped)

    def _deliver(self, topic: str, payload: bytes, delivery: Delivery) -> None:
        """Queue the message for every matching subscription, each holding `delivery`."""
        try:
            event = decode(payload)
        except Exception as exc:
            log.warning("%s: dropped an undecodable message on %s: %r", self.client_id, topic, exc)
            return
        targets = self._targets.get(topic)
        if targets is None:
            if len(self._targets) >= TOPIC_CACHE:
                self._targets.clear()
            targets = self._targets[topic] = [sub for sub in self._subs if sub.matches(topic)]
        for sub in targets:
            delivery.hold()
            sub.put((topic, event), delivery)
        if not targets:
            if len(self._backlog) == BACKLOG:
                log.warning("%s: backlog full, dropping the oldest message", self.client_id)
                self._backlog.popleft()[1].release()  # deliberately dropped: acknowledged
            delivery.hold()
            self._backlog.append(((topic, event), delivery))

    async def _send(self, client: aiomqtt.Client) -> None:
        """Drain the outbox in order, a window at a time; pop only what the broker acknowledged."""
        while True:
            await self._pending.wait()
            batch = list(itertools.islice(self._outbox, WINDOW))
            async with asyncio.TaskGroup() as tasks:
                for item in batch:  # tasks start in creation order: the wire order is kept
                    tasks.create_task(
                        client.publish(item.topic, item.payload, qos=1, retain=item.retain)
                    )
            now = self._clock.monotonic()
            for _ in batch:
                self._acked.append((now, self._outbox.popleft()))
            while self._acked and self._acked[0][0] < now - self._replay_seconds:
                self._acked.popleft()
            if not self._outbox:
                self._pending.clear()
                self._idle.set()

    def _requeue_recent(self) -> None:
        """Put the recently acknowledged messages back in front of the outbox, oldest first."""
        if not self._acked:
            return
        horizon = self._clock.monotonic() - self._replay_seconds
        recent = [item for acked_at, item in self._acked if acked_at >= horizon]
        self._acked.clear()
        if recent:
            log.info("%s: replaying %d recently acknowledged events", self.client_id, len(recent))
            self._outbox.extendleft(reversed(recent))
            self._idle.clear()
            self._pending.set()


def _manual_acks(client: aiomqtt.Client) -> AckLedger:
    """Stop paho acknowledging on receipt; the ledger acknowledges once handled instead."""
    paho = client._client
    paho.manual_ack_set(True)
    return AckLedger(lambda mid: paho.ack(mid, 1))


def _no_delay(client: aiomqtt.Client) -> None:
    """Small events must not wait for Nagle's algorithm (it added ~90 ms to an early stop)."""
    sock = client._client.socket()
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def read_retained(url: str, topic: str, seconds: float = 2.0) -> Event | None:
    """The message the broker retains on `topic` (None: none within `seconds`), read by a
    throw-away clean session that leaves nothing behind on the broker. An agent reads its
    own heartbeat topic this way before connecting under its id: connecting would take the
    broker session of another process already online under that id."""
    address = parse_url(url)
    client = aiomqtt.Client(
        address.host,
        address.port,
        username=address.username,
        password=address.password,
        identifier=f"amt-probe-{new_event_id()}",
        clean_session=True,
        tls_context=address.tls.context() if address.tls else None,
        logger=log.getChild("aiomqtt"),
    )
    async with client:
        await client.subscribe(topic, qos=1)
        try:
            async with asyncio.timeout(seconds):
                async for message in client.messages:
                    payload = message.payload
                    return decode(payload if isinstance(payload, bytes) else b"")
        except TimeoutError:
            return None
    return None
