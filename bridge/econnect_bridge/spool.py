"""Store and forward: snapshots kept on disk (SQLite) while the engine is away.

The spool is a FIFO bounded by count (`max_items`: the oldest is dropped to make room) and by
age (`max_age` seconds: older entries are dropped by `expire()`); both kinds of loss are returned
to the caller, which reports each as an error event. It survives a restart of the bridge: the
file is reopened and replayed in order. Only the standard library is used.

Thread-safe: one connection, guarded by a lock (workers put, the replay thread takes).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from econnect_bridge.sources import Snapshot

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    spooled_at REAL NOT NULL,
    camera TEXT NOT NULL,
    topic TEXT NOT NULL,
    content_type TEXT NOT NULL,
    detect_time TEXT NOT NULL,
    image BLOB NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class SpoolItem:
    """One spooled snapshot and its row id."""

    item_id: int
    spooled_at: float
    snapshot: Snapshot


class Spool:
    """A bounded, persistent FIFO of snapshots."""

    def __init__(
        self,
        path: Path | str,
        *,
        max_items: int = 1000,
        max_age: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.max_items = max_items
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a spooled snapshot survives a power cut
        self._db.execute(_SCHEMA)
        self.path.chmod(0o600)  # images of people: readable by the bridge's user only
        self._count = int(self._db.execute("SELECT COUNT(*) FROM spool").fetchone()[0])

    def __len__(self) -> int:
        return self._count

    def put(self, snapshot: Snapshot) -> list[SpoolItem]:
        """Append a snapshot; return the oldest ones dropped to stay within `max_items`."""
        with self._lock:
            self._db.execute(
                "INSERT INTO spool (spooled_at, camera, topic, content_type, detect_time, image)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    self._clock(),
                    snapshot.camera,
                    snapshot.topic,
                    snapshot.content_type,
                    snapshot.detect_time.isoformat(),
                    snapshot.image,
                ),
            )
            self._count += 1
            evicted: list[SpoolItem] = []
            while self._count > self.max_items:
                oldest = self._oldest()
                if oldest is None:
                    break
                self._delete(oldest.item_id)
                evicted.append(oldest)
            return evicted

    def oldest(self) -> SpoolItem | None:
        """Return the oldest entry without removing it."""
        with self._lock:
            return self._oldest()

    def remove(self, item_id: int) -> None:
        """Delete an entry once the engine has accepted it."""
        with self._lock:
            self._delete(item_id)

    def expire(self) -> list[SpoolItem]:
        """Remove and return the entries older than `max_age`."""
        cutoff = self._clock() - self.max_age
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM spool WHERE spooled_at < ? ORDER BY id", (cutoff,)
            ).fetchall()
            items = [_item(row) for row in rows]
            for item in items:
                self._delete(item.item_id)
            return items

    def close(self) -> None:
        """Close the database (entries stay on disk)."""
        with self._lock:
            self._db.close()

    def _oldest(self) -> SpoolItem | None:
        row = self._db.execute("SELECT * FROM spool ORDER BY id LIMIT 1").fetchone()
        return None if row is None else _item(row)

    def _delete(self, item_id: int) -> None:
        deleted = self._db.execute("DELETE FROM spool WHERE id = ?", (item_id,)).rowcount
        self._count -= deleted


def _item(row: tuple[int, float, str, str, str, str, bytes]) -> SpoolItem:
    item_id, spooled_at, camera, topic, content_type, detect_time, image = row
    snapshot = Snapshot(
        camera=camera,
        topic=topic,
        image=bytes(image),
        content_type=content_type,
        detect_time=datetime.fromisoformat(detect_time),
    )
    return SpoolItem(item_id, spooled_at, snapshot)
