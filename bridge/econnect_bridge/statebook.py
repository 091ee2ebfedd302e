"""What to publish after a result or a presence timeout: events, sightings and retained states.

Pure bookkeeping, no I/O: `record()` and `expire()` return the messages, and the pipeline sends
them. Time comes in from outside: `now` arguments for the timers (monotonic seconds) and an
injected wall clock for the `time` of a camera's state, so tests step time instead of sleeping.
Each result brings its camera's cooldown, so the book asks nobody for settings. Presence
(known person, unknown face, tags, persons) stays ON for `presence_timeout` seconds after the
last sighting; person and tag *events* respect the per-camera cooldown, so one visit at the
door is one event, not a burst.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from econnect_bridge.presence import PresenceBoard
from econnect_bridge.states import (
    CameraState,
    SubjectKind,
    SubjectState,
    Topics,
    camera_state_payload,
    encode,
    subject_state_payload,
)
from econnect_identities.cooldown import Cooldown
from econnect_identities.events import Sighting, recognition_event, sighting_event
from econnect_identities.models import DetectedFace, RecognitionResult
from econnect_identities.naming import slugify


def _utc_now() -> datetime:
    """The default wall clock: aware UTC now."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT message to publish."""

    topic: str
    payload: bytes = field(repr=False)
    retain: bool = False


@dataclass(frozen=True, slots=True)
class BookSettings:
    """The user's choices that shape what is published."""

    topics: Topics
    person_fields: frozenset[str]
    presence_timeout: float
    retain_state: bool = True
    persons: tuple[str, ...] = ()  # announced OFF at start, so entities exist before a sighting
    tags: tuple[str, ...] = ()


