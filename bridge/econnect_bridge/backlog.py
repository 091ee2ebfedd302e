"""The outgoing backlog: messages handed to the MQTT client and not yet published. Pure.

The bridge bounds what it has not yet published itself, instead of letting paho refuse a
message when its queue is full: while the broker is connected nothing is refused and the
workers wait (`wait_for_room`) before taking another snapshot, so under a burst a stale
snapshot is superseded rather than a result dropped; while the broker is away, at most
`mqtt.max_queued_messages` wait, and what is refused then is counted, to be logged once the
broker is back. A message counts as published when paho says so: written to the socket for
QoS 0, acknowledged by the broker for QoS 1.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

#: While connected, the workers wait when this many messages are not yet published: about
#: five results (a result is three to six messages). What waits here is what every new event
#: waits behind, so this bounds the event's delay: at the ~1,000 QoS 1 messages/s the bridge
#: gets acknowledged on loopback when its CPU is the limit, 200 meant an event delay of
#: 200 to 400 ms at p99 (engine at 0 ms, `docs/performance.md`), 32 means 40 to 80 ms, at the same
#: throughput. It stays below paho's window (`mqtt.MAX_INFLIGHT`), so paho never queues.
HIGH_WATER = 32


class OutgoingBacklog:
    """Message ids not yet published, with back pressure while connected.

    `passing` says when waiting makes no sense (the broker is away, or the bridge stops):
    then `wait_for_room` returns at once.
    """

    def __init__(self, *, limit_while_away: int, passing: Callable[[], bool]) -> None:
        self._limit = limit_while_away
        self._passing = passing
        self._pending: dict[int, int] = {}  # mid → QoS
        self._early: set[int] = set()  # mids published before `record` saw them
        self._room = threading.Condition()
        self.dropped_while_away = 0

    def admit(self, *, connected: bool) -> bool:
        """Return whether one more message may be handed over; count it when not."""
        with self._room:
            if connected or len(self._pending) < self._limit:
                return True
            self.dropped_while_away += 1
            return False

    def drop(self) -> None:
        """Count a message the client let go of while the broker is away."""
        with self._room:
            self.dropped_while_away += 1

    def record(self, mid: int, qos: int) -> None:
        """Remember a message the client took (after its publish call returned)."""
        with self._room:
            if mid in self._early:  # paho's thread reported it before we got here
                self._early.discard(mid)
            else:
                self._pending[mid] = qos

    def published(self, mid: int) -> None:
        """Forget a message the client reports published; wake waiting workers."""
        with self._room:
            if self._pending.pop(mid, None) is None:
                self._early.add(mid)
            if len(self._pending) < HIGH_WATER:
                self._room.notify_all()

    def disconnected(self) -> None:
        """Forget QoS 0 messages (paho sends them again only with QoS > 0); wake waiters."""
        with self._room:
            self._pending = {mid: qos for mid, qos in self._pending.items() if qos > 0}
            self._early.clear()
            self._room.notify_all()

    def wake(self) -> None:
        """Wake waiting workers (the bridge stops)."""
        with self._room:
            self._room.notify_all()

    def take_dropped(self) -> int:
        """Return how many were dropped while away since the last call, and reset it."""
        with self._room:
            dropped, self.dropped_while_away = self.dropped_while_away, 0
            return dropped

    def __len__(self) -> int:
        with self._room:
            return len(self._pending)

    def wait_for_room(self, timeout: float) -> bool:
        """Wait while the backlog is at its high water; False if it still is at timeout."""
        with self._room:
            return self._room.wait_for(self._has_room, timeout)

    def _has_room(self) -> bool:
        return len(self._pending) < HIGH_WATER or self._passing()
