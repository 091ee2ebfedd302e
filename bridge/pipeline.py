"""Snapshots in, engine calls in a worker pool, messages out: the bridge's main job.

`on_message` runs on paho's network thread: it only decodes the payload (no I/O) and offers
the snapshot to the latest-wins queue. Workers take snapshots, call the engine through the
shared client, and publish what the state book says. The pipeline never imports paho; it talks
to a `Publisher`.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from bridge import __version__
from bridge.config.model import CameraSettings
from bridge.econnect.client import EconnectClient
from bridge.econnect.errors import EconnectConnectionError, EconnectError, EconnectServerError
from bridge.econnect.models import PublishOptions, RecognitionResult
from bridge.events import Sighting, error_event
from bridge.mqtt import Incoming, Publisher
from bridge.sources import PayloadError, Snapshot, Source, decode_payload
from bridge.statebook import Message, StateBook
from bridge.states import HealthState, Topics, bridge_state_payload, encode
from bridge.throttle import SnapshotQueue

_LOGGER = logging.getLogger(__name__)


def publish_options(settings: CameraSettings) -> PublishOptions:
    """Translate a camera's settings into the engine's request switches."""
    include = settings.include
    return PublishOptions(
        largest_face_only=settings.largest_face_only,
        allow_double_detection=settings.allow_double_detection,
        include_person=include.person,
        include_names=include.names,
        include_addresses=include.addresses,
        include_tags=include.tags,
        include_fields=include.fields,
    )


def apply_thresholds(result: RecognitionResult, settings: CameraSettings) -> RecognitionResult:
    """Drop faces below the camera's confidence, quality or size thresholds."""
    kept = tuple(
        face
        for face in result.faces
        if face.confidence >= settings.min_confidence
        and face.quality >= settings.min_face_quality
        and min(face.box.width, face.box.height) >= settings.min_face_size
    )
    return result if len(kept) == len(result.faces) else RecognitionResult(kept)


@dataclasses.dataclass
class Health:
    """Counters behind the bridge's health entities (guarded by the pipeline's lock)."""

    started: datetime = dataclasses.field(default_factory=lambda: datetime.now(UTC))
    received: int = 0
    processed: int = 0
    dropped: int = 0
    errors: int = 0
    skipped_retained: int = 0
    api_reachable: bool = False
    api_latency_ms: float | None = None
    last_error: str | None = None

    def state(self) -> HealthState:
        """Freeze the counters for publishing."""
        return HealthState(
            version=__version__,
            started=self.started,
            api_reachable=self.api_reachable,
            api_latency_ms=self.api_latency_ms,
            processed=self.processed,
            dropped=self.dropped,
            errors=self.errors,
            last_error=self.last_error,
        )


