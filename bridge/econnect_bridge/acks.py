"""When a snapshot is acknowledged to the broker: once its outcome is out. Pure.

A QoS 1 message that is never acknowledged stays with the broker and comes again after a
crash, so a snapshot is acknowledged only when its result, error event or spooled copy is
out (or when it is superseded, skipped or refused). But a broker stops sending once a
client holds its cap of unacknowledged messages (MQTT 5: the Receive Maximum the client
announces; MQTT 3.1.1: the broker's own setting, 20 on Mosquitto), so at most `cap` are held:
past it, a message is acknowledged as it arrives and loses only its crash protection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from econnect_bridge.messages import Acknowledge, no_ack

#: Send the acknowledgement of message `mid` at `qos` now.
SendAck = Callable[[int, int], object]


class AckHolder:
    """Hand out once-only acknowledgements, and hold at most `cap` of them at a time.

    `connection` returns the current connection's number: a message id means something only
    on the connection it came on (after a reconnect the broker sends an unacknowledged message
    again, with DUP, and that copy is the one to acknowledge), so an acknowledgement from an
    earlier connection is dropped.
    """

    def __init__(self, *, cap: int, send: SendAck, connection: Callable[[], int]) -> None:
        self._cap = cap
        self._send = send
        self._connection = connection
        self._held = 0
        self._lock = threading.Lock()
        self.acked_on_arrival = 0  # acknowledged at once because `cap` were held

    @property
    def held(self) -> int:
        """How many acknowledgements are handed out and not yet sent."""
        with self._lock:
            return self._held

    def hold(self, mid: int, qos: int) -> Acknowledge:
        """Return the acknowledgement to call when message `mid`'s outcome is out."""
        if qos == 0:
            return no_ack
        with self._lock:
            if self._held >= self._cap:
                self.acked_on_arrival += 1
                self._send(mid, qos)
                return no_ack
            self._held += 1
        connection = self._connection()
        sent = threading.Event()

        def ack() -> None:
            if sent.is_set():
                return
            sent.set()
            with self._lock:
                self._held -= 1
            if self._connection() == connection:
                self._send(mid, qos)

        return ack
