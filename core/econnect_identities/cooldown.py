"""One sighting per person and camera within a cooldown: the anti-spam rule, written once.

Used by the bridge (person/tag events on MQTT) and by the integration (bus events), so a
visit at the door produces one notification in both. Pure: the caller passes the time.
"""

from __future__ import annotations

from collections.abc import Hashable


class Cooldown:
    """Let a key through at most once per `seconds`.

    A sighting inside the window does not extend it: someone standing at the door for ten
    minutes with a 30 s cooldown yields one event every 30 s, not one event ever.
    """

    def __init__(self, seconds: float, *, max_keys: int = 10_000) -> None:
        self.seconds = seconds
        self._max_keys = max_keys
        self._last: dict[Hashable, float] = {}

    def allow(self, key: Hashable, now: float) -> bool:
        """Return True (and start a window) if `key` has no window open at `now`."""
        last = self._last.get(key)
        if last is not None and now - last < self.seconds:
            return False
        if len(self._last) >= self._max_keys:
            self._forget_expired(now)
        self._last[key] = now
        return True

    def _forget_expired(self, now: float) -> None:
        """Bound memory: drop closed windows, and the oldest half if all are still open."""
        self._last = {k: t for k, t in self._last.items() if now - t < self.seconds}
        if len(self._last) >= self._max_keys:
            keep = sorted(self._last.items(), key=lambda item: item[1])[self._max_keys // 2 :]
            self._last = dict(keep)