class Pipeline:
    """Process snapshots with a fixed pool of workers sharing one engine client."""

    def __init__(
        self,
        *,
        client: EconnectClient,
        publisher: Publisher,
        topics: Topics,
        book: StateBook,
        workers: int,
        default_settings: CameraSettings,
        skip_retained: bool = True,
        retain_state: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._publisher = publisher
        self._topics = topics
        self._book = book
        self._workers = workers
        self._skip_retained = skip_retained
        self._retain_state = retain_state
        self._clock = clock
        self._default_settings = default_settings
        self._sources: dict[str, Source] = {}
        self._lock = threading.Lock()  # guards the book and the health counters
        self.queue = SnapshotQueue(min_interval=self._min_interval, clock=clock)
        self.health = Health()
        self._threads: list[threading.Thread] = []

    def _min_interval(self, camera: str) -> float:
        return self.settings_for(camera).min_interval

    def settings_for(self, camera: str) -> CameraSettings:
        """Return the settings of the source a camera's snapshots arrive on."""
        source = self._sources.get(camera)
        return source.settings if source else self._default_settings

    def cameras_seen(self) -> list[str]:
        """Return every camera a snapshot has arrived from, in order of first arrival."""
        return list(self._sources)

    def mark_engine(self, *, reachable: bool, error: EconnectError | None = None) -> None:
        """Record the engine's reachability from outside the workers (the start-up sign-in)."""
        with self._lock:
            self.health.api_reachable = reachable
            if error is not None:
                self.health.last_error = f"{error.code}: {error}"[:250]

    def publish_initial_states(self, cameras: tuple[str, ...]) -> None:
        """Announce every known camera, person and tag as absent (after connecting)."""
        with self._lock:
            messages = self._book.initial(cameras, datetime.now(UTC))
        self._send(messages)

    # -- network thread ------------------------------------------------------------------

    def on_message(self, source: Source, message: Incoming) -> None:
        """Decode a snapshot and queue it; never blocks, never raises."""
        camera = source.camera_for(message.topic)
        if message.retain and self._skip_retained:
            with self._lock:
                self.health.skipped_retained += 1
            return
        with self._lock:
            self.health.received += 1
        try:
            decoded = decode_payload(message.payload, source.payload)
        except PayloadError as err:
            self._report_error(err.code, str(err), camera, message.topic)
            return
        camera = decoded.camera or camera
        self._sources[camera] = source
        snapshot = Snapshot(
            camera=camera,
            topic=message.topic,
            image=decoded.image,
            content_type=decoded.content_type,
            detect_time=decoded.detect_time or datetime.now(UTC),
            received=self._clock(),
        )
        if self.queue.offer(snapshot) is not None:
            with self._lock:
                self.health.dropped += 1

    # -- workers ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker threads."""
        for index in range(self._workers):
            thread = threading.Thread(target=self._work, name=f"econnect-worker-{index}")
            thread.daemon = True
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> int:
        """Let in-flight calls finish, stop the workers; return how many waiting were left."""
        left = len(self.queue.drain())
        self.queue.close()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return left

    def _work(self) -> None:
        while (snapshot := self.queue.take()) is not None:
            try:
                self._process(snapshot)
            except Exception:
                _LOGGER.exception("unexpected error processing a snapshot from %s", snapshot.camera)
                self._report_error("internal_error", "unexpected error", snapshot.camera, None)
            finally:
                self.queue.done(snapshot.camera)

    def _process(self, snapshot: Snapshot) -> None:
        source = self._sources[snapshot.camera]
        settings = source.settings
        started = time.perf_counter()
        try:
            result = self._call_engine(snapshot, source)
        except EconnectError as err:
            self._engine_failed(err, snapshot)
            return
        latency = (time.perf_counter() - started) * 1000
        with self._lock:
            self.health.processed += 1
            self.health.api_reachable = True
            self.health.api_latency_ms = latency
        if result is None:  # fire-and-forget: nothing comes back to report
            return
        result = apply_thresholds(result, settings)
        sighting = Sighting(
            camera=snapshot.camera,
            detector_name=source.detector_for(snapshot.camera),
            detect_time=snapshot.detect_time,
            source_topic=snapshot.topic,
            latency_ms=latency,
        )
        _log_result(sighting, result)
        with self._lock:
            messages = self._book.record(result, sighting, self._clock())
        self._send(messages)

    def _call_engine(self, snapshot: Snapshot, source: Source) -> RecognitionResult | None:
        detector = source.detector_for(snapshot.camera)
        if source.settings.mode == "publish":
            self._client.publish(
                snapshot.image,
                detector_name=detector,
                time_zone=source.time_zone,
                detect_time=snapshot.detect_time,
            )
            return None
        return self._client.publish_with_response(
            snapshot.image,
            detector_name=detector,
            time_zone=source.time_zone,
            detect_time=snapshot.detect_time,
            options=publish_options(source.settings),
        )

    def _engine_failed(self, err: EconnectError, snapshot: Snapshot) -> None:
        if isinstance(err, EconnectConnectionError | EconnectServerError):
            with self._lock:
                self.health.api_reachable = False
        _LOGGER.warning("%s: engine call failed: %s", snapshot.camera, err)
        self._report_error(err.code, str(err), snapshot.camera, snapshot.topic)

    # -- output ----------------------------------------------------------------------------

    def _report_error(self, code: str, text: str, camera: str | None, topic: str | None) -> None:
        with self._lock:
            self.health.errors += 1
            self.health.last_error = f"{code}: {text}"[:250]
        payload = error_event(code, text, camera=camera, source_topic=topic)
        self._publisher.publish(self._topics.errors(), encode(payload))

    def _send(self, messages: list[Message]) -> None:
        for message in messages:
            self._publisher.publish(message.topic, message.payload, retain=message.retain)

    def tick(self) -> None:
        """Turn off expired presence and publish health; call about once a second."""
        with self._lock:
            messages = self._book.expire(self._clock())
        self._send(messages)

    def publish_health(self) -> None:
        """Publish the health counters (retained when `retain_state`)."""
        with self._lock:
            payload = encode(bridge_state_payload(self.health.state()))
        self._publisher.publish(self._topics.bridge_state(), payload, retain=self._retain_state)


def _log_result(sighting: Sighting, result: RecognitionResult) -> None:
    names = ", ".join(f.person.display_name for f in result.known_faces if f.person) or "-"
    _LOGGER.info(
        "%s: %s, %d face(s), known: %s (%.0f ms)",
        sighting.camera,
        result.outcome,
        len(result.faces),
        names,
        sighting.latency_ms or 0.0,
    )
