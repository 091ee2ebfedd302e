"""An engine answer out as messages: thresholds, rules, events, sightings, states, images.

The state book decides what to publish (it is pure); this stage feeds it, under one lock since
workers and the control loop share it, and publishes what it returns in the order it returned
it (an ordered outbox), a result's event first. A snapshot that will
never get an answer is reported here too, as an error event. At start, `restore` hands the
retained states read back from the broker to the book (`econnect_bridge.recovery`).

The rules per person and per tag (`econnect_identities.rules`) judge each answer here, before
the state book or a Frigate object's follower sees it, so an excluded person is gone before
anything could publish, count or log them by name.

Face pictures (`publish.face_pictures`, off by default) follow the same judgement: known
faces picture a person, unknown ones the camera, uncertain and excluded ones nobody
(`econnect_identities.face_picture`). They are always retained, for Home Assistant to show
later; with the switch off, `StaleFacePictures` empties those an earlier run left.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from econnect_bridge.config.model import CameraSettings
from econnect_bridge.engine_stage import CallFailure
from econnect_bridge.ports import Publisher
from econnect_bridge.recovery import Recovered, recover
from econnect_bridge.reporting import Reporter
from econnect_bridge.sources import Snapshot, Source
from econnect_bridge.statebook import Message, StateBook
from econnect_bridge.states import Topics
from econnect_identities.annotate import annotate
from econnect_identities.events import Sighting
from econnect_identities.face_picture import pictures_of
from econnect_identities.models import RecognitionResult
from econnect_identities.rules import (
    CAMERA_RULE,
    DEFAULT_RULE,
    FaceRule,
    Judgement,
    RuleSet,
    as_judgement,
)

_LOGGER = logging.getLogger("econnect_bridge.pipeline")  # the pipeline's log lines, as before


class ObjectAnswers(Protocol):
    """The follower of Frigate objects (`frigate_follow.FrigateFollower`), as delivery sees it."""

    def attempt_done(
        self,
        snapshot: Snapshot,
        source: Source,
        result: RecognitionResult | Judgement | None,
        latency: float,
    ) -> None:
        """Take the answer for one picture of an object."""

    def attempt_failed(self, snapshot: Snapshot) -> None:
        """Hear that a picture of an object will get no answer."""


def apply_thresholds(result: RecognitionResult, settings: CameraSettings) -> RecognitionResult:
    """Drop faces below the camera's quality or size thresholds (confidence: `CameraRules`)."""
    return result.filtered(
        min_quality=settings.min_face_quality, min_face_size=settings.min_face_size
    )


@dataclass(frozen=True, slots=True)
class CameraRules:
    """The configuration's `rules` and the processing defaults, judged per camera.

    `defaults` tells a camera's own `min_confidence` from the global one, so an event can
    say `camera` or `default` when no person or tag rule decided.
    """

    rules: tuple[FaceRule, ...] = ()
    defaults: CameraSettings | None = None

    def rule_set(self, settings: CameraSettings) -> RuleSet:
        """Return the judgement of a camera with these settings."""
        own = self.defaults is not None and settings.min_confidence != self.defaults.min_confidence
        return RuleSet(
            min_confidence=settings.min_confidence,
            uncertain_min_confidence=settings.uncertain_min_confidence,
            rules=self.rules,
            base_rule=CAMERA_RULE if own else DEFAULT_RULE,
        )

    def judge(self, result: RecognitionResult, settings: CameraSettings, camera: str) -> Judgement:
        """Apply the quality and size thresholds, then the rules, to one answer."""
        return self.rule_set(settings).judge(apply_thresholds(result, settings), camera)


