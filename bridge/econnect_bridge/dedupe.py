"""Recognise a QoS 1 message the broker sends again, so one snapshot is one engine call.

QoS 1 is "at least once": a broker that restarts, or a connection that drops before our PUBACK,
redelivers. Processing it twice would emit the event twice, so a DUP message whose topic and
bytes were seen among the last `RECENT_MESSAGES` is skipped. Identical images sent again
*without* DUP are processed, unless they come within `dedupe_window` seconds
(`mqtt.dedupe_window`): a publisher that re-sends after a broker crash (its own QoS 1 retry)
produces such copies, and the broker forwards them as new.

The fingerprint is a BLAKE2b digest of topic and payload (about 126 µs per 100 KB), cheap
enough for paho's network thread. The clock is injected, so tests need not sleep.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from econnect_bridge.messages import Incoming

#: How many recent QoS 1 messages are remembered to recognise redeliveries.
RECENT_MESSAGES = 2048


def fingerprint(message: Incoming) -> bytes:
    """Return a digest of a message's topic and payload."""
    digest = hashlib.blake2b(message.topic.encode(), digest_size=16)
    digest.update(b"\0" + message.payload)
    return digest.digest()


class RedeliveryFilter:
    """Remember recent QoS 1 fingerprints; say which message was seen before."""

    def __init__(
        self,
        window: float = 0.0,
        *,
        capacity: int = RECENT_MESSAGES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window = window
        self._capacity = capacity
        self._clock = clock
        self._recent: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()

    def is_redelivery(self, message: Incoming) -> bool:
        """Return True for a message to skip; remember every other QoS 1 message."""
        if message.qos == 0:
            return False
        key = fingerprint(message)
        now = self._clock()
        with self._lock:
            seen = self._recent.get(key)
            if seen is not None and (message.dup or now - seen < self._window):
                return True
            self._recent[key] = now
            self._recent.move_to_end(key)
            if len(self._recent) > self._capacity:
                self._recent.popitem(last=False)
        return False