class StateBook:
    """Per-camera, per-person and per-tag state, and the messages that report it."""

    def __init__(
        self, settings: BookSettings, *, wall_clock: Callable[[], datetime] = _utc_now
    ) -> None:
        self._s = settings
        self._wall_clock = wall_clock
        self._cooldowns: dict[str, Cooldown] = {}
        self._presence = PresenceBoard(settings.presence_timeout)
        self._cameras: dict[str, CameraState] = {}
        self._subjects: dict[tuple[SubjectKind, str], SubjectState] = {}
        for name in settings.persons:
            self._subjects[("person", slugify(name))] = SubjectState("person", name)
        for name in settings.tags:
            self._subjects[("tag", slugify(name))] = SubjectState("tag", name)

    def add_subjects(self, *, persons: Iterable[str], tags: Iterable[str]) -> list[Message]:
        """Start tracking persons and tags not known yet; report them as absent."""
        wanted: list[tuple[SubjectKind, str]] = [("person", name) for name in persons]
        wanted += [("tag", name) for name in tags]
        added: list[tuple[SubjectKind, str]] = []
        for kind, name in wanted:
            key = (kind, slugify(name))
            if key not in self._subjects:
                self._subjects[key] = SubjectState(kind, name)
                added.append(key)
        return [self._subject_message(key) for key in added]

    def initial(self, cameras: Iterable[str], now: datetime) -> list[Message]:
        """Announce every known camera, person and tag as absent (at start-up)."""
        for camera in cameras:
            self._cameras.setdefault(camera, self._blank_camera(camera, now))
        return [self._camera_message(c) for c in self._cameras] + [
            self._subject_message(key) for key in self._subjects
        ]

    def _blank_camera(self, camera: str, now: datetime) -> CameraState:
        tags = {slugify(tag): False for tag in self._s.tags}
        return CameraState(camera=camera, time=now, tag_presence=tags)

    def record(
        self, result: RecognitionResult, sighting: Sighting, now: float, *, cooldown: float
    ) -> list[Message]:
        """Report one processed snapshot.

        Args:
            result: the engine's answer, thresholds applied.
            sighting: where and when the snapshot was taken.
            now: the monotonic clock, for presence timers and the cooldown.
            cooldown: the camera's `cooldown` (s); the first one seen for a camera holds.
        """
        topics = self._s.topics
        event = encode(recognition_event(result, sighting, self._s.person_fields))
        messages = [
            Message(topics.events(), event),
            Message(topics.camera_events(sighting.camera), event),
        ]
        messages += self._sightings(result, sighting, now, cooldown)
        self._update_camera(result, sighting, now)
        messages.append(self._camera_message(sighting.camera))
        messages += [self._subject_message(key) for key in self._touched_subjects(result)]
        return messages

    def _sightings(
        self, result: RecognitionResult, sighting: Sighting, now: float, seconds: float
    ) -> list[Message]:
        cooldown = self._cooldowns.get(sighting.camera)
        if cooldown is None:
            cooldown = self._cooldowns[sighting.camera] = Cooldown(seconds)
        messages = []
        for face in result.known_faces:
            person = face.person
            assert person is not None
            self._mark_subjects(face, sighting, now)
            if not cooldown.allow(person.person_id, now):
                continue
            payload = sighting_event(face, sighting, self._s.person_fields)
            messages.append(
                Message(self._s.topics.person_event(person.display_name), encode(payload))
            )
            for tag in person.tag_names:
                tagged = sighting_event(face, sighting, self._s.person_fields, tag=tag)
                messages.append(Message(self._s.topics.tag_event(tag), encode(tagged)))
        return messages

    def _mark_subjects(self, face: DetectedFace, sighting: Sighting, now: float) -> None:
        person = face.person
        assert person is not None
        name = person.display_name
        self._presence.seen(("person", slugify(name)), now)
        self._subjects[("person", slugify(name))] = SubjectState(
            "person",
            name,
            presence=True,
            person_id=person.person_id,
            last_camera=sighting.camera,
            last_seen=sighting.detect_time,
            confidence=face.confidence,
        )
        for tag in person.tag_names:
            self._presence.seen(("tag", slugify(tag)), now)
            self._presence.seen(("camera_tag", sighting.camera, slugify(tag)), now)
            self._subjects[("tag", slugify(tag))] = SubjectState(
                "tag",
                tag,
                presence=True,
                last_camera=sighting.camera,
                last_person=name,
                last_seen=sighting.detect_time,
            )

    def _touched_subjects(self, result: RecognitionResult) -> list[tuple[SubjectKind, str]]:
        keys: list[tuple[SubjectKind, str]] = []
        for face in result.known_faces:
            assert face.person is not None
            keys.append(("person", slugify(face.person.display_name)))
            keys.extend(("tag", slugify(tag)) for tag in face.person.tag_names)
        return list(dict.fromkeys(keys))

    def _update_camera(self, result: RecognitionResult, sighting: Sighting, now: float) -> None:
        camera = sighting.camera
        previous = self._cameras.get(camera) or self._blank_camera(camera, sighting.detect_time)
        if result.known_faces:
            self._presence.seen(("known", camera), now)
        if result.unknown_faces:
            self._presence.seen(("unknown", camera), now)
        changes: dict[str, Any] = {
            "time": self._wall_clock(),
            "outcome": result.outcome,
            "face_count": len(result.faces),
        }
        best = max(result.known_faces, key=lambda f: f.confidence, default=None)
        if best is not None and best.person is not None:
            changes |= {
                "last_person": best.person.display_name,
                "person_id": best.person.person_id,
                "tags": best.person.tag_names,
                "confidence": best.confidence,
                "quality": best.quality,
                "last_seen": sighting.detect_time,
            }
        self._cameras[camera] = self._with_presence(dataclasses.replace(previous, **changes))

    def _with_presence(self, state: CameraState) -> CameraState:
        camera = state.camera
        names = set(state.tag_presence) | {
            key[2]
            for key in self._presence.active()
            if isinstance(key, tuple) and key[0] == "camera_tag" and key[1] == camera
        }
        tags = {tag: self._presence.is_on(("camera_tag", camera, tag)) for tag in sorted(names)}
        return dataclasses.replace(
            state,
            known_person=self._presence.is_on(("known", camera)),
            unknown_face=self._presence.is_on(("unknown", camera)),
            tag_presence=tags,
        )

    def expire(self, now: float) -> list[Message]:
        """Turn off what timed out and report the states that changed."""
        gone: list[Hashable] = self._presence.expire(now)
        if not gone:
            return []
        cameras: set[str] = set()
        subjects: set[tuple[SubjectKind, str]] = set()
        for key in gone:
            assert isinstance(key, tuple)
            if key[0] in ("person", "tag"):
                subjects.add((key[0], key[1]))
            else:
                cameras.add(key[1])
        for kind, slug in subjects:
            self._subjects[(kind, slug)] = dataclasses.replace(
                self._subjects[(kind, slug)], presence=False
            )
        for camera in cameras:
            state = dataclasses.replace(self._cameras[camera], time=self._wall_clock())
            self._cameras[camera] = self._with_presence(state)
        return [self._camera_message(c) for c in sorted(cameras)] + [
            self._subject_message(key) for key in sorted(subjects)
        ]

    def _camera_message(self, camera: str) -> Message:
        payload = encode(camera_state_payload(self._cameras[camera]))
        return Message(self._s.topics.camera_state(camera), payload, self._s.retain_state)

    def _subject_message(self, key: tuple[SubjectKind, str]) -> Message:
        state = self._subjects[key]
        topic = self._s.topics.subject_state(state.kind, state.name)
        return Message(topic, encode(subject_state_payload(state)), self._s.retain_state)
