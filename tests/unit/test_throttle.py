"""Latest-wins per camera, one in flight per camera, min interval: driven with a fake clock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from econnect_bridge.sources import Snapshot
from econnect_bridge.throttle import SnapshotQueue
from econnect_identities.cooldown import Cooldown


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def snap(camera: str, n: int) -> Snapshot:
    return Snapshot(camera, f"t/{camera}", bytes([n]), "image/jpeg", datetime.now(UTC))


def test_newest_snapshot_wins_and_drops_are_counted() -> None:
    queue = SnapshotQueue()
    assert queue.offer(snap("a", 1)) is None
    replaced = queue.offer(snap("a", 2))
    assert replaced is not None
    assert replaced.image == b"\x01"
    taken = queue.take(0)
    assert taken is not None
    assert taken.image == b"\x02"
    assert queue.stats.dropped == 1


def test_one_in_flight_per_camera_and_cameras_interleave() -> None:
    queue = SnapshotQueue()
    queue.offer(snap("a", 1))
    first = queue.take(0)
    assert first is not None
    queue.offer(snap("a", 2))
    queue.offer(snap("b", 1))
    second = queue.take(0)
    assert second is not None
    assert second.camera == "b"  # a is busy: its next snapshot waits
    assert queue.take(0) is None
    queue.done("a")
    third = queue.take(0)
    assert third is not None
    assert (third.camera, third.image) == ("a", b"\x02")


def test_min_interval_spaces_calls_and_keeps_the_newest() -> None:
    clock = Clock()
    queue = SnapshotQueue(clock=clock)
    queue.offer(snap("a", 1), min_interval=5.0)
    assert queue.take(0) is not None
    queue.done("a")
    queue.offer(snap("a", 2), min_interval=5.0)
    queue.offer(snap("a", 3), min_interval=5.0)
    assert queue.take(0) is None  # not due yet
    clock.now = 5.0
    due = queue.take(0)
    assert due is not None
    assert due.image == b"\x03"
    assert queue.stats.dropped == 1


def test_close_wakes_waiting_workers() -> None:
    queue = SnapshotQueue()
    results: list[object] = []
    worker = threading.Thread(target=lambda: results.append(queue.take()))
    worker.start()
    queue.close()
    worker.join(2)
    assert results == [None]


def test_drain_returns_waiting_snapshots() -> None:
    queue = SnapshotQueue()
    queue.offer(snap("a", 1))
    queue.offer(snap("b", 1))
    assert {s.camera for s in queue.drain()} == {"a", "b"}
    assert queue.pending() == 0


def test_cooldown_allows_once_per_window_and_bounds_memory() -> None:
    cooldown = Cooldown(30, max_keys=4)
    assert cooldown.allow("jane", 0)
    assert not cooldown.allow("jane", 29.9)
    assert cooldown.allow("jane", 30)
    for i in range(10):
        cooldown.allow(f"p{i}", 31)
    assert len(cooldown._last) <= 4