class Delivery:
    """Publish what results (and timeouts) mean, through the state book."""

    def __init__(
        self,
        *,
        book: StateBook,
        reporter: Reporter,
        publisher: Publisher,
        topics: Topics,
        retain_state: bool = True,
        annotate_snapshots: bool = False,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rules: CameraRules | None = None,
        face_pictures: bool = False,
    ) -> None:
        self._book = book
        self._face_pictures = face_pictures
        self._rules = rules or CameraRules()
        self._reporter = reporter
        self._publisher = publisher
        self._topics = topics
        self._retain_state = retain_state
        self._annotate = annotate_snapshots
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = threading.Lock()  # the book is shared by workers and the control loop
        # What the book made, in the order it made it, until published (`_send_queued`): two
        # results (or a result and an expiry) that touch one state reach the broker in the
        # order the book changed, so the retained state is its last word, never an older one
        # overtaking it; publishing happens outside the book's lock, one thread at a time.
        self._outbox: deque[Message] = deque()
        self._send_lock = threading.Lock()
        self._objects: ObjectAnswers | None = None

    def follow_objects(self, objects: ObjectAnswers) -> None:
        """Send the answers for Frigate objects' pictures to their follower (events mode)."""
        self._objects = objects

    def deliver(
        self,
        snapshot: Snapshot,
        source: Source,
        result: RecognitionResult | None,
        latency: float,
        *,
        delayed: bool,
    ) -> None:
        """Publish what one engine answer means, or hand it to its Frigate object's follower."""
        self._reporter.count("processed")
        if result is None:  # fire-and-forget: nothing comes back to report
            if snapshot.frigate is not None and self._objects is not None:
                self._objects.attempt_done(snapshot, source, None, latency)
            return
        judged = self._rules.judge(result, source.settings, snapshot.camera)
        if judged.excluded:
            self._reporter.count("faces_excluded", judged.excluded)
        if snapshot.frigate is not None and self._objects is not None:
            _log_result(self._sighting(snapshot, source, latency, delayed), judged)
            self._objects.attempt_done(snapshot, source, judged, latency)
            return
        self.publish(snapshot, source, judged, latency, delayed=delayed)

    def publish(
        self,
        snapshot: Snapshot,
        source: Source,
        result: RecognitionResult | Judgement,
        latency: float,
        *,
        delayed: bool,
    ) -> None:
        """Publish a judged answer: events, sightings, states, annotated image, face pictures.

        A snapshot whose every face was excluded publishes nothing at all, not even its
        annotated image (which would show the excluded person).
        """
        judged = as_judgement(result)
        sighting = self._sighting(snapshot, source, latency, delayed)
        if snapshot.frigate is None:
            _log_result(sighting, judged)
        if judged.nothing_left:
            return
        event, event_id = self._book.event(judged, sighting)  # reads no state: no lock
        self._reporter.send([event])  # first, before the states are even built
        faces = self._face_messages(snapshot, judged) if self._face_pictures else []
        now, cooldown = self._clock(), source.settings.cooldown
        # The faces go with the states: the picture retained is that of the last state's result.
        self._book_says(
            lambda: [*self._book.states(judged, sighting, event_id, now, cooldown=cooldown), *faces]
        )
        if self._annotate:
            self._publish_annotated(snapshot, judged.result)

    def _book_says(self, change: Callable[[], Iterable[Message]]) -> None:
        """Change the book under its lock, line up what it says, and publish it in order."""
        with self._lock:
            self._outbox.extend(change())
        self._send_queued()

    def _send_queued(self) -> None:
        """Publish what the book lined up, oldest first; return once this thread's are out.

        One thread publishes at a time. A thread that finds the outbox empty had its messages
        published by the one before it, so when it returns (and its snapshot is acknowledged)
        its outcome has been handed to the client either way.
        """
        with self._send_lock:
            while self._outbox:
                self._reporter.send((self._outbox.popleft(),))

    @staticmethod
    def _sighting(snapshot: Snapshot, source: Source, latency: float, delayed: bool) -> Sighting:
        return Sighting(
            camera=snapshot.camera,
            detector_name=source.detector_for(snapshot.camera),
            detect_time=snapshot.detect_time,
            source_topic=snapshot.topic,
            latency_ms=latency,
            delayed=delayed,
            frigate=snapshot.frigate,
        )

    def _publish_annotated(self, snapshot: Snapshot, result: RecognitionResult) -> None:
        image = annotate(snapshot.image, result.faces)
        if image is not None:
            topic = self._topics.annotated(snapshot.camera)
            self._publisher.publish(topic, image, retain=self._retain_state)

    def _face_messages(self, snapshot: Snapshot, judged: Judgement) -> list[Message]:
        """The known persons' faces and the camera's unknown face, always retained.

        Cut before the book's lock is taken (decoding the snapshot is the costly part), and
        published from the outbox behind the states of the same result, so that one person
        seen on two cameras at once keeps the picture of the sighting their state shows.
        """
        known, unknown = pictures_of(snapshot.image, judged)
        faces = [Message(self._topics.person_face(n), p, retain=True) for n, p in known.items()]
        if unknown is not None:
            topic = self._topics.camera_unknown_face(snapshot.camera)
            faces.append(Message(topic, unknown, retain=True))
        return faces

    def lose(self, snapshot: Snapshot, err: CallFailure) -> None:
        """A snapshot will never get a result: count it and say why in an error event.

        A Frigate object's picture is one attempt of several: its follower hears of the loss
        and goes on with the next picture.
        """
        self._reporter.count("lost")
        _LOGGER.warning("%s: snapshot not processed: %s", snapshot.camera, err)
        self._reporter.error(err.code, str(err), snapshot.camera, snapshot.topic)
        if snapshot.frigate is not None and self._objects is not None:
            self._objects.attempt_failed(snapshot)

    def expire(self) -> None:
        """Turn off expired presence and publish the states that changed."""
        self._book_says(lambda: self._book.expire(self._clock()))

    def restore(self, messages: Iterable[tuple[str, bytes]]) -> Recovered:
        """Take back the states a previous run retained, and publish them reconciled.

        `messages` are the (topic, payload) pairs of the retained messages received on
        `econnect_bridge.recovery.recovery_filters(topics)` within the settle time after the
        first connect; call once, before `initial`. Presence that timed out while the bridge
        was down is published OFF at once, the rest expires on time; nothing else is lost.
        Untrusted payloads that do not parse are skipped and counted in the returned value.
        """
        recovered = recover(messages, self._topics)
        self._book_says(lambda: self._book.restore(recovered, self._wall_clock(), self._clock()))
        _LOGGER.info(
            "Recovered %d retained state(s) from the broker (%d ignored)",
            len(recovered),
            recovered.ignored,
        )
        return recovered

    def initial(self, cameras: tuple[str, ...]) -> None:
        """Announce every camera, person and tag not recovered by `restore`, as absent."""
        self._book_says(lambda: self._book.initial(cameras, self._wall_clock()))

    def add_subjects(
        self, *, persons: tuple[str, ...], tags: tuple[str, ...], announce: bool
    ) -> None:
        """Track more persons and tags; publish them as absent if `announce`."""

        def track() -> list[Message]:
            messages = self._book.add_subjects(persons=persons, tags=tags)
            return messages if announce else []

        self._book_says(track)


