"""Recognition: image → engine → filtered result → entity state, bus events and repairs.

A recognition has two halves. `Recognizer.async_attempt` asks the engine and filters the
answer, touching no entity and firing no event; `Recognizer.async_deliver` shows a result:
entity state, the annotated image, the face pictures (when the option is on) and the bus
events. Camera triggers, MQTT snapshots and the `recognize` action do both at once
(`async_recognize_image`), so they all update entities and fire events the same way;
Frigate's events mode makes several attempts per tracked object and delivers only the one
the core's `ObjectFollower` decides on.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.util import dt as dt_util
from homeassistant.util.signal_type import SignalType

from econnect_identities import (
    DetectedFace,
    EconnectAuthenticationError,
    EconnectConnectionError,
    EconnectError,
    EconnectPermissionError,
    Person,
    RecognitionResult,
)
from econnect_identities.aio import AsyncEconnectClient
from econnect_identities.annotate import annotate
from econnect_identities.cooldown import Cooldown
from econnect_identities.events import Sighting, recognition_event, sighting_event
from econnect_identities.face_picture import pictures_of
from econnect_identities.frigate import FrigateRef
from econnect_identities.here import Present, at_camera, within
from econnect_identities.rules import Judgement, as_judgement

from .const import CAMERA_IMAGE_TIMEOUT, DOMAIN, EVENT_FACE, ISSUE_MISSING_PERMISSION, LOGGER
from .coordinator import EconnectHealthCoordinator
from .data import EconnectConfigEntry
from .helpers import engine_errors
from .options import EntryOptions


@dataclass(slots=True)
class SourceState:
    """What the entities of one camera (or MQTT topic) show."""

    result: RecognitionResult | None = None
    event: dict[str, Any] | None = None
    time: datetime | None = None
    last_known: DetectedFace | None = None
    last_known_time: datetime | None = None
    last_known_frigate_event_id: str | None = None  # the Frigate object it came from, if any
    image: bytes | None = None
    image_time: datetime | None = None
    unknown_face: bytes | None = None  # the last unknown face (face pictures option), in memory
    unknown_face_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class FacePicture:
    """A person's last known face (`econnect_identities.face_picture`), kept in memory only."""

    picture: bytes = field(repr=False)
    time: datetime


@dataclass(frozen=True, slots=True)
class Attempt:
    """One picture's judged answer, not shown yet: entities and events wait for a decision.

    `result` holds the known and unknown faces (what entities show); `judgement` adds the
    uncertain faces and the rule of each (`econnect_identities.rules`), excluded ones gone.
    """

    source: str
    image: bytes = field(repr=False)
    result: RecognitionResult
    detect_time: datetime
    latency_ms: float
    judgement: Judgement = field(default_factory=Judgement)

    @classmethod
    def judged(
        cls, source: str, image: bytes, judgement: Judgement, detect_time: datetime, latency: float
    ) -> Attempt:
        """Build an attempt from a judgement (its `result` read off it once)."""
        return cls(source, image, judgement.result, detect_time, latency, judgement)


@dataclass(slots=True)
class TagSighting:
    """Tags seen in one recognition, for the per-tag presence entities."""

    source: str
    tags: frozenset[str] = field(default_factory=frozenset)


