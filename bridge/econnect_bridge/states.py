"""The bridge's MQTT topics and retained state payloads, in one place.

Everything a subscriber reads is described here (topics) or in `econnect_identities.events`
(event payloads), so the contract in `docs/mqtt.md`, the JSON schema in
`core/econnect_identities/schemas/events.schema.json`, the Home Assistant discovery payloads
and the runtime cannot drift apart. Builders are pure: the runtime owns the clock, the counters
and the presence timers and hands in frozen snapshots.

State payloads carry ON/OFF strings (not booleans) because Home Assistant's binary sensors
compare rendered text with `payload_on`/`payload_off`; the bridge itself turns presence OFF after
its timeout and republishes, so the retained state is right even after Home Assistant restarts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from econnect_bridge.metrics import SERIES, BridgeMetrics, Series
from econnect_identities.events import SCHEMA_VERSION, ordered_tags, utc_iso
from econnect_identities.here import Present, people_attributes
from econnect_identities.models import Outcome
from econnect_identities.naming import (
    CameraSlugs,
    SubjectSlugs,
    pretty_name,
    slugify,
)
from econnect_identities.naming import SubjectKind as _SubjectKind

#: A person or a tag (defined with the slugs in `econnect_identities.naming`).
SubjectKind = _SubjectKind

ONLINE = "online"
OFFLINE = "offline"
ON = "ON"
OFF = "OFF"
DEFAULT_BASE_TOPIC = "econnect"

# Names of payload kinds, as used by `econnect_identities.schemas.validate_payload` and
# `Topics.kind_of`.
KIND_RECOGNITION = "recognition"
KIND_VISIT = "visit"
KIND_SIGHTING = "sighting"
KIND_ERROR = "error"
KIND_CAMERA_STATE = "camera_state"
KIND_PERSON_STATE = "person_state"
KIND_TAG_STATE = "tag_state"
KIND_BRIDGE_STATE = "bridge_state"
KIND_HERE_STATE = "here_state"


def check_topic_prefix(value: str, what: str) -> str:
    """Return `value` if it can prefix MQTT topics, else raise ValueError saying why.

    A base topic or discovery prefix comes from the user's configuration: a wildcard or an empty
    level in it would make every published topic invalid or ambiguous, so fail at start-up.
    """
    if not value or value.startswith("/") or value.endswith("/") or "//" in value:
        msg = f"{what} {value!r} must be non-empty levels separated by single '/'"
        raise ValueError(msg)
    if any(char in value for char in "+#\0"):
        msg = f"{what} {value!r} must not contain '+', '#' or NUL"
        raise ValueError(msg)
    return value


def on_off(flag: bool) -> str:
    """Return the ON/OFF text Home Assistant's binary sensors read."""
    return ON if flag else OFF


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else utc_iso(moment)


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def encode(payload: Mapping[str, Any]) -> bytes:
    """Serialise a payload as compact UTF-8 JSON (names with accents stay readable)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True, slots=True)
class Topics:
    """Every topic of the MQTT contract under one base topic.

    Each method slugs the name it is given, so an untrusted camera, person or tag name can
    neither add a topic level nor a wildcard. Camera names go through `slugs`, the registry
    that gives distinct names distinct slugs (`econnect_identities.naming.CameraSlugs`): the
    bridge builds one, seeded with its configured cameras, and shares it with the camera
    directory and discovery, so a camera has the same slug in every topic and id. Person and
    tag names go through `subjects` the same way (`SubjectSlugs`, seeded with the configured
    persons and tags), so `Jane Doe` and `Jane-Doe` get two topics and two sets of entities.
    """

    base: str = DEFAULT_BASE_TOPIC
    slugs: CameraSlugs = field(default_factory=CameraSlugs, compare=False, repr=False)
    subjects: SubjectSlugs = field(default_factory=SubjectSlugs, compare=False, repr=False)

    def __post_init__(self) -> None:
        check_topic_prefix(self.base, "base topic")

    def _join(self, *levels: str) -> str:
        return "/".join((self.base, *levels))

    def camera_slug(self, camera: str) -> str:
        """The camera's topic level (claimed in the registry the first time it is asked)."""
        return self.slugs.slug(camera)

    def subject_slug(self, kind: SubjectKind, name: str) -> str:
        """A person's or tag's topic level (claimed in the registry the first time)."""
        return self.subjects.slug(kind, name)

    def events(self) -> str:
        """Every recognition event, one per processed snapshot (not retained)."""
        return self._join("events")

    def camera_events(self, camera: str) -> str:
        """One camera's visits, one per person per cooldown (not retained).

        Home Assistant's event entity reads this topic, so it carries the short visit payload
        (`econnect_identities.events.visit_event`), not the full recognition event.
        """
        return self._join("cameras", self.camera_slug(camera), "events")

    def person_event(self, person: str) -> str:
        """A known person seen (not retained)."""
        return self._join("persons", self.subject_slug("person", person))

    def tag_event(self, tag: str) -> str:
        """A person carrying a tag seen (not retained)."""
        return self._join("tags", self.subject_slug("tag", tag))

    def errors(self) -> str:
        """Snapshots that could not be processed (not retained)."""
        return self._join("errors")

    def availability(self) -> str:
        """`online` / `offline` (retained; `offline` is the MQTT last will)."""
        return self._join("bridge", "availability")

    def bridge_state(self) -> str:
        """The bridge's health (retained when `retain_state`)."""
        return self._join("bridge", "state")

    def camera_state(self, camera: str) -> str:
        """One camera's latest result and presence (retained when `retain_state`)."""
        return self.camera_state_by_slug(self.camera_slug(camera))

    def camera_state_by_slug(self, slug: str) -> str:
        """The state topic of the camera whose slug is `slug` (a recovered state knows no name)."""
        return self._join("cameras", slug, "state")

    def person_state(self, person: str) -> str:
        """One person's presence (retained when `retain_state`)."""
        return self.subject_state_by_slug("person", self.subject_slug("person", person))

    def tag_state(self, tag: str) -> str:
        """One tag's presence (retained when `retain_state`)."""
        return self.subject_state_by_slug("tag", self.subject_slug("tag", tag))

    def subject_state(self, kind: SubjectKind, name: str) -> str:
        """The state topic of a person or a tag."""
        return self.person_state(name) if kind == "person" else self.tag_state(name)

    def subject_state_by_slug(self, kind: SubjectKind, slug: str) -> str:
        """The state topic of the person or tag whose slug is `slug`."""
        return self._join("persons" if kind == "person" else "tags", slug, "state")

    def camera_here_by_slug(self, slug: str) -> str:
        """Who is at the camera whose slug is `slug` now (retained when `retain_state`)."""
        return self._join("cameras", slug, "here")

    def camera_here(self, camera: str) -> str:
        """Who is at one camera now (retained when `retain_state`)."""
        return self.camera_here_by_slug(self.camera_slug(camera))

    def here(self) -> str:
        """Who is at any camera now (retained when `retain_state`)."""
        return self._join("bridge", "here")

    def annotated(self, camera: str) -> str:
        """The last snapshot with faces boxed, as raw JPEG bytes (optional)."""
        return self._join("cameras", self.camera_slug(camera), "annotated")

    def person_face(self, person: str) -> str:
        """A person's last known face, as raw JPEG bytes (retained; `publish.face_pictures`)."""
        return self.person_face_by_slug(self.subject_slug("person", person))

    def person_face_by_slug(self, slug: str) -> str:
        """The face picture topic of the person whose slug is `slug`."""
        return self._join("persons", slug, "face")

    def camera_unknown_face(self, camera: str) -> str:
        """A camera's last unknown face, as raw JPEG bytes (retained; `publish.face_pictures`)."""
        return self.camera_unknown_face_by_slug(self.camera_slug(camera))

    def camera_unknown_face_by_slug(self, slug: str) -> str:
        """The unknown face picture topic of the camera whose slug is `slug`."""
        return self._join("cameras", slug, "unknown_face")

    def face_picture_filters(self) -> tuple[str, str]:
        """The filters matching every face picture topic (to clear them when turned off)."""
        return self._join("persons", "+", "face"), self._join("cameras", "+", "unknown_face")

    def kind_of(self, topic: str) -> str | None:
        """Name the JSON payload kind published on `topic` (None: not JSON or not ours).

        Lets tests and tools validate whatever they receive under the base topic with
        `econnect_identities.schemas.validate_payload(topics.kind_of(topic), payload)`.
        """
        prefix = self.base + "/"
        if not topic.startswith(prefix):
            return None
        return _KIND_BY_SHAPE.get(_shape(topic[len(prefix) :].split("/")))


