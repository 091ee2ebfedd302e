"""Per-camera latest-wins scheduling: bounded latency and memory whatever the load.

Each camera has at most one snapshot waiting (a newer one replaces it, and the replaced one is
counted as dropped) and at most one in the engine, so results for a camera stay in order and
a burst from one camera cannot starve the others. `min_interval` spaces a camera's calls for
cost control; the interval travels with each offered snapshot (the intake knows the camera's
settings), so the queue asks nobody for it. Workers call `take()`, process, then `done()`.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from econnect_bridge.sources import Snapshot


@dataclass(slots=True)
class _Slot:
    pending: Snapshot | None = None
    busy: bool = False
    next_due: float = 0.0
    dropped: int = 0
    interval: float = 0.0  # the camera's min_interval, from its latest offer


@dataclass(slots=True)
class QueueStats:
    """Counters for health entities and benchmarks."""

    offered: int = 0
    dropped: int = 0
    per_camera_dropped: dict[str, int] = field(default_factory=dict)


class SnapshotQueue:
    """Hand the newest snapshot of each camera to one worker at a time."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._slots: dict[str, _Slot] = {}
        self._ready: deque[str] = deque()
        self._waiting: list[tuple[float, str]] = []  # heap of (due time, camera)
        self._cond = threading.Condition()
        self._closed = False
        self.stats = QueueStats()

    def offer(self, snapshot: Snapshot, *, min_interval: float = 0.0) -> Snapshot | None:
        """Queue a snapshot; return the older one it replaced (now dropped), if any.

        `min_interval` is the least time (s) between the starts of two of this camera's calls.
        """
        with self._cond:
            self.stats.offered += 1
            key = snapshot.queue_key
            slot = self._slots.setdefault(key, _Slot())
            slot.interval = min_interval
            replaced, slot.pending = slot.pending, snapshot
            if replaced is not None:
                slot.dropped += 1
                self.stats.dropped += 1
                self.stats.per_camera_dropped[snapshot.camera] = slot.dropped
            elif not slot.busy:
                self._schedule(key, slot)
            return replaced

    def _schedule(self, camera: str, slot: _Slot) -> None:
        if slot.next_due <= self._clock():
            self._ready.append(camera)
        else:
            heapq.heappush(self._waiting, (slot.next_due, camera))
        self._cond.notify()

    def take(self, timeout: float | None = None) -> Snapshot | None:
        """Return the next snapshot to process, or None on timeout or after close()."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._cond:
            while not self._closed:
                self._promote_due()
                if self._ready:
                    snapshot = self._start(self._ready.popleft())
                    if snapshot is not None:
                        return snapshot
                    continue
                wait = self._wait_time(deadline)
                if wait is not None and wait <= 0:
                    return None
                self._cond.wait(wait)
            return None

    def _promote_due(self) -> None:
        now = self._clock()
        while self._waiting and self._waiting[0][0] <= now:
            self._ready.append(heapq.heappop(self._waiting)[1])

    def _wait_time(self, deadline: float | None) -> float | None:
        now = self._clock()
        waits = [due - now for due, _ in self._waiting[:1]]
        if deadline is not None:
            waits.append(deadline - now)
        return min(waits) if waits else None

    def _start(self, camera: str) -> Snapshot | None:
        slot = self._slots[camera]
        snapshot, slot.pending = slot.pending, None
        slot.busy = snapshot is not None
        slot.next_due = self._clock() + slot.interval
        return snapshot

    def done(self, key: str) -> None:
        """Mark a slot's snapshot as processed (`Snapshot.queue_key`); its next one may start.

        A slot of one Frigate object is forgotten once idle: objects come and go by the
        thousand, cameras stay.
        """
        with self._cond:
            slot = self._slots[key]
            slot.busy = False
            if slot.pending is not None:
                self._schedule(key, slot)
            elif "\x00" in key:
                del self._slots[key]

    def pending(self) -> int:
        """Return how many snapshots wait (at most one per camera)."""
        with self._cond:
            return sum(1 for slot in self._slots.values() if slot.pending is not None)

    def in_flight(self) -> int:
        """Return how many snapshots workers are processing now."""
        with self._cond:
            return sum(1 for slot in self._slots.values() if slot.busy)

    def drain(self) -> list[Snapshot]:
        """Remove and return every waiting snapshot (for spooling at shutdown)."""
        with self._cond:
            taken = [s.pending for s in self._slots.values() if s.pending is not None]
            for slot in self._slots.values():
                slot.pending = None
            self._ready.clear()
            self._waiting.clear()
            return taken

    @property
    def closed(self) -> bool:
        """Whether `close()` was called (workers stop taking)."""
        return self._closed

    def close(self) -> None:
        """Wake every waiting worker; `take()` returns None from now on."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
