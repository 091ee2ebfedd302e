"""Frigate's events mode: tracked objects in, one recognition outcome per object out.

The decode stage hands every `frigate/events` and `frigate/tracked_object_update` message to
`FrigateFollower.on_arrival`; the decisions (fetch now, publish this attempt, write the name
back) are the core's `ObjectFollower`, shared with the Home Assistant integration. This module
carries them out: its own thread fetches each picture over Frigate's HTTP API and offers it to
the latest-wins queue (one slot per object, so two people on one camera are both answered);
the workers' engine answers come back through `attempt_done`; a decided outcome goes to
delivery; sub_label writes are retried on transient errors and counted.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from econnect_bridge.cameras import CameraDirectory
from econnect_bridge.config.model import FrigateConfig
from econnect_bridge.intake import Arrival
from econnect_bridge.reporting import Reporter
from econnect_bridge.sources import Snapshot, Source, sniff_image_type
from econnect_bridge.throttle import SnapshotQueue
from econnect_identities.frigate import (
    FrigateMessageError,
    FrigateObject,
    FrigateRef,
    event_link,
    parse_event,
    parse_face_update,
)
from econnect_identities.models import RecognitionResult
from econnect_identities.rules import Judgement, as_judgement
from econnect_identities.tracking import (
    Action,
    AttemptSummary,
    Fetch,
    FollowPolicy,
    ObjectFollower,
    Publish,
    WriteSubLabel,
    summarise,
)

_LOGGER = logging.getLogger("econnect_bridge.frigate")
#: Sub_label writes tried per object, and the pause before each retry (s).
WRITE_TRIES = 3
WRITE_BACKOFF = 1.0
#: How long the follower's thread sleeps when nothing is due (it wakes on every message).
IDLE_WAIT = 1.0


class FrigatePictures(Protocol):
    """What the follower needs of Frigate's HTTP API (`frigate_api.FrigateApi`)."""

    def snapshot(
        self, event_id: str, *, crop: bool = True, height: int | None = None, quality: int = 95
    ) -> bytes | None:
        """Return the object's best picture, None when Frigate has none (404)."""

    def set_sub_label(self, event_id: str, name: str, score: float | None) -> None:
        """Write a sub_label; raise an error with `.transient` when it fails."""


class ResultSink(Protocol):
    """Where a decided outcome goes (`delivery.Delivery.publish`)."""

    def publish(
        self,
        snapshot: Snapshot,
        source: Source,
        result: RecognitionResult | Judgement,
        latency: float,
        *,
        delayed: bool,
    ) -> None:
        """Publish what one answer means (events, sightings, states)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """One attempt's answer, kept until the follower decides whether it is the outcome."""

    snapshot: Snapshot
    source: Source
    result: RecognitionResult | Judgement
    latency: float


def follow_policy(config: FrigateConfig) -> FollowPolicy:
    """Translate the `frigate` section into the core's follow policy."""
    return FollowPolicy(
        labels=frozenset(config.labels),
        cameras=frozenset(config.cameras),
        required_zones={cam: frozenset(zones) for cam, zones in config.required_zones.items()},
        max_attempts=config.max_attempts,
        max_seconds=config.max_seconds,
        poll_interval=config.poll_interval,
        confident_score=config.confident_score,
        write_sub_label=config.write_sub_label,
        sub_label_min_score=config.sub_label_min_score,
        overwrite_sub_label=config.overwrite_sub_label,
        skip_named=config.skip_named,
    )


@dataclass(order=True, slots=True)
class _Job:
    due: float
    seq: int
    action: Fetch | WriteSubLabel
    tries: int = 0


