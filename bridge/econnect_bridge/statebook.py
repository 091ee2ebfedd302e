"""What to publish after a result or a presence timeout: events, sightings and retained states.

Pure bookkeeping, no I/O: `record()` and `expire()` return the messages, and the pipeline sends
them. Time comes in from outside: `now` arguments for the timers (monotonic seconds) and an
injected wall clock for the `time` of a camera's state, so tests step time instead of sleeping.
Each result brings its camera's cooldown, so the book asks nobody for settings. Presence
(known person, unknown face, tags, persons) stays ON for `presence_timeout` seconds after the
last sighting. Events respect the per-camera cooldown, so one visit at the door is one event,
not a burst (Frigate sends a snapshot for a new object and again for a better picture): person
and tag sightings and the camera's visits (`<base>/cameras/<camera>/events`, which Home
Assistant's event entity reads) go out once per person per cooldown, and once per camera per
cooldown for an unknown face or no face. Only `<base>/events` has one message per snapshot.
Who is here (`<base>/cameras/<camera>/here`, `<base>/bridge/here`) is derived from the person
and camera states whenever they change, and published when it differs from what was sent.

At start `restore()` seeds the book with the states read back from the broker
(`econnect_bridge.recovery`), so a restart keeps what was known and still turns presence OFF on
time; it publishes states only, never an event. Cameras are keyed by slug inside the book:
a recovered state names its camera by slug only, and topics are per slug anyway. The slug is
the one the camera registry (`Topics.slugs`) gives the name, so two cameras whose names slug
alike keep two states; the slugs recovered are handed to the registry (`CameraSlugs.recall`)
so that a name which had a suffixed slug before gets it again. A person's or tag's
`last_camera` holds that slug too, as published.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from econnect_bridge.presence import PresenceBoard
from econnect_bridge.recovery import Recovered, SubjectKey
from econnect_bridge.states import (
    CameraState,
    HereState,
    SubjectKind,
    SubjectState,
    Topics,
    camera_state_payload,
    encode,
    here_state_payload,
    subject_state_payload,
)
from econnect_identities.cooldown import Cooldown
from econnect_identities.events import (
    Sighting,
    recognition_event,
    sighting_event,
    visit_event,
)
from econnect_identities.here import Present, ordered
from econnect_identities.models import DetectedFace, RecognitionResult
from econnect_identities.naming import OUTCOME_EVENT_TYPE, pretty_name, slugify
from econnect_identities.rules import Judgement, as_judgement


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
        self._cameras: dict[str, CameraState] = {}  # by camera slug
        self._subjects: dict[SubjectKey, SubjectState] = {}
        self._touched: set[str | SubjectKey] = set()  # updated by a result since the start
        self._restored: set[str | SubjectKey] = set()  # published by `restore`
        self._here_sent: dict[str | None, HereState] = {}  # camera slug (None: bridge) → last
        for name in settings.persons:
            self._subjects[self._key("person", name)] = SubjectState("person", name)
        for name in settings.tags:
            self._subjects[self._key("tag", name)] = SubjectState("tag", name)

    def add_subjects(self, *, persons: Iterable[str], tags: Iterable[str]) -> list[Message]:
        """Start tracking persons and tags not known yet; report them as absent."""
        wanted: list[tuple[SubjectKind, str]] = [("person", name) for name in persons]
        wanted += [("tag", name) for name in tags]
        added: list[tuple[SubjectKind, str]] = []
        for kind, name in wanted:
            key = self._key(kind, name)
            if key not in self._subjects:
                self._subjects[key] = SubjectState(kind, name)
                added.append(key)
        return [self._subject_message(key) for key in added]

    def initial(self, cameras: Iterable[str], now: datetime) -> list[Message]:
        """Announce every camera, person and tag (at start-up): absent unless known already.

        What `restore()` recovered was published by it and is left out, so a restart does not
        blank *Last person* or *last camera*; everything else goes out as it stands (blank when
        nothing was recovered or seen), so the entities exist before the first sighting.
        """
        for camera in cameras:
            self._cameras.setdefault(self._slug(camera), self._blank_camera(camera, now))
        cameras_out = [c for c in self._cameras if c not in self._restored]
        subjects_out = [key for key in self._subjects if key not in self._restored]
        messages = [self._camera_message(c) for c in cameras_out]
        return messages + [self._subject_message(key) for key in subjects_out] + self._here()

    def _slug(self, camera: str) -> str:
        """The camera's slug: its key here and its topic level (one registry for all)."""
        return self._s.topics.camera_slug(camera)

    def _key(self, kind: SubjectKind, name: str) -> SubjectKey:
        """A person's or tag's key here: its kind and slug, the level of its topics."""
        return (kind, self._s.topics.subject_slug(kind, name))

    def _camera_name(self, slug: str | None) -> str | None:
        """The display name of the camera whose slug is `slug`, if a name claimed it."""
        name = None if slug is None else self._s.topics.slugs.name_of(slug)
        return None if name is None else pretty_name(name)

    def _blank_camera(self, camera: str, now: datetime) -> CameraState:
        tags = {slugify(tag): False for tag in self._s.tags}
        return CameraState(camera=camera, time=now, tag_presence=tags)

    def record(
        self,
        answer: RecognitionResult | Judgement,
        sighting: Sighting,
        now: float,
        *,
        cooldown: float,
    ) -> list[Message]:
        """Report one processed snapshot.

        Args:
            answer: the engine's answer judged by the rules (`econnect_identities.rules`),
                or a bare result (thresholds applied) whose every match is known.
            sighting: where and when the snapshot was taken.
            now: the monotonic clock, for presence timers and the cooldown.
            cooldown: the camera's `cooldown` (s); the first one seen for a camera holds.

        A snapshot whose every face was excluded publishes nothing; one whose every face is
        uncertain publishes its recognition event only (no visit, sighting or state).
        """
        judged = as_judgement(answer)
        if judged.nothing_left:
            return []
        event, event_id = self.event(judged, sighting)
        return [event, *self.states(judged, sighting, event_id, now, cooldown=cooldown)]

    def event(self, judged: Judgement, sighting: Sighting) -> tuple[Message, str]:
        """The recognition event of one judged answer, and its id (its visits carry it).

        Apart from `states` so that the event can leave before the states are built: at
        50 cameras building them costs ~0.4 ms, which the event then does not wait for.
        """
        event = recognition_event(judged, sighting, self._s.person_fields)
        return Message(self._s.topics.events(), encode(event)), str(event["event_id"])

    def states(
        self,
        judged: Judgement,
        sighting: Sighting,
        event_id: str,
        now: float,
        *,
        cooldown: float,
    ) -> list[Message]:
        """Everything but the event that one judged answer publishes (see `record`)."""
        if judged.nothing_left or judged.only_uncertain:
            return []
        result = judged.result
        news = _news(result, self._cooldown(sighting.camera, cooldown), now)
        messages = self._visits(judged, sighting, event_id, news)
        messages += self._sightings([face for face in news if face is not None], sighting, judged)
        self._mark_subjects(result, sighting, now)
        self._update_camera(result, sighting, now)
        messages.append(self._camera_message(self._slug(sighting.camera)))
        messages += [self._subject_message(key) for key in self._touched_subjects(result)]
        return messages + self._here()

    def _visits(
        self,
        judged: Judgement,
        sighting: Sighting,
        event_id: str,
        news: list[DetectedFace | None],
    ) -> list[Message]:
        """The camera's visits (what its Home Assistant event entity fires), one per news."""
        result = judged.result
        topic = self._s.topics.camera_events(sighting.camera)
        event_type = OUTCOME_EVENT_TYPE[result.outcome]
        unknown = len(result.unknown_faces)
        messages = []
        for face in news:
            rule = judged.base_rule if face is None else judged.rule_for(face)
            visit = visit_event(
                event_type,
                sighting,
                event_id=event_id,
                face=face,
                unknown_count=unknown,
                rule=rule,
            )
            messages.append(Message(topic, encode(visit)))
        return messages

    def _cooldown(self, camera: str, seconds: float) -> Cooldown:
        """The camera's cooldown; the first `seconds` given for a camera holds."""
        cooldown = self._cooldowns.get(camera)
        if cooldown is None:
            cooldown = self._cooldowns[camera] = Cooldown(seconds)
        return cooldown

    def _sightings(
        self, visitors: list[DetectedFace], sighting: Sighting, judged: Judgement
    ) -> list[Message]:
        """Person and tag sightings of the faces the cooldown let through."""
        messages = []
        fields = self._s.person_fields
        for face in visitors:
            person = face.person
            assert person is not None
            rule = judged.rule_for(face)
            payload = sighting_event(face, sighting, fields, rule=rule)
            messages.append(
                Message(self._s.topics.person_event(person.display_name), encode(payload))
            )
            for tag in dict.fromkeys(person.tag_names):  # a tag twice is still one event
                tagged = sighting_event(face, sighting, fields, tag=tag, rule=rule)
                messages.append(Message(self._s.topics.tag_event(tag), encode(tagged)))
        return messages

    def _mark_subjects(self, result: RecognitionResult, sighting: Sighting, now: float) -> None:
        for face in result.known_faces:
            self._mark_face(face, sighting, now)

    def _mark_face(self, face: DetectedFace, sighting: Sighting, now: float) -> None:
        person = face.person
        assert person is not None
        name = person.display_name
        camera = self._slug(sighting.camera)
        self._presence.seen(self._key("person", name), now)
        self._touched.add(self._key("person", name))
        self._subjects[self._key("person", name)] = SubjectState(
            "person",
            name,
            presence=True,
            person_id=person.person_id,
            last_camera=camera,
            last_seen=sighting.detect_time,
            confidence=face.confidence,
            tags=person.tag_names,
        )
        for tag in person.tag_names:
            self._presence.seen(self._key("tag", tag), now)
            self._presence.seen(("camera_tag", camera, slugify(tag)), now)
            self._touched.add(self._key("tag", tag))
            self._subjects[self._key("tag", tag)] = SubjectState(
                "tag",
                tag,
                presence=True,
                last_camera=camera,
                last_person=name,
                last_seen=sighting.detect_time,
            )

    def _touched_subjects(self, result: RecognitionResult) -> list[SubjectKey]:
        keys: list[SubjectKey] = []
        for face in result.known_faces:
            assert face.person is not None
            keys.append(self._key("person", face.person.display_name))
            keys.extend(self._key("tag", tag) for tag in face.person.tag_names)
        return list(dict.fromkeys(keys))

    def _update_camera(self, result: RecognitionResult, sighting: Sighting, now: float) -> None:
        camera = self._slug(sighting.camera)
        seen = sighting.detect_time
        previous = self._cameras.get(camera) or self._blank_camera(sighting.camera, seen)
        self._touched.add(camera)
        changes: dict[str, Any] = {
            "camera": sighting.camera,
            "time": self._wall_clock(),
            "outcome": result.outcome,
            "face_count": len(result.faces),
            "frigate_event_id": None if sighting.frigate is None else sighting.frigate.event_id,
        }
        if result.known_faces:
            self._presence.seen(("known", camera), now)
        if result.unknown_faces:
            self._presence.seen(("unknown", camera), now)
            changes["unknown_last_seen"] = seen
            changes["unknown_count"] = len(result.unknown_faces)
        tags = {slugify(t) for f in result.known_faces if f.person for t in f.person.tag_names}
        if tags:
            changes["tag_last_seen"] = {**previous.tag_last_seen, **dict.fromkeys(tags, seen)}
        best = max(result.known_faces, key=lambda f: f.confidence, default=None)
        if best is not None and best.person is not None:
            changes |= {
                "last_person": best.person.display_name,
                "person_id": best.person.person_id,
                "tags": best.person.tag_names,
                "confidence": best.confidence,
                "quality": best.quality,
                "last_seen": seen,
            }
        self._cameras[camera] = self._with_presence(
            camera, dataclasses.replace(previous, **changes)
        )

    def _with_presence(self, camera: str, state: CameraState) -> CameraState:
        """`state` with the presence flags of the camera whose slug is `camera`, as they are."""
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

    # -- restart ---------------------------------------------------------------------------

    def restore(self, recovered: Recovered, now_wall: datetime, now: float) -> list[Message]:
        """Seed the book with the states a previous run left on the broker; return them.

        Presence whose timeout has passed meanwhile (last seen + presence_timeout <= now_wall)
        goes OFF at once; presence still inside its window stays ON for what is left of it, on
        the monotonic clock, and expires through `expire()`. Last person, last camera, last
        seen and the other figures are kept. A camera, person or tag already updated by a
        result since the start keeps that fresher state (a camera's missing last person is
        filled in). States only: an event is never replayed.

        Args:
            recovered: what `econnect_bridge.recovery.recover` read back.
            now_wall: the wall clock (aware), to compare with the payloads' times.
            now: the monotonic clock of `record()` and `expire()`.
        """
        if now_wall.tzinfo is None:
            now_wall = now_wall.replace(tzinfo=UTC)
        self._s.topics.slugs.recall(recovered.cameras)
        kinds: tuple[SubjectKind, ...] = ("person", "tag")
        for kind in kinds:
            self._s.topics.subjects.recall(kind, [s for k, s in recovered.subjects if k == kind])
        cameras = [
            self._restore_camera(state, now_wall, now) for state in recovered.cameras.values()
        ]
        subjects = [
            key
            for key, state in recovered.subjects.items()
            if self._restore_subject(key, state, now_wall, now)
        ]
        self._restored.update(cameras, subjects)
        messages = [self._camera_message(c) for c in cameras]
        messages += [self._subject_message(key) for key in subjects]
        if not messages:
            return []
        # The broker may still hold the previous run's *here* lists: publish them all again,
        # whatever this run sent before the restore came in.
        self._here_sent.clear()
        return messages + self._here()

    def _window_left(self, on: bool, seen: datetime | None, now_wall: datetime) -> float:
        """Seconds left of a presence window opened at `seen`; <= 0: it has timed out.

        Without the time of the sighting the window cannot be placed, so it counts as over;
        a time in the future (a skewed clock) never buys more than one whole timeout.
        """
        if not on or seen is None:
            return 0.0
        timeout = self._s.presence_timeout
        return min(timeout, (seen - now_wall).total_seconds() + timeout)

    def _hold(self, key: Hashable, left: float, now: float) -> None:
        if left > 0:
            self._presence.hold(key, now + left)

    def _restore_camera(self, state: CameraState, now_wall: datetime, now: float) -> str:
        camera = state.camera  # a recovered state's camera is its slug, the topic level
        known = self._window_left(state.known_person, state.last_seen, now_wall)
        self._hold(("known", camera), known, now)
        unknown = self._window_left(state.unknown_face, state.unknown_last_seen, now_wall)
        self._hold(("unknown", camera), unknown, now)
        for tag, on in state.tag_presence.items():
            left = self._window_left(on, state.tag_last_seen.get(tag), now_wall)
            self._hold(("camera_tag", camera, tag), left, now)
        live = self._cameras.get(camera) or self._blank_camera(state.camera, now_wall)
        base = _fill_in(live, state) if camera in self._touched else _adopt(live, state)
        restored = self._with_presence(camera, base)
        if _flags(restored) != _flags(base):  # something turned OFF: a state of now
            restored = dataclasses.replace(restored, time=now_wall)
        self._cameras[camera] = restored
        return camera

    def _restore_subject(
        self, key: SubjectKey, state: SubjectState, now_wall: datetime, now: float
    ) -> bool:
        """Take a recovered person or tag, unless a result updated it since the start."""
        if key in self._touched:
            return False
        left = self._window_left(state.presence, state.last_seen, now_wall)
        self._hold(key, left, now)
        current = self._subjects.get(key)
        name = state.name if current is None else current.name  # the configured spelling
        self._subjects[key] = dataclasses.replace(state, name=name, presence=left > 0)
        return True

    def expire(self, now: float) -> list[Message]:
        """Turn off what timed out and report the states that changed."""
        gone: list[Hashable] = self._presence.expire(now)
        if not gone:
            return []
        cameras: set[str] = set()
        subjects: set[SubjectKey] = set()
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
            self._cameras[camera] = self._with_presence(camera, state)
        messages = [self._camera_message(c) for c in sorted(cameras)]
        return messages + [self._subject_message(key) for key in sorted(subjects)] + self._here()

    # -- who is here -----------------------------------------------------------------------

    def _here(self) -> list[Message]:
        """The *here* states that changed since they were last published.

        They are built from the person and camera states, not kept apart: whatever restored
        or expired those rebuilds these, so a restart shows the same people until their
        windows pass. Compared as states (the payload adds only `time`), so an unchanged list
        is not republished. Only cameras whose list may have changed are looked at (someone
        or an unknown face there now, or in the list last published, or never published):
        with many cameras, every camera's payload after every result was the state book's
        largest cost.
        """
        people = self._people_present()
        by_camera: dict[str, list[Present]] = {}
        for person in people:
            by_camera.setdefault(person.camera, []).append(person)
        unknown = {slug: self._unknown_here(slug) for slug in self._cameras}
        states = [
            HereState(slug, tuple(by_camera.get(slug, ())), unknown[slug])
            for slug in self._cameras
            if slug in by_camera or unknown[slug] or not _nobody(self._here_sent.get(slug))
        ]
        states.append(HereState(None, tuple(people), sum(unknown.values())))
        return [m for m in map(self._here_message, states) if m is not None]

    def _here_message(self, state: HereState) -> Message | None:
        """The retained *here* state, or None when it says what was published last."""
        if self._here_sent.get(state.camera) == state:
            return None
        self._here_sent[state.camera] = state
        topics = self._s.topics
        topic = topics.here() if state.camera is None else topics.camera_here_by_slug(state.camera)
        payload = here_state_payload(state, self._wall_clock())
        return Message(topic, encode(payload), self._s.retain_state)

    def _people_present(self) -> list[Present]:
        """The persons whose presence is ON, each at their last camera, most recent first."""
        people = []
        for (kind, _), state in self._subjects.items():
            if kind != "person" or not state.presence:
                continue
            if state.last_camera is None or state.last_seen is None:
                continue
            camera = slugify(state.last_camera)
            name = self._camera_name(camera) or state.last_camera_name or pretty_name(camera)
            people.append(
                Present(state.name, state.person_id, state.tags, camera, name, state.last_seen)
            )
        return ordered(people)

    def _unknown_here(self, camera: str) -> int:
        """The unknown faces at the camera whose slug is `camera`, while its window is open."""
        state = self._cameras[camera]
        return state.unknown_count if state.unknown_face else 0

    def _camera_message(self, camera: str) -> Message:
        """The retained state of the camera whose slug is `camera`."""
        payload = encode(camera_state_payload(self._cameras[camera], camera))
        topic = self._s.topics.camera_state_by_slug(camera)
        return Message(topic, payload, self._s.retain_state)

    def _subject_message(self, key: SubjectKey) -> Message:
        state = self._subjects[key]
        if (name := self._camera_name(state.last_camera)) is not None:
            state = dataclasses.replace(state, last_camera_name=name)
        topic = self._s.topics.subject_state_by_slug(*key)
        return Message(topic, encode(subject_state_payload(state)), self._s.retain_state)