@dataclass(slots=True)
class HereBook:
    """Who was seen where and when, for the *People here* and *Unknown faces here* sensors.

    One per entry: a person is here at the source they were last seen at only, so the
    per-source lists add up to the entry's. Kept by person id (a renamed person stays one
    entry); unknown faces by source, as (count in the latest picture with any, when).
    """

    window: float
    people: dict[str, Present] = field(default_factory=dict)
    unknown: dict[str, tuple[int, datetime]] = field(default_factory=dict)

    def seen_person(self, present: Present) -> None:
        """Remember a sighting, unless a later one of the same person is known already."""
        key = present.person_id or present.name
        known = self.people.get(key)
        if known is None or known.last_seen <= present.last_seen:
            self.people[key] = present

    def seen_unknown(self, source: str, count: int, when: datetime) -> None:
        """Remember the unknown faces of a picture, unless a later picture is known already."""
        known = self.unknown.get(source)
        if known is None or known[1] <= when:
            self.unknown[source] = (count, when)

    def people_here(self, now: datetime, source: str | None = None) -> list[Present]:
        """The persons seen within the window, at `source` (None: anywhere)."""
        people = within(self.people.values(), now, self.window)
        return people if source is None else at_camera(people, source)

    def unknown_here(self, now: datetime, source: str | None = None) -> int:
        """The unknown faces seen within the window, at `source` (None: summed)."""
        limit = now - timedelta(seconds=self.window)
        return sum(
            count
            for where, (count, when) in self.unknown.items()
            if when > limit and source in (None, where)
        )

    def next_change(self, now: datetime) -> datetime | None:
        """When the next window passes (a sensor's timer), None when nothing is inside one."""
        window = timedelta(seconds=self.window)
        times = [p.last_seen for p in self.people.values()]
        times += [when for _, when in self.unknown.values()]
        ends = [seen + window for seen in times if seen + window > now]
        return min(ends, default=None)


def source_signal(entry_id: str, source: str) -> SignalType[SourceState]:
    """Return the dispatcher signal of one source's entities."""
    return SignalType(f"{DOMAIN}_{entry_id}_{source}")


def here_signal(entry_id: str) -> SignalType[HereBook]:
    """Return the dispatcher signal of the *here* sensors (any source's recognition)."""
    return SignalType(f"{DOMAIN}_{entry_id}_here")


def faces_signal(entry_id: str) -> SignalType[frozenset[str]]:
    """Return the dispatcher signal of the face pictures: the names whose picture changed."""
    return SignalType(f"{DOMAIN}_{entry_id}_faces")


def tags_signal(entry_id: str) -> SignalType[TagSighting]:
    """Return the dispatcher signal of the per-tag presence entities."""
    return SignalType(f"{DOMAIN}_{entry_id}_tags")


def issue_id(kind: str, entry_id: str) -> str:
    """Return a repair issue id unique to one entry."""
    return f"{kind}_{entry_id}"


