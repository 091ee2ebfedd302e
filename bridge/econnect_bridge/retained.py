"""Collect the retained states the broker holds for this bridge, once, at start.

The bridge reads its own retained state topics back after connecting (`recovery.py` says why
and parses them). paho's thread hands each message to `RetainedStates.add`; the control loop
takes them all once, after the settle time, and unsubscribes: from then on the bridge's own
live publishes on those topics would only come back to it.
"""

from __future__ import annotations

import threading

from econnect_bridge.messages import Incoming


class RetainedStates:
    """The retained (topic, payload) pairs seen on `filters` until `take()`."""

    def __init__(self, filters: tuple[str, ...]) -> None:
        self._filters = filters
        self._messages: list[tuple[str, bytes]] = []
        self._open = True
        self._lock = threading.Lock()

    @property
    def filters(self) -> tuple[str, ...]:
        """The topic filters to subscribe to before connecting."""
        return self._filters

    def add(self, message: Incoming) -> None:
        """Keep a retained message until the hand-over (paho's thread); ignore live ones."""
        if not message.retain:
            return  # the bridge's own live publish, not what a previous run left
        with self._lock:
            if self._open:
                self._messages.append((message.topic, message.payload))

    def take(self) -> list[tuple[str, bytes]]:
        """Return what was collected, once; later messages are ignored."""
        with self._lock:
            self._open = False
            taken, self._messages = self._messages, []
            return taken