def _nobody(published: HereState | None) -> bool:
    """Whether a camera's last published *here* state said nobody and no unknown face."""
    return published is not None and not published.people and not published.unknown_count


def _news(result: RecognitionResult, window: Cooldown, now: float) -> list[DetectedFace | None]:
    """What a snapshot is news about: one visit each, the rest is the same visit again.

    Each known face whose person has no cooldown window open at this camera; for an unknown
    face or no face, which have no person to tell visits apart, the snapshot itself (None),
    once per cooldown per camera, keyed by event type (a tuple never equals a person id).
    """
    if result.outcome != "known":
        key = (OUTCOME_EVENT_TYPE[result.outcome],)
        return [None] if window.allow(key, now) else []
    news: list[DetectedFace | None] = []
    for face in result.known_faces:
        assert face.person is not None
        if window.allow(face.person.person_id, now):
            news.append(face)
    return news


def _flags(state: CameraState) -> tuple[bool, bool, tuple[tuple[str, bool], ...]]:
    """A camera's presence flags, to see whether reconciling changed any."""
    return (state.known_person, state.unknown_face, tuple(sorted(state.tag_presence.items())))


def _adopt(live: CameraState, recovered: CameraState) -> CameraState:
    """The recovered state under the camera's configured name, with the configured tags.

    The payload names the camera by slug only and knows no tag configured since.
    """
    tags = {**live.tag_presence, **recovered.tag_presence}
    return dataclasses.replace(recovered, camera=live.camera, tag_presence=tags)


def _fill_in(live: CameraState, recovered: CameraState) -> CameraState:
    """A camera updated since the start keeps its state; what it does not know yet is taken.

    A faceless snapshot in the first seconds must not blank *Last person*; nor may it forget
    the times that let the next restart place the presence windows.
    """
    changes: dict[str, Any] = {
        "unknown_last_seen": live.unknown_last_seen or recovered.unknown_last_seen,
        "unknown_count": live.unknown_count if live.unknown_last_seen else recovered.unknown_count,
        "tag_last_seen": {**recovered.tag_last_seen, **live.tag_last_seen},
        "tag_presence": {**recovered.tag_presence, **live.tag_presence},
    }
    if live.last_seen is None:
        changes |= {
            "last_person": recovered.last_person,
            "person_id": recovered.person_id,
            "tags": recovered.tags,
            "confidence": recovered.confidence,
            "quality": recovered.quality,
            "last_seen": recovered.last_seen,
        }
    return dataclasses.replace(live, **changes)