class Recognizer:
    """Run recognitions for one entry and remember the latest result per source."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EconnectConfigEntry,
        client: AsyncEconnectClient,
        coordinator: EconnectHealthCoordinator,
        options: EntryOptions,
        *,
        extra_sources: Mapping[str, str] | None = None,
    ) -> None:
        """Remember the entry's sources.

        `extra_sources` are sources the options do not list (Frigate's cameras, learnt from
        Frigate at setup), each with the human name its device shows.
        """
        self.hass = hass
        self.entry = entry
        self.client = client
        self.coordinator = coordinator
        self.options = options
        self.source_names: dict[str, str] = dict(extra_sources or {})
        sources = dict.fromkeys((*options.sources, *self.source_names))
        self.states: dict[str, SourceState] = {s: SourceState() for s in sources}
        self._cooldown = Cooldown(options.cooldown)
        self.here = HereBook(options.presence_time)
        self._rules = options.policy.rule_set()
        self.faces_excluded = 0  # faces of excluded people or tags (diagnostics)
        self.faces_uncertain = 0  # faces matched below their known threshold (diagnostics)
        self.faces: dict[str, FacePicture] = {}  # person display name → last known face
        self.face_names: frozenset[str] = frozenset()  # the persons with a face entity

    async def async_recognize_camera(self, entity_id: str) -> dict[str, Any]:
        """Fetch a camera's snapshot and recognise it.

        The camera component is imported here, not at module import: it needs PyTurboJPEG,
        which Home Assistant installs only once a camera integration is set up.
        """
        from homeassistant.components.camera import async_get_image

        try:
            image = await async_get_image(self.hass, entity_id, timeout=CAMERA_IMAGE_TIMEOUT)
        except HomeAssistantError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="camera_image_failed",
                translation_placeholders={"camera": entity_id, "error": str(err)},
            ) from err
        return await self.async_recognize_image(entity_id, image.content)

    async def async_recognize_all(self) -> None:
        """Recognise every watched camera (a trigger turned on); failures are logged."""
        for entity_id in self.options.cameras:
            try:
                await self.async_recognize_camera(entity_id)
            except HomeAssistantError as err:
                LOGGER.warning("Recognition on %s failed: %s", entity_id, err)

    async def async_recognize_image(self, source: str, image: bytes) -> dict[str, Any]:
        """Recognise `image` taken by `source` and show it; return the event description."""
        return await self.async_deliver(await self.async_attempt(source, image))

    async def async_attempt(self, source: str, image: bytes) -> Attempt:
        """Ask the engine about `image` and filter the answer; show nothing yet.

        Engine failures still raise the repair, reauthentication or unavailability they
        always do: those are about the engine, not about one picture.
        """
        detect_time = dt_util.utcnow()
        start = time.monotonic()
        with engine_errors(on_error=self._handle_failure):
            raw = await self.client.publish_with_response(
                image,
                detector_name=source,
                time_zone=str(self.hass.config.time_zone),
                detect_time=detect_time,
                options=self.options.publish_options,
            )
        latency_ms = (time.monotonic() - start) * 1000
        ir.async_delete_issue(
            self.hass, DOMAIN, issue_id(ISSUE_MISSING_PERMISSION, self.entry.entry_id)
        )
        judgement = self._judge(raw, source)
        return Attempt.judged(source, image, judgement, detect_time, latency_ms)

    async def async_deliver(
        self, attempt: Attempt, frigate: FrigateRef | None = None
    ) -> dict[str, Any]:
        """Show one decided result: entity state, annotated image and bus events, once.

        Args:
            attempt: What `async_attempt` returned.
            frigate: The Frigate object the picture shows (events mode), named in the event.
        """
        source = attempt.source
        sighting = Sighting(
            camera=source,
            detector_name=source,
            detect_time=attempt.detect_time,
            latency_ms=attempt.latency_ms,
            frigate=frigate,
        )
        judged = attempt.judgement
        if not judged.verdicts and not judged.excluded:  # built without one: judge it bare
            judged = as_judgement(attempt.result)
        event = recognition_event(judged, sighting, self.options.person_fields)
        if judged.only_uncertain or judged.nothing_left:
            return event  # neither a known person nor an unknown face: entities stay as they are
        await self._async_update_state(attempt, event, frigate, judged)
        self._fire_face_events(sighting, judged)
        return event

    def _judge(self, result: RecognitionResult, source: str) -> Judgement:
        """Apply the quality and size thresholds, then the shared rules (`rules.py`).

        Confidence is the rules' business: the minimum confidence is their base threshold,
        over which a person's or tag's rule may ask more.
        """
        policy = self.options.policy
        kept = result.filtered(
            min_quality=policy.min_face_quality, min_face_size=policy.min_face_size
        )
        judgement = self._rules.judge(kept, source)
        self.faces_excluded += judgement.excluded
        self.faces_uncertain += len(judgement.uncertain)
        return judgement

    async def _async_update_state(
        self,
        attempt: Attempt,
        event: dict[str, Any],
        frigate: FrigateRef | None,
        judged: Judgement,
    ) -> None:
        """Store the result of a watched source and tell its entities."""
        source, result = attempt.source, attempt.result
        if source not in self.states:
            return  # an ad-hoc action on an unwatched camera updates no entity
        state = self.states[source]
        now = dt_util.utcnow()
        state.result, state.event, state.time = result, event, now
        known = sorted(result.known_faces, key=lambda f: f.confidence, reverse=True)
        if known:
            state.last_known, state.last_known_time = known[0], now
            state.last_known_frigate_event_id = None if frigate is None else frigate.event_id
        if result.faces:
            annotated = await self.hass.async_add_executor_job(
                annotate, attempt.image, result.faces
            )
            if annotated is not None:
                state.image, state.image_time = annotated, now
        if self.options.face_pictures and result.faces:
            await self._async_cut_faces(attempt.image, judged, state, now)
        self._note_here(source, result, now)
        entry_id = self.entry.entry_id
        async_dispatcher_send(self.hass, source_signal(entry_id, source), state)
        async_dispatcher_send(self.hass, here_signal(entry_id), self.here)
        tags = frozenset(tag for face in known if face.person for tag in face.person.tag_names)
        if tags:
            async_dispatcher_send(self.hass, tags_signal(entry_id), TagSighting(source, tags))

    async def _async_cut_faces(
        self, image: bytes, judged: Judgement, state: SourceState, now: datetime
    ) -> None:
        """Keep the known persons' faces and the source's unknown face (judged: never others).

        The pictures are cut in the executor and kept in memory only, never in Home
        Assistant's storage: they go with a reload, a restart or the option turned off.
        """
        known, unknown = await self.hass.async_add_executor_job(pictures_of, image, judged)
        if unknown is not None:
            state.unknown_face, state.unknown_face_time = unknown, now
        known = {name: picture for name, picture in known.items() if name in self.face_names}
        for name, picture in known.items():
            self.faces[name] = FacePicture(picture, now)
        if known:
            async_dispatcher_send(self.hass, faces_signal(self.entry.entry_id), frozenset(known))

    def _note_here(self, source: str, result: RecognitionResult, now: datetime) -> None:
        """Put the result's known persons and unknown faces in the *here* book.

        `result` holds known and unknown faces only: excluded and uncertain faces were
        judged out of it, so they are never people here.
        """
        from .entity import source_name  # entity imports this module

        name = source_name(self.coordinator, source)
        for face in result.known_faces:
            if (person := face.person) is not None:
                present = Present(
                    person.display_name, person.person_id, person.tag_names, source, name, now
                )
                self.here.seen_person(present)
        if result.unknown_faces:
            self.here.seen_unknown(source, len(result.unknown_faces), now)

    def _fire_face_events(self, sighting: Sighting, judged: Judgement) -> None:
        """Fire one bus event per known face, at most once per person and camera per cooldown."""
        now = time.monotonic()
        for face in judged.result.known_faces:
            person = face.person
            if person is None or not self._cooldown.allow((person.person_id, sighting.camera), now):
                continue
            data = self.face_event_data(face, person, sighting, rule=judged.rule_for(face))
            self.hass.bus.async_fire(EVENT_FACE, data)

    def face_event_data(
        self, face: DetectedFace, person: Person, sighting: Sighting, *, rule: str = "default"
    ) -> dict[str, Any]:
        """Describe a known face as the bridge's `person_seen` sighting, plus the legacy keys.

        The shared builder makes the payload, so automations read the fields Node-RED flows
        read on `<base>/persons/<person>`. The keys the bus event carried before the schema
        (`EVENT_FACE_LEGACY_KEYS`) are kept beside them: existing automations use them.
        """
        data = sighting_event(face, sighting, self.options.person_fields, rule=rule)
        data.update(
            entry_id=self.entry.entry_id,
            camera_entity_id=sighting.camera,
            name=person.display_name,
            person_id=person.person_id,
            tags=list(person.tag_names),
        )
        return data

    def _handle_failure(self, err: EconnectError) -> None:
        """Turn an engine failure into what the user must see: a repair, reauth or unavailable."""
        if isinstance(err, EconnectPermissionError):
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                issue_id(ISSUE_MISSING_PERMISSION, self.entry.entry_id),
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key=ISSUE_MISSING_PERMISSION,
                translation_placeholders={
                    "username": self.client_username,
                    "title": self.entry.title,
                },
            )
        elif isinstance(err, EconnectAuthenticationError):
            self.entry.async_start_reauth(self.hass)
        elif isinstance(err, EconnectConnectionError):
            self.coordinator.async_set_update_error(err)

    @property
    def client_username(self) -> str:
        """Return the account name shown in the permission repair."""
        return str(self.entry.data.get("username", ""))
