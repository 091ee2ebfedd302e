"""Store and forward: snapshots wait in the spool while the engine is away, then go out in order.

Workers put a snapshot here when its failure means "the engine is away" (and the spool holds its
mode: `publish` always, `publish_with_response` with `spool.responses`), and while older ones
still wait, so a camera's results keep their order. One replay thread sends the oldest whenever
the engine takes it; every snapshot the spool drops (full, too old, no source, refused) is an
error event. After a restart the camera of a spooled snapshot is found by its topic.
"""

from __future__ import annotations

import logging
import threading

from econnect_bridge.cameras import BlankCameraNameError, CameraDirectory
from econnect_bridge.delivery import Delivery
from econnect_bridge.engine_stage import CircuitOpenError, EngineCaller, ShuttingDownError
from econnect_bridge.reporting import Reporter
from econnect_bridge.retry import is_transient
from econnect_bridge.sources import Snapshot
from econnect_bridge.spool import Spool, SpoolItem
from econnect_identities.errors import EconnectError

_LOGGER = logging.getLogger("econnect_bridge.pipeline")  # the pipeline's log lines, as before


def spoolable(err: Exception) -> bool:
    """Return whether a failure means "the engine is away", so the snapshot can wait."""
    if isinstance(err, CircuitOpenError | ShuttingDownError):
        return True
    return isinstance(err, EconnectError) and is_transient(err)


class Replayer:
    """Keep snapshots in the spool and send them again, oldest first."""

    def __init__(
        self,
        *,
        spool: Spool,
        cameras: CameraDirectory,
        engine: EngineCaller,
        delivery: Delivery,
        reporter: Reporter,
        stopping: threading.Event,
        spool_responses: bool = False,
    ) -> None:
        self._spool = spool
        self._cameras = cameras
        self._engine = engine
        self._delivery = delivery
        self._reporter = reporter
        self._stopping = stopping
        self._spool_responses = spool_responses
        self._wakeup = threading.Event()

    def has_waiting(self) -> bool:
        """Return whether older snapshots wait (a new one must queue behind them)."""
        return len(self._spool) > 0

    def keep(self, snapshot: Snapshot) -> bool:
        """Keep a snapshot on disk for later, if the spool takes its mode."""
        source = self._cameras.source_for(snapshot.camera)
        if source is None:
            return False
        if source.settings.mode != "publish" and not self._spool_responses:
            return False
        evicted = self._spool.put(snapshot)
        self._reporter.count("spooled")
        for item in evicted:
            self._lose(item, "spool_full", "the spool was full: the oldest was dropped")
        self._wakeup.set()
        return True

    def wake(self) -> None:
        """Wake the replay thread (to stop, or because a snapshot arrived)."""
        self._wakeup.set()

    def close(self) -> None:
        """Close the spool file (its entries stay on disk for the next run)."""
        self._spool.close()

    def run(self) -> None:
        """Send spooled snapshots, oldest first, whenever the engine takes them."""
        attempt = 0
        while not self._stopping.is_set():
            try:
                wait = self._step(attempt)
            except Exception:
                _LOGGER.exception("unexpected error replaying the spool")
                wait = 1.0
            if wait is None:
                attempt = 0
            elif wait > 0:
                attempt += 1
                self._stopping.wait(wait)

    def _step(self, attempt: int) -> float | None:
        """Expire, then try the oldest; return the wait before the next try (0: idle wait)."""
        for item in self._spool.expire():
            self._lose(item, "spool_expired", "kept in the spool for too long")
        oldest = self._spool.oldest()
        if oldest is None:
            self._wakeup.wait(1.0)
            self._wakeup.clear()
            return 0.0
        return self._replay_one(oldest, attempt)

    def _replay_one(self, item: SpoolItem, attempt: int) -> float | None:
        """Send one spooled snapshot; return how long to wait before the next try, or None."""
        snapshot = item.snapshot
        # By topic first: two sources may have cameras of the same name (another mode).
        source = self._cameras.configured_for(snapshot.topic) or self._cameras.source_for(
            snapshot.camera
        )
        if source is None:
            self._spool.remove(item.item_id)
            self._lose(item, "spool_orphan", "no configured source for its topic")
            return None
        try:
            self._cameras.learn(snapshot.camera, source, replace=False)
        except BlankCameraNameError as err:  # spooled by an older version
            self._spool.remove(item.item_id)
            self._lose(item, err.code, str(err))
            return None
        try:
            result, latency = self._engine.call_once(snapshot, source)
        except CircuitOpenError:
            return max(0.2, self._engine.retry.circuit.retry_in())
        if isinstance(result, EconnectError):
            if is_transient(result):
                return self._engine.retry.backoff.delay(min(attempt, 6)) + 0.1
            self._spool.remove(item.item_id)
            self._lose(item, result.code, str(result))
            return None
        self._spool.remove(item.item_id)
        self._reporter.count("replayed")
        self._delivery.deliver(snapshot, source, result, latency, delayed=True)
        return None

    def _lose(self, item: SpoolItem, code: str, text: str) -> None:
        self._reporter.count("lost")
        _LOGGER.warning("%s: spooled snapshot lost: %s", item.snapshot.camera, text)
        self._reporter.error(code, text, item.snapshot.camera, item.snapshot.topic)
