"""The network thread's part: a message in, a snapshot offered to the throttle, nothing more.

Runs on paho's thread, so it never blocks and never raises: retained messages are skipped (when
`mqtt.skip_retained`), QoS 1 redeliveries are recognised, the payload is decoded (CPU work
bounded by `max_image_bytes`, no I/O), and a bad payload becomes an error event right here.
The camera a snapshot comes from is learnt by the camera directory, which announces new ones.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from econnect_bridge.cameras import CameraDirectory
from econnect_bridge.dedupe import RedeliveryFilter
from econnect_bridge.messages import Incoming
from econnect_bridge.reporting import Reporter
from econnect_bridge.sources import DecodedPayload, PayloadError, Snapshot, Source, decode_payload
from econnect_bridge.throttle import SnapshotQueue

_LOGGER = logging.getLogger("econnect_bridge.pipeline")  # the pipeline's log lines, as before


class Intake:
    """Turn incoming messages into snapshots for the latest-wins queue."""

    def __init__(
        self,
        *,
        cameras: CameraDirectory,
        queue: SnapshotQueue,
        dedupe: RedeliveryFilter,
        reporter: Reporter,
        skip_retained: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cameras = cameras
        self._queue = queue
        self._dedupe = dedupe
        self._reporter = reporter
        self._skip_retained = skip_retained
        self._clock = clock

    def on_message(self, source: Source, message: Incoming) -> None:
        """Decode a snapshot and queue it; never blocks, never raises."""
        if message.retain and self._skip_retained:
            self._reporter.count("skipped_retained")
            return
        if self._dedupe.is_redelivery(message):
            self._reporter.count("redeliveries_skipped")
            return
        self._reporter.count("received")
        camera = source.camera_for(message.topic)
        decoded = self._decode(source, message, camera)
        if decoded is None:
            return
        camera = decoded.camera or camera
        self._cameras.learn(camera, source)
        _LOGGER.debug(
            "%s: snapshot on %s, %d bytes of %s",
            camera,
            message.topic,
            len(decoded.image),
            decoded.content_type,
        )
        snapshot = Snapshot(
            camera=camera,
            topic=message.topic,
            image=decoded.image,
            content_type=decoded.content_type,
            detect_time=decoded.detect_time or datetime.now(UTC),
            received=self._clock(),
        )
        if self._queue.offer(snapshot, min_interval=source.settings.min_interval) is not None:
            self._reporter.count("dropped")

    def _decode(self, source: Source, message: Incoming, camera: str) -> DecodedPayload | None:
        """Decode the payload; report why it cannot be, and return None then."""
        try:
            return decode_payload(message.payload, source.payload)
        except PayloadError as err:
            self._reporter.error(err.code, str(err), camera, message.topic)
        except (RecursionError, MemoryError, ValueError, TypeError) as err:
            # e.g. JSON nested 100 000 levels deep: still an error event, never a lost message
            name = type(err).__name__
            text = f"unreadable payload ({name})"
            self._reporter.error("bad_payload", text, camera, message.topic)
        return None