def _shape(levels: list[str]) -> tuple[str, ...]:
    """Replace the name level of `cameras/x/...`, `persons/x...`, `tags/x...` with `*`."""
    if len(levels) >= 2 and levels[0] in {"cameras", "persons", "tags"}:
        return (levels[0], "*", *levels[2:])
    return tuple(levels)


_KIND_BY_SHAPE: dict[tuple[str, ...], str] = {
    ("events",): KIND_RECOGNITION,
    ("cameras", "*", "events"): KIND_VISIT,
    ("persons", "*"): KIND_SIGHTING,
    ("tags", "*"): KIND_SIGHTING,
    ("errors",): KIND_ERROR,
    ("cameras", "*", "state"): KIND_CAMERA_STATE,
    ("cameras", "*", "here"): KIND_HERE_STATE,
    ("bridge", "here"): KIND_HERE_STATE,
    ("persons", "*", "state"): KIND_PERSON_STATE,
    ("tags", "*", "state"): KIND_TAG_STATE,
    ("bridge", "state"): KIND_BRIDGE_STATE,
}


@dataclass(frozen=True, slots=True)
class CameraState:
    """What one camera saw last, and whether its presence flags are still on.

    `time` is when this state was produced (a result or a presence timeout); `last_seen` is
    when `last_person` was seen. `tag_presence` maps tag names (any spelling) to on/off.
    `unknown_last_seen` and `tag_last_seen` (tag slug → time) are when an unknown face and
    each tag were last seen here: with `last_seen` they let a restarted bridge tell which
    presence flags of its retained state have timed out meanwhile (`econnect_bridge.recovery`).
    """

    camera: str
    time: datetime
    outcome: Outcome | None = None
    face_count: int = 0
    last_person: str | None = None
    person_id: str | None = None
    tags: tuple[str, ...] = ()
    confidence: float | None = None
    quality: float | None = None
    last_seen: datetime | None = None
    known_person: bool = False
    unknown_face: bool = False
    tag_presence: Mapping[str, bool] = field(default_factory=dict)
    unknown_last_seen: datetime | None = None
    tag_last_seen: Mapping[str, datetime] = field(default_factory=dict)
    frigate_event_id: str | None = None  # the Frigate object of the latest result, if any
    unknown_count: int = 0  # unknown faces in the latest snapshot that had any