class FrigateFollower:
    """Carry out the core follower's decisions for one Frigate (thread-safe)."""

    def __init__(
        self,
        *,
        config: FrigateConfig,
        api: FrigatePictures,
        queue: SnapshotQueue,
        cameras: CameraDirectory,
        reporter: Reporter,
        keep_images: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._keep_images = keep_images
        self._api = api
        self._queue = queue
        self._cameras = cameras
        self._reporter = reporter
        self._clock = clock
        self._follower: ObjectFollower[Answer] = ObjectFollower(follow_policy(config))
        self._sink: ResultSink | None = None
        self._jobs: list[_Job] = []
        self._seq = 0
        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    def connect(self, sink: ResultSink) -> None:
        """Say where decided outcomes go (delivery is built after the follower)."""
        self._sink = sink

    # -- in: messages (decode thread) and answers (worker threads) -----------------------------

    def on_arrival(self, arrival: Arrival) -> None:
        """Take one message of Frigate's events or face-result topic."""
        payload = arrival.message.payload
        topic = arrival.message.topic
        try:
            if topic == self._config.face_updates_topic():
                update = parse_face_update(payload)
                if update is None:
                    return
                with self._cond:
                    actions = self._follower.on_face_update(update, self._clock())
            else:
                obj = parse_event(payload)
                if self._config.cameras and obj.camera not in self._config.cameras:
                    return
                with self._cond:
                    actions = self._follower.on_event(obj, self._clock())
        except FrigateMessageError as err:
            self._reporter.error(err.code, str(err), None, topic)
            return
        self._act(actions, arrival.source)

    def attempt_done(
        self,
        snapshot: Snapshot,
        source: Source,
        result: RecognitionResult | Judgement | None,
        latency: float,
    ) -> None:
        """Take a worker's answer for one picture (None: the engine gave none).

        A picture whose every face was excluded counts as one without an answer: an
        excluded person never becomes an object's outcome nor its sub_label.
        """
        ref = snapshot.frigate
        assert ref is not None
        if not self._keep_images:  # only an annotated snapshot or face picture needs it again
            snapshot = replace(snapshot, image=b"")
        judged = None if result is None else as_judgement(result)
        if judged is not None and judged.nothing_left:
            judged = None
        answer = None if judged is None else Answer(snapshot, source, judged, latency)
        summary = None if judged is None else summarise(judged)
        with self._cond:
            actions = self._follower.attempt_done(ref.event_id, summary, answer, self._clock())
        self._act(actions, source)

    def attempt_failed(self, snapshot: Snapshot) -> None:
        """Hear that a picture got no answer (engine away, bridge stopping): the next one may."""
        assert snapshot.frigate is not None
        with self._cond:
            actions = self._follower.attempt_done(
                snapshot.frigate.event_id, None, None, self._clock()
            )
        self._act(actions, self._events_source())

    # -- out: fetches, outcomes, write-back ------------------------------------------------------

    def _act(self, actions: list[Action[Answer]], source: Source) -> None:
        for action in actions:
            if isinstance(action, Publish):
                self._publish(action)
            else:
                if isinstance(action, Fetch):
                    self._learn(action.obj.camera, source)
                self._schedule(action, self._clock())

    def _learn(self, camera: str, source: Source) -> None:
        self._cameras.learn(camera, source)

    def _publish(self, action: Publish[Answer]) -> None:
        answer = action.payload
        ref = self._ref(action.obj, correction=action.correction)
        snapshot = replace(answer.snapshot, frigate=ref)
        if self._sink is not None:
            self._sink.publish(
                snapshot, answer.source, answer.result, answer.latency, delayed=False
            )
        if action.correction:
            self._reporter.count("frigate_corrections")

    def _ref(self, obj: FrigateObject, *, correction: bool = False) -> FrigateRef:
        return FrigateRef(
            event_id=obj.event_id,
            camera=obj.camera,
            label=obj.label,
            score=obj.score,
            zones=obj.entered_zones,
            url=event_link(self._config.url, obj.event_id),
            correction=correction,
        )

    def _schedule(self, action: Fetch | WriteSubLabel, due: float, tries: int = 0) -> None:
        with self._cond:
            self._seq += 1
            heapq.heappush(self._jobs, _Job(due, self._seq, action, tries))
            self._cond.notify()

    # -- the follower's thread -------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread that fetches pictures, writes sub_labels and keeps time limits."""
        self._thread = threading.Thread(target=self._run, name="econnect-frigate", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread; objects still followed are not published (Frigate goes on)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def alive(self) -> bool:
        """Whether the follower's thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while (job := self._next_job()) is not None:
            try:
                self._run_job(job)
            except Exception:  # a bug costs one job, never the follower
                _LOGGER.exception("unexpected error following Frigate object")
                self._reporter.error("internal_error", "unexpected error", None, None)

    def _next_job(self) -> _Job | None:
        """Wait for a job that is due, running the follower's time limits meanwhile."""
        with self._cond:
            while not self._closed:
                now = self._clock()
                expired = self._follower.due(now)
                if expired:
                    self._cond.release()
                    try:
                        self._act(expired, self._events_source())
                    finally:
                        self._cond.acquire()
                    continue
                if self._jobs and self._jobs[0].due <= now:
                    return heapq.heappop(self._jobs)
                self._cond.wait(self._wait_time(now))
            return None

    def _wait_time(self, now: float) -> float:
        times = [job.due for job in self._jobs[:1]]
        follower_due = self._follower.next_due()
        if follower_due is not None:
            times.append(follower_due)
        return max(0.01, min([now + IDLE_WAIT, *times]) - now)

    def _events_source(self) -> Source:
        source = self._cameras.configured_for(self._config.events_topic())
        assert source is not None, "events mode configures a source on the events topic"
        return source

    def _run_job(self, job: _Job) -> None:
        if isinstance(job.action, Fetch):
            self._fetch(job.action.obj)
        else:
            self._write(job)

    def _fetch(self, obj: FrigateObject) -> None:
        """Fetch one picture and offer it to the queue; a failure ends the attempt."""
        try:
            image = self._api.snapshot(
                obj.event_id, crop=self._config.crop, height=self._config.snapshot_height
            )
        except Exception as err:  # noqa: BLE001 - any failure of the fetch ends this attempt
            self._reporter.count("frigate_fetch_failures")
            _LOGGER.warning(
                "%s: picture of Frigate object %s not fetched: %s", obj.camera, obj.event_id, err
            )
            image = None
        if image is None:
            with self._cond:
                actions = self._follower.attempt_done(obj.event_id, None, None, self._clock())
            self._act(actions, self._events_source())
            return
        self._reporter.count("frigate_fetches")
        snapshot = Snapshot(
            camera=obj.camera,
            topic=self._config.events_topic(),
            image=image,
            content_type=sniff_image_type(image) or "image/jpeg",
            detect_time=datetime.now(UTC),
            received=self._clock(),
            frigate=self._ref(obj),
        )
        self._queue.offer(snapshot, min_interval=0.0)

    def _write(self, job: _Job) -> None:
        action = job.action
        assert isinstance(action, WriteSubLabel)
        try:
            score = min(1.0, max(round(action.score, 4), 0.0001))  # Frigate: 0 < x <= 1
            self._api.set_sub_label(action.obj.event_id, action.name, score)
        except Exception as err:  # noqa: BLE001 - counted, retried when transient
            transient = bool(getattr(err, "transient", False))
            if transient and job.tries + 1 < WRITE_TRIES:
                delay = WRITE_BACKOFF * 2**job.tries
                self._schedule(action, self._clock() + delay, job.tries + 1)
                return
            self._reporter.count("frigate_sub_label_failures")
            _LOGGER.warning(
                "%s: sub_label of Frigate object %s not written: %s",
                action.obj.camera,
                action.obj.event_id,
                err,
            )
            return
        self._reporter.count("frigate_sub_labels")
        _LOGGER.info(
            "%s: Frigate object %s named %s (%.2f)",
            action.obj.camera,
            action.obj.event_id,
            action.name,
            action.score,
        )

    def already_decided(self, event_ids: Iterable[str]) -> None:
        """Never follow these objects again (decided by the previous run, read back)."""
        with self._cond:
            self._follower.finished(event_ids)

    def followed(self) -> int:
        """Return how many objects are followed now."""
        with self._cond:
            return len(self._follower)

    @property
    def skipped_named(self) -> int:
        """Objects left to Frigate's own face recognition (`skip_named`)."""
        return self._follower.skipped_named


__all__ = ["Answer", "AttemptSummary", "FrigateFollower", "FrigatePictures", "follow_policy"]
