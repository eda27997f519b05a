"""Acknowledging QoS 1 deliveries once they are handled: at-least-once from the broker to the store.

paho acknowledges a message (PUBACK) as soon as its callback returns, i.e. when the message
enters our in-memory queue; a crash then loses everything queued or half-applied, although the
broker's persistent session would have kept it. With manual acks the bus records each delivery
here and acknowledges it only when every local holder has let it go:

- each subscription it was queued for, once its consumer *settled* it (handled it and asked for
  more; see `QueueSubscription`), or the backlog when it dropped it;
- the reader itself, while it is handing the message out (so a message nobody wants, e.g. an
  undecodable one, is acknowledged at once: deliberately dropped).

Acknowledgements go out in the order the messages arrived, as MQTT 3.1.1 requires of a client
([MQTT-4.6.0-2]); so a slow consumer holds back the acks of later messages too, which the
broker's in-flight limit turns into backpressure on the whole connection.

A delivery whose holder goes away without handling it (its subscription closed) is *abandoned*:
it leaves the order without a PUBACK, and the broker sends it again on the next session.

A ledger belongs to one connection: packet ids mean nothing on the next one, where the broker
sends again everything left unacknowledged (duplicates the consumers' idempotence absorbs).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

Send = Callable[[int], object]


class Delivery:
    """One received message and the holders that have yet to let it go."""

    __slots__ = ("abandoned", "holders", "ledger", "mid")

    def __init__(self, mid: int, ledger: AckLedger | None) -> None:
        self.mid = mid
        self.ledger = ledger  # None: nothing to acknowledge (QoS 0)
        self.holders = 1  # the reader, until it has handed the message out
        self.abandoned = False

    def hold(self) -> None:
        self.holders += 1

    def release(self, *, abandon: bool = False) -> None:
        """This holder is done with it: handled or dropped (acknowledge), or `abandon`ed
        (never handled: let the broker send it again)."""
        self.abandoned = self.abandoned or abandon
        self.holders -= 1
        if self.holders == 0 and self.ledger is not None:
            self.ledger.flush()


class AckLedger:
    """The deliveries of one connection, acknowledged in arrival order through `send(mid)`."""

    def __init__(self, send: Send) -> None:
        self._send: Send | None = send
        self._order: deque[Delivery] = deque()

    def receive(self, mid: int, qos: int) -> Delivery:
        """Record a message as it arrives; the caller holds it until it has handed it out."""
        if qos == 0:
            return Delivery(mid, None)
        delivery = Delivery(mid, self)
        self._order.append(delivery)
        return delivery

    @property
    def outstanding(self) -> int:
        """Deliveries received and not yet acknowledged (or abandoned)."""
        return len(self._order)

    def flush(self) -> None:
        """Acknowledge the deliveries at the front that nobody holds any more."""
        order = self._order
        while order and order[0].holders == 0:
            delivery = order.popleft()
            if not delivery.abandoned and self._send is not None:
                self._send(delivery.mid)

    def close(self) -> None:
        """The connection is gone: nothing of it can be acknowledged any more."""
        self._send = None
        self._order.clear()