class StaleFacePictures:
    """Empty the face pictures an earlier run retained, once `publish.face_pictures` is off.

    Fed `Topics.face_picture_filters` at start. `take` runs on paho's thread and only notes
    the topic; `clear` (the control loop, with the restore of the previous states) publishes
    an empty retained payload for each, which deletes the picture from the broker and its
    persistence file.
    """

    def __init__(self, publisher: Publisher) -> None:
        self._publisher, self.cleared = publisher, 0
        self._lock = threading.Lock()
        self._seen: set[str] = set()

    def take(self, topic: str, payload: bytes, *, retained: bool) -> None:
        """Note one received face picture if it is a retained one (paho's thread)."""
        if retained and payload:
            with self._lock:
                self._seen.add(topic)

    def clear(self) -> None:
        """Empty every retained picture noted so far."""
        with self._lock:
            topics, self._seen = sorted(self._seen), set()
        for topic in topics:
            self._publisher.publish(topic, b"", retain=True)
        self.cleared += len(topics)


def _log_result(sighting: Sighting, judged: Judgement) -> None:
    """One line per answer. Known names only: uncertain and excluded faces are counted."""
    result = judged.result
    names = ", ".join(f.person.display_name for f in result.known_faces if f.person) or "-"
    _LOGGER.info(
        "%s: %s, %d face(s), known: %s, uncertain: %d, excluded: %d (%.0f ms)",
        sighting.camera,
        "uncertain" if judged.only_uncertain else result.outcome,
        len(judged.verdicts),
        names,
        len(judged.uncertain),
        judged.excluded,
        sighting.latency_ms or 0.0,
    )