@dataclass(frozen=True, slots=True)
class SubjectState:
    """Presence of one person or one tag, across cameras.

    `last_camera` is the slug of the camera last seen at (what the payload carries); a name
    given instead is slugged with plain `slugify` when published. `last_camera_name` is that
    camera's display name ("Front door"), what people read; without it the slug is made
    readable (`pretty_name`).
    """

    kind: SubjectKind
    name: str
    presence: bool = False
    person_id: str | None = None
    last_camera: str | None = None
    last_person: str | None = None
    last_seen: datetime | None = None
    confidence: float | None = None
    last_camera_name: str | None = None
    tags: tuple[str, ...] = ()  # a person's tags when last seen, for the *People here* lists


@dataclass(frozen=True, slots=True)
class HereState:
    """Who is here now: at the camera whose slug is `camera`, or anywhere when None.

    `people` are the persons whose presence is ON and whose last camera it is;
    `unknown_count` the unknown faces of the latest snapshot with any, while the unknown
    face presence is ON (summed over the cameras for the bridge).
    """

    camera: str | None
    people: tuple[Present, ...] = ()
    unknown_count: int = 0


#: The bridge's figures; the former name of `BridgeMetrics`, kept for callers that build one.
HealthState = BridgeMetrics


def camera_state_payload(state: CameraState, slug: str | None = None) -> dict[str, Any]:
    """Build the payload of `<base>/cameras/<camera>/state`.

    `camera` is the camera's slug, the level of its topic: `slug` when given (the registry's,
    see `Topics.slugs`), else `slugify(state.camera)`.
    """
    return {
        "schema_version": SCHEMA_VERSION,
        "camera": slug or slugify(state.camera),
        "time": utc_iso(state.time),
        "outcome": state.outcome,
        "face_count": state.face_count,
        "last_person": state.last_person,
        "person_id": state.person_id,
        "tags": ordered_tags(state.tags),
        "confidence": _round(state.confidence, 4),
        "quality": _round(state.quality, 4),
        "last_seen": _time(state.last_seen),
        "known_person": on_off(state.known_person),
        "unknown_face": on_off(state.unknown_face),
        "tag_presence": {slugify(tag): on_off(on) for tag, on in state.tag_presence.items()},
        "unknown_last_seen": _time(state.unknown_last_seen),
        "tag_last_seen": {
            slugify(tag): utc_iso(seen) for tag, seen in sorted(state.tag_last_seen.items())
        },
        "frigate_event_id": state.frigate_event_id,
        "unknown_count": state.unknown_count,
    }


