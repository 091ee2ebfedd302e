"""Presence that turns itself off: "someone known is at the door" for N seconds after a sighting.

The bridge, not Home Assistant, owns these timers so that the retained ON/OFF states are right
for every subscriber (Node-RED too) and after a Home Assistant restart. Pure: the caller passes
the time and publishes what changed. A window recovered after a restart is held with `hold`.
"""

from __future__ import annotations

from collections.abc import Hashable


class PresenceBoard:
    """Keys that are ON until `timeout` seconds after they were last seen."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._until: dict[Hashable, float] = {}

    def seen(self, key: Hashable, now: float) -> bool:
        """Mark `key` present until now + timeout; return True if it was OFF before."""
        was_on = key in self._until
        self._until[key] = now + self.timeout
        return not was_on

    def hold(self, key: Hashable, until: float) -> None:
        """Keep `key` ON until `until` (monotonic), unless it already lasts longer.

        For presence recovered at start: what is left of a window opened before a restart,
        already converted to this clock, so it times out through `expire` like any other.
        """
        self._until[key] = max(until, self._until.get(key, until))

    def is_on(self, key: Hashable) -> bool:
        """Return whether `key` is present."""
        return key in self._until

    def active(self) -> list[Hashable]:
        """Return the keys that are ON."""
        return list(self._until)

    def expire(self, now: float) -> list[Hashable]:
        """Turn OFF every key whose time is up and return them."""
        gone = [key for key, until in self._until.items() if until <= now]
        for key in gone:
            del self._until[key]
        return gone
