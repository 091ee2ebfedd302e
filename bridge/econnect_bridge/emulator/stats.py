"""Counters of what the emulator saw, so tests can assert on the server side of the story.

The bridge's tests ask questions a client cannot answer alone: did it renew instead of logging
in again, how many publish calls ran at once, did the duplicate window swallow a call. Every
counter is updated under one lock; :meth:`Stats.snapshot` returns plain JSON-able data.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Stats"]

_RECENT = 50


class Stats:
    """Thread-safe request, token and detection counters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Zero every counter (the admin reset and tests between cases)."""
        with self._lock:
            self._requests: dict[str, dict[str, int]] = {}
            self._counters = dict.fromkeys(
                (
                    "authentications",
                    "authentication_failures",
                    "renewals",
                    "detections",
                    "faces_detected",
                    "duplicates_suppressed",
                ),
                0,
            )
            self._in_flight = 0
            self._max_in_flight = 0
            self._recent: deque[dict[str, Any]] = deque(maxlen=_RECENT)

    def record_request(self, endpoint: str, status: int | str) -> None:
        """Count one answered (or dropped, ``status="dropped"``) request."""
        with self._lock:
            per_status = self._requests.setdefault(endpoint, {})
            per_status[str(status)] = per_status.get(str(status), 0) + 1

    def count(self, name: str, amount: int = 1) -> None:
        """Add to a named counter such as ``renewals``."""
        with self._lock:
            self._counters[name] = self._counters.get(name, 0) + amount

    def record_detection(self, endpoint: str, detector: str, person_ids: list[str | None]) -> None:
        """Remember one recognition run (publish endpoints; duplicates are not recognitions)."""
        with self._lock:
            self._counters["detections"] += 1
            self._counters["faces_detected"] += len(person_ids)
            self._recent.append(
                {
                    "endpoint": endpoint,
                    "detectorName": detector,
                    "faces": len(person_ids),
                    "personIds": person_ids,
                    "at": time.time(),
                }
            )

    @contextmanager
    def publish_in_flight(self) -> Iterator[None]:
        """Track how many publish requests are being processed at once."""
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def snapshot(self) -> dict[str, Any]:
        """Everything, as ``GET /_emulator/stats`` answers it."""
        with self._lock:
            return {
                "requests": {k: dict(v) for k, v in self._requests.items()},
                **self._counters,
                "concurrent_publish": self._in_flight,
                "max_concurrent_publish": self._max_in_flight,
                "recent_detections": list(self._recent),
            }
