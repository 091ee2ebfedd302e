"""The decode stage: from an arrival in the inbox to a snapshot in the latest-wins queue.

One thread, off paho's: it recognises QoS 1 redeliveries (a fingerprint of topic and bytes),
decodes the payload (raw JPEG/PNG/WebP, JSON with base64, data URIs: CPU work bounded by the
source's `max_image_bytes`), learns the camera (which announces a new one), and offers the
snapshot to the throttle. A payload that holds no image becomes an error event here, and the
stage carries on: nothing a publisher sends can stop it.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Protocol

from econnect_bridge.cameras import BlankCameraNameError, CameraDirectory
from econnect_bridge.dedupe import RedeliveryFilter
from econnect_bridge.intake import Arrival, Inbox
from econnect_bridge.reporting import Reporter
from econnect_bridge.sources import DecodedPayload, PayloadError, Snapshot, decode_payload
from econnect_bridge.throttle import SnapshotQueue
from econnect_identities.payloads import check_size


class ObjectMessages(Protocol):
    """The follower of Frigate objects (`frigate_follow.FrigateFollower`), as decode sees it."""

    def on_arrival(self, arrival: Arrival) -> None:
        """Take one message about Frigate's tracked objects."""


_LOGGER = logging.getLogger("econnect_bridge.pipeline")  # the pipeline's log lines, as before


class Decoder:
    """Turn arrivals into snapshots for the latest-wins queue."""

    def __init__(
        self,
        *,
        inbox: Inbox,
        cameras: CameraDirectory,
        queue: SnapshotQueue,
        dedupe: RedeliveryFilter,
        reporter: Reporter,
        objects: ObjectMessages | None = None,
    ) -> None:
        self._objects = objects
        self._inbox = inbox
        self._cameras = cameras
        self._queue = queue
        self._dedupe = dedupe
        self._reporter = reporter
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the decode thread; it runs until the inbox is closed and empty."""
        self._thread = threading.Thread(target=self._run, name="econnect-decode", daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> None:
        """Wait for the decode thread to finish what the inbox held."""
        if self._thread is not None:
            self._thread.join(timeout)

    def alive(self) -> bool:
        """Return whether the decode thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while (arrival := self._inbox.get()) is not None:
            try:
                self.offer(arrival)
            except Exception:  # a bug must cost one snapshot, never the stage
                _LOGGER.exception(
                    "unexpected error decoding a message on %s", arrival.message.topic
                )
                self._reporter.error(
                    "internal_error", "unexpected error", None, arrival.message.topic
                )
                arrival.message.ack()  # its error event is out; holding it would leak a slot

    def offer(self, arrival: Arrival) -> Snapshot | None:
        """Decode one arrival and queue its snapshot; return it (None when refused).

        A refused message is acknowledged here (its error event is out); a queued one travels
        with its acknowledgement, and one it replaces is acknowledged as superseded.
        """
        message = arrival.message
        if not arrival.oversize and self._dedupe.is_redelivery(message):
            self._reporter.count("redeliveries_skipped")
            message.ack()
            return None
        if arrival.source.kind == "frigate_events":
            self._to_follower(arrival)
            return None
        camera = arrival.source.camera_for(message.topic)
        decoded = self._decode(arrival, camera)
        if decoded is None:
            message.ack()
            return None
        camera = decoded.camera or camera
        try:
            self._cameras.learn(camera, arrival.source)
        except BlankCameraNameError as err:
            text = f"snapshot on {message.topic!r} refused: {err}"
            self._reporter.error(err.code, text, None, message.topic)
            message.ack()
            return None
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
            received=arrival.received,
            ack=message.ack,
        )
        min_interval = arrival.source.settings.min_interval
        replaced = self._queue.offer(snapshot, min_interval=min_interval)
        if replaced is not None:
            self._reporter.count("dropped")
            replaced.ack()
        return snapshot

    def _to_follower(self, arrival: Arrival) -> None:
        """Hand a Frigate object message to its follower (events mode); it is small JSON."""
        message = arrival.message
        try:
            check_size(arrival.oversize, arrival.source.payload)
        except PayloadError as err:
            self._reporter.error(err.code, str(err), None, message.topic)
        else:
            if self._objects is not None:
                self._objects.on_arrival(arrival)
        message.ack()

    def _decode(self, arrival: Arrival, camera: str) -> DecodedPayload | None:
        """Decode the payload; report why it cannot be, and return None then."""
        topic = arrival.message.topic
        try:
            check_size(arrival.oversize, arrival.source.payload)
            return decode_payload(arrival.message.payload, arrival.source.payload)
        except PayloadError as err:
            self._reporter.error(err.code, str(err), camera, topic)
        except (RecursionError, MemoryError, ValueError, TypeError) as err:
            # e.g. JSON nested 100 000 levels deep: still an error event, never a lost message
            text = f"unreadable payload ({type(err).__name__})"
            self._reporter.error("bad_payload", text, camera, topic)
        return None