def _last_camera(state: SubjectState) -> str | None:
    return None if state.last_camera is None else slugify(state.last_camera)


def _last_camera_name(state: SubjectState) -> str | None:
    if state.last_camera is None:
        return None
    return state.last_camera_name or pretty_name(state.last_camera)


def person_state_payload(state: SubjectState) -> dict[str, Any]:
    """Build the payload of `<base>/persons/<person>/state`."""
    return {
        "schema_version": SCHEMA_VERSION,
        "person": state.name,
        "person_id": state.person_id,
        "presence": on_off(state.presence),
        "last_camera": _last_camera(state),
        "last_camera_name": _last_camera_name(state),
        "last_seen": _time(state.last_seen),
        "confidence": _round(state.confidence, 4),
        "tags": ordered_tags(state.tags),
    }


def tag_state_payload(state: SubjectState) -> dict[str, Any]:
    """Build the payload of `<base>/tags/<tag>/state`."""
    return {
        "schema_version": SCHEMA_VERSION,
        "tag": state.name,
        "presence": on_off(state.presence),
        "last_camera": _last_camera(state),
        "last_camera_name": _last_camera_name(state),
        "last_person": state.last_person,
        "last_seen": _time(state.last_seen),
    }


def subject_state_payload(state: SubjectState) -> dict[str, Any]:
    """Build a person's or a tag's state payload, whichever `state.kind` says."""
    if state.kind == "person":
        return person_state_payload(state)
    return tag_state_payload(state)


def here_state_payload(state: HereState, time: datetime) -> dict[str, Any]:
    """Build the payload of `<base>/cameras/<camera>/here` or `<base>/bridge/here`."""
    return {
        "schema_version": SCHEMA_VERSION,
        "camera": state.camera,
        "time": utc_iso(time),
        "people_count": len(state.people),
        **people_attributes(state.people),
        "unknown_count": state.unknown_count,
    }


def _payload_value(metrics: BridgeMetrics, series: Series) -> object:
    value: object = getattr(metrics, series.attr)
    return on_off(bool(value)) if series.kind == "flag" else value


def bridge_state_payload(state: BridgeMetrics) -> dict[str, Any]:
    """Build the payload of `<base>/bridge/state` from the metrics table.

    Every series of `SERIES` is rendered, so the payload and /metrics carry the same figures.
    """
    payload: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "version": state.version,
        "api_latency_ms": _round(state.api_latency_ms, 1),
        "last_error": state.last_error,
        "started": utc_iso(state.started),
    }
    for series in SERIES:
        payload[series.field] = _payload_value(state, series)
    return payload
