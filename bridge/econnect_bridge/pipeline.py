"""Snapshots in, engine calls in a worker pool, messages out: the bridge's main job.

`on_message` runs on paho's network thread: it only decodes the payload (no I/O) and offers
the snapshot to the latest-wins queue. Workers take snapshots, call the engine through the
shared client, and publish what the state book says. The pipeline never imports paho; it talks
to a `Publisher`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime

from econnect_bridge import __version__
from econnect_bridge.client import EconnectClient
from econnect_bridge.config.model import CameraSettings
from econnect_bridge.health import LatencyHistogram
from econnect_bridge.mqtt import Incoming, Publisher
from econnect_bridge.retry import RetryPolicy, is_transient
from econnect_bridge.sources import PayloadError, Snapshot, Source, decode_payload
from econnect_bridge.spool import Spool, SpoolItem
from econnect_bridge.statebook import Message, StateBook
from econnect_bridge.states import HealthState, Topics, bridge_state_payload, encode
from econnect_bridge.throttle import SnapshotQueue
from econnect_identities.annotate import annotate
from econnect_identities.errors import EconnectError
from econnect_identities.events import Sighting, error_event
from econnect_identities.models import PublishOptions, RecognitionResult

_LOGGER = logging.getLogger(__name__)

#: How many recent QoS 1 messages are remembered to recognise redeliveries.
RECENT_MESSAGES = 2048
#: Error code of a snapshot refused because the circuit to the engine is open.
CIRCUIT_OPEN = "engine_unavailable"


class CircuitOpenError(Exception):
    """The circuit breaker refused the call: the engine failed too often lately."""

    code = CIRCUIT_OPEN


class ShuttingDownError(Exception):
    """The bridge is stopping: a retry was abandoned."""

    code = "shutting_down"


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
    return result.filtered(
        min_confidence=settings.min_confidence,
        min_quality=settings.min_face_quality,
        min_face_size=settings.min_face_size,
    )


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
    # Reliability figures (not in the MQTT health payload; read by tests and the health endpoint).
    engine_failures: int = 0  # failed engine calls, retries included
    retries: int = 0  # engine calls repeated after a transient failure
    circuit_rejected: int = 0  # snapshots refused while the circuit was open
    lost: int = 0  # snapshots that never got a result (each also an error event)
    spooled: int = 0  # snapshots written to the spool
    replayed: int = 0  # spooled snapshots the engine accepted later
    redeliveries_skipped: int = 0  # QoS 1 duplicates (DUP flag) already received

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
        annotate_snapshots: bool = False,
        clock: Callable[[], float] = time.monotonic,
        retry: RetryPolicy | None = None,
        spool: Spool | None = None,
        spool_responses: bool = False,
        dedupe_window: float = 0.0,
    ) -> None:
        self._client = client
        self._publisher = publisher
        self._topics = topics
        self._book = book
        self._workers = workers
        self._skip_retained = skip_retained
        self._retain_state = retain_state
        self._annotate = annotate_snapshots
        self._clock = clock
        self._default_settings = default_settings
        self._sources: dict[str, Source] = {}
        self._known_sources: tuple[Source, ...] = ()
        self._recent: OrderedDict[bytes, float] = OrderedDict()
        self._dedupe_window = dedupe_window
        self._lock = threading.Lock()  # guards the book and the health counters
        self.queue = SnapshotQueue(min_interval=self._min_interval, clock=clock)
        self.health = Health()
        self.latency = LatencyHistogram()  # engine round trips, for the /metrics endpoint
        self._threads: list[threading.Thread] = []
        self.retry = retry or RetryPolicy()
        self._spool = spool
        self._spool_responses = spool_responses
        self._stopping = threading.Event()
        self._spool_wakeup = threading.Event()

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
            if error is not None:
                self.health.last_error = f"{error.code}: {error}"[:250]
        self._set_reachable(reachable)

    def _set_reachable(self, reachable: bool) -> None:
        """Record the engine's reachability; publish health at once when it changes."""
        with self._lock:
            changed = self.health.api_reachable != reachable
            self.health.api_reachable = reachable
        if changed:
            _LOGGER.log(
                logging.INFO if reachable else logging.WARNING,
                "The eConnect engine is %s",
                "reachable again" if reachable else "unreachable",
            )
            self.publish_health()

    def add_subjects(
        self, *, persons: tuple[str, ...], tags: tuple[str, ...], announce: bool
    ) -> None:
        """Track more persons and tags (from the roster); publish them as absent if `announce`.

        Before the first announce there is nothing to send yet: the initial states name them.
        """
        with self._lock:
            messages = self._book.add_subjects(persons=persons, tags=tags)
        if announce:
            self._send(messages)

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
        if self._is_redelivery(message):
            return
        with self._lock:
            self.health.received += 1
        try:
            decoded = decode_payload(message.payload, source.payload)
        except PayloadError as err:
            self._report_error(err.code, str(err), camera, message.topic)
            return
        except (RecursionError, MemoryError, ValueError, TypeError) as err:
            # e.g. JSON nested 100 000 levels deep: still an error event, never a lost message
            name = type(err).__name__
            self._report_error("bad_payload", f"unreadable payload ({name})", camera, message.topic)
            return
        camera = decoded.camera or camera
        self._sources[camera] = source
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
        if self.queue.offer(snapshot) is not None:
            with self._lock:
                self.health.dropped += 1

    def _is_redelivery(self, message: Incoming) -> bool:
        """Recognise a QoS 1 message the broker sends again after a reconnect (DUP flag).

        QoS 1 is "at least once": a broker that restarts, or a connection that drops before
        our PUBACK, redelivers. Processing it twice would emit the event twice, so a DUP
        message whose topic and bytes were seen among the last `RECENT_MESSAGES` is skipped.
        Identical images sent again *without* DUP are processed, unless they come within
        `dedupe_window` seconds (`mqtt.dedupe_window`): a publisher that re-sends after a broker
        crash (its own QoS 1 retry) produces such copies, and the broker forwards them as new.
        """
        if message.qos == 0:
            return False
        digest = hashlib.blake2b(message.topic.encode(), digest_size=16)
        digest.update(b"\0" + message.payload)
        fingerprint = digest.digest()
        now = self._clock()
        with self._lock:
            seen = self._recent.get(fingerprint)
            if seen is not None and (message.dup or now - seen < self._dedupe_window):
                self.health.redeliveries_skipped += 1
                return True
            self._recent[fingerprint] = now
            self._recent.move_to_end(fingerprint)
            if len(self._recent) > RECENT_MESSAGES:
                self._recent.popitem(last=False)
        return False

    # -- workers ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker threads."""
        for index in range(self._workers):
            thread = threading.Thread(target=self._work, name=f"econnect-worker-{index}")
            thread.daemon = True
            thread.start()
            self._threads.append(thread)
        if self._spool is not None:
            thread = threading.Thread(target=self._replay_loop, name="econnect-spool", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> int:
        """Let in-flight calls finish, stop the workers; return how many were left unsent.

        Snapshots still waiting for a worker are spooled when a spool is configured for their
        mode (they go out after the next start); otherwise each is reported as lost.
        """
        self._stopping.set()
        self._spool_wakeup.set()
        left = 0
        for snapshot in self.queue.drain():
            if not self._spool_if_possible(snapshot):
                left += 1
                self._lose(snapshot, ShuttingDownError("the bridge stopped before sending it"))
        self.queue.close()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._spool is not None:
            self._spool.close()
        return left

    def alive_threads(self) -> int:
        """Return how many worker threads are running (tests check none died)."""
        return sum(1 for thread in self._threads if thread.is_alive())

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
        if self._spool is not None and len(self._spool) and self._spool_if_possible(snapshot):
            return  # older snapshots wait in the spool: keep the order
        try:
            result, latency = self._call_with_retries(snapshot, source)
        except (EconnectError, CircuitOpenError, ShuttingDownError) as err:
            if self._spoolable(err) and self._spool_if_possible(snapshot):
                return
            self._lose(snapshot, err)
            return
        self._deliver(snapshot, source, result, latency, delayed=False)

    def _call_with_retries(
        self, snapshot: Snapshot, source: Source
    ) -> tuple[RecognitionResult | None, float]:
        """Call the engine, retrying transient failures with backoff, through the circuit."""
        attempt = 0
        last: EconnectError | None = None
        while True:
            try:
                result, latency = self._call_once(snapshot, source)
            except CircuitOpenError:
                if last is not None:
                    raise last from None  # say why the engine failed, not that we gave up
                raise
            if not isinstance(result, EconnectError):
                return result, latency
            err = last = result
            delay = self.retry.should_retry(err, attempt)
            if delay is None:
                raise err
            _LOGGER.info(
                "%s: engine call failed (%s); retry %d in %.1f s",
                snapshot.camera,
                err.code,
                attempt + 1,
                delay,
            )
            if self._stopping.wait(delay):
                raise ShuttingDownError("the bridge stopped while waiting to retry") from err
            attempt += 1
            with self._lock:
                self.health.retries += 1

    def _call_once(
        self, snapshot: Snapshot, source: Source
    ) -> tuple[RecognitionResult | EconnectError | None, float]:
        """One engine call through the circuit; returns the error instead of raising it."""
        circuit = self.retry.circuit
        if not circuit.allow():
            with self._lock:
                self.health.circuit_rejected += 1
            wait = circuit.retry_in()
            msg = (
                f"The engine failed {circuit.threshold} times in a row; not calling it for "
                f"{wait:.0f} s more (circuit open)"
            )
            raise CircuitOpenError(msg)
        started = time.perf_counter()
        try:
            result = self._call_engine(snapshot, source)
        except EconnectError as err:
            circuit.record_failure(err)
            with self._lock:
                self.health.engine_failures += 1
            if is_transient(err):
                self._set_reachable(False)
            return err, 0.0
        circuit.record_success()
        latency = (time.perf_counter() - started) * 1000
        self.latency.observe(latency)
        _LOGGER.debug("%s: the engine answered in %.0f ms", snapshot.camera, latency)
        with self._lock:
            self.health.api_latency_ms = latency
        self._set_reachable(True)
        return result, latency

    def _deliver(
        self,
        snapshot: Snapshot,
        source: Source,
        result: RecognitionResult | None,
        latency: float,
        *,
        delayed: bool,
    ) -> None:
        """Publish what one engine answer means (events, sightings, states)."""
        with self._lock:
            self.health.processed += 1
        if result is None:  # fire-and-forget: nothing comes back to report
            return
        result = apply_thresholds(result, source.settings)
        sighting = Sighting(
            camera=snapshot.camera,
            detector_name=source.detector_for(snapshot.camera),
            detect_time=snapshot.detect_time,
            source_topic=snapshot.topic,
            latency_ms=latency,
            delayed=delayed,
        )
        _log_result(sighting, result)
        with self._lock:
            messages = self._book.record(result, sighting, self._clock())
        self._send(messages)
        if self._annotate:
            self._publish_annotated(snapshot, result)

    def _publish_annotated(self, snapshot: Snapshot, result: RecognitionResult) -> None:
        image = annotate(snapshot.image, result.faces)
        if image is not None:
            topic = self._topics.annotated(snapshot.camera)
            self._publisher.publish(topic, image, retain=self._retain_state)

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

    def _lose(
        self, snapshot: Snapshot, err: EconnectError | CircuitOpenError | ShuttingDownError
    ) -> None:
        """A snapshot will never get a result: count it and say why in an error event."""
        with self._lock:
            self.health.lost += 1
        _LOGGER.warning("%s: snapshot not processed: %s", snapshot.camera, err)
        self._report_error(err.code, str(err), snapshot.camera, snapshot.topic)

    # -- store and forward -----------------------------------------------------------------

    def _spoolable(self, err: Exception) -> bool:
        """Return whether a failure means "the engine is away", so the snapshot can wait."""
        if isinstance(err, CircuitOpenError | ShuttingDownError):
            return True
        return isinstance(err, EconnectError) and is_transient(err)

    def _spool_if_possible(self, snapshot: Snapshot) -> bool:
        """Keep a snapshot on disk for later, if a spool is configured for its mode."""
        spool = self._spool
        source = self._sources.get(snapshot.camera)
        if spool is None or source is None:
            return False
        mode = source.settings.mode
        if mode != "publish" and not self._spool_responses:
            return False
        evicted = spool.put(snapshot)
        with self._lock:
            self.health.spooled += 1
        for item in evicted:
            self._lose_spooled(item, "spool_full", "the spool was full: the oldest was dropped")
        self._spool_wakeup.set()
        return True

    def _lose_spooled(self, item: SpoolItem, code: str, text: str) -> None:
        with self._lock:
            self.health.lost += 1
        _LOGGER.warning("%s: spooled snapshot lost: %s", item.snapshot.camera, text)
        self._report_error(code, text, item.snapshot.camera, item.snapshot.topic)

    def _replay_loop(self) -> None:
        """Send spooled snapshots, oldest first, whenever the engine takes them."""
        spool = self._spool
        assert spool is not None
        attempt = 0
        while not self._stopping.is_set():
            try:
                for item in spool.expire():
                    self._lose_spooled(item, "spool_expired", "kept in the spool for too long")
                oldest = spool.oldest()
                if oldest is None:
                    self._spool_wakeup.wait(1.0)
                    self._spool_wakeup.clear()
                    continue
                wait = self._replay_one(oldest, attempt)
            except Exception:
                _LOGGER.exception("unexpected error replaying the spool")
                wait = 1.0
            if wait is None:
                attempt = 0
            else:
                attempt += 1
                self._stopping.wait(wait)

    def _replay_one(self, item: SpoolItem, attempt: int) -> float | None:
        """Send one spooled snapshot; return how long to wait before the next try, or None."""
        snapshot = item.snapshot
        # By topic first: two sources may have cameras of the same name (another mode).
        source = self._sources_by_topic(snapshot.topic) or self._sources.get(snapshot.camera)
        if source is None:
            assert self._spool is not None
            self._spool.remove(item.item_id)
            self._lose_spooled(item, "spool_orphan", "no configured source for its topic")
            return None
        self._sources.setdefault(snapshot.camera, source)
        try:
            result, latency = self._call_once(snapshot, source)
        except CircuitOpenError:
            return max(0.2, self.retry.circuit.retry_in())
        if isinstance(result, EconnectError):
            if is_transient(result):
                return self.retry.backoff.delay(min(attempt, 6)) + 0.1
            assert self._spool is not None
            self._spool.remove(item.item_id)
            self._lose_spooled(item, result.code, str(result))
            return None
        assert self._spool is not None
        self._spool.remove(item.item_id)
        with self._lock:
            self.health.replayed += 1
        self._deliver(snapshot, source, result, latency, delayed=True)
        return None

    def _sources_by_topic(self, topic: str) -> Source | None:
        for source in self._known_sources:
            if topic_matches(source.subscription, topic):
                return source
        return None

    def register_sources(self, sources: tuple[Source, ...]) -> None:
        """Tell the pipeline every configured source (to replay a spool after a restart)."""
        self._known_sources = sources

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


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Return whether `topic` matches an MQTT filter with `+` and `#` (no paho here)."""
    wanted, levels = topic_filter.split("/"), topic.split("/")
    for index, level in enumerate(wanted):
        if level == "#":
            return True
        if index >= len(levels) or (level != "+" and level != levels[index]):
            return False
    return len(wanted) == len(levels)


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
