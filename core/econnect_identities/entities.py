"""The entity table: which entities exist and how Home Assistant shows them, for both front ends.

The bridge's MQTT discovery payloads and the integration's entity descriptions are built from
`ENTITY_TABLE`, so a user moving between the two finds the same keys, names, device classes and
attribute names. Values are Home Assistant's plain strings ("occupancy", "measurement"), so the
core needs no Home Assistant import; the integration turns them into its enums.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from econnect_identities import naming
from econnect_identities.naming import EntityKind, Platform

Scope = Literal["camera", "camera_tag", "tag", "person", "bridge", "health"]
FrontEnd = Literal["bridge", "integration"]
BOTH: frozenset[FrontEnd] = frozenset({"bridge", "integration"})
BRIDGE_ONLY: frozenset[FrontEnd] = frozenset({"bridge"})

# Attribute names shared by both front ends.
LAST_PERSON_ATTRIBUTES = (
    "person_id",
    "tags",
    "confidence",
    "quality",
    "last_seen",
    "frigate_event_id",
)
# `last_camera` is the camera's slug (bridge) or entity id (integration), for automations;
# `last_camera_name` its display name ("Front door"), for people.
TAG_ATTRIBUTES = ("last_camera", "last_camera_name", "last_person", "last_seen")
PERSON_ATTRIBUTES = ("person_id", "last_camera", "last_camera_name", "last_seen", "confidence")
# The event entity's summary; the bridge's event carries the whole event payload besides.
RECOGNITION_ATTRIBUTES = ("face_count", "known_count", "unknown_count", "persons", "tags", "camera")
# Who is here (`econnect_identities.here`): the names for a dashboard, the details for automations.
PEOPLE_HERE_ATTRIBUTES = ("names", "people")


@dataclass(frozen=True, slots=True)
class EntityRow:
    """One kind of entity as Home Assistant shows it, whichever front end creates it.

    `scope` says what it is repeated for (each camera, camera and tag, tag, person, or once:
    `bridge` for the whole bridge or entry, `health` for its diagnostics);
    `attributes` are its state attribute names; `front_ends` which front ends create it (some
    need data only the bridge has, such as its counters or the engine's roster);
    `face_picture` marks a picture of a face (`econnect_identities.face_picture`), which
    exists only while the user has face pictures on (`publish.face_pictures` on the bridge,
    the *Face pictures* option in the integration): off by default, for privacy.
    """

    kind: EntityKind
    scope: Scope
    device_class: str | None = None
    state_class: str | None = None
    unit: str | None = None
    attributes: tuple[str, ...] = ()
    diagnostic: bool = False
    front_ends: frozenset[FrontEnd] = BOTH
    face_picture: bool = False

    @property
    def key(self) -> str:
        """The unique-id suffix and translation key."""
        return self.kind.key

    @property
    def platform(self) -> Platform:
        """The Home Assistant platform (sensor, binary_sensor, event, image)."""
        return self.kind.platform

    @property
    def translation_key(self) -> str:
        """The key of the name in the integration's translations (the English name here)."""
        return self.kind.key

    def english_name(self, subject: str = "") -> str:
        """Return the English name, with the tag's or person's name filled in."""
        return self.kind.name.format(name=subject)


#: A person's last known face and a camera's last unknown face (`econnect_identities.face_picture`).
PERSON_FACE_KIND = EntityKind("person_face", "image", "{name} face")
LAST_UNKNOWN_FACE_KIND = EntityKind("last_unknown_face", "image", "Last unknown face")


def _counter(kind: EntityKind) -> EntityRow:
    """A bridge counter: it only grows, until the bridge restarts."""
    return EntityRow(
        kind, "health", state_class="total_increasing", diagnostic=True, front_ends=BRIDGE_ONLY
    )


LAST_PERSON = EntityRow(naming.LAST_PERSON, "camera", attributes=LAST_PERSON_ATTRIBUTES)
FACE_COUNT = EntityRow(naming.FACE_COUNT, "camera", state_class="measurement")
KNOWN_PERSON = EntityRow(naming.KNOWN_PERSON, "camera", device_class="occupancy")
UNKNOWN_FACE = EntityRow(naming.UNKNOWN_FACE, "camera", device_class="occupancy")
CAMERA_TAG_PRESENT = EntityRow(
    naming.TAG_PRESENT, "camera_tag", device_class="occupancy", front_ends=BRIDGE_ONLY
)
RECOGNITION = EntityRow(naming.RECOGNITION, "camera", attributes=RECOGNITION_ATTRIBUTES)
ANNOTATED = EntityRow(naming.ANNOTATED, "camera")
PEOPLE_HERE = EntityRow(
    naming.PEOPLE_HERE, "camera", state_class="measurement", attributes=PEOPLE_HERE_ATTRIBUTES
)
UNKNOWN_FACES_HERE = EntityRow(naming.UNKNOWN_FACES_HERE, "camera", state_class="measurement")
LAST_UNKNOWN_FACE = EntityRow(LAST_UNKNOWN_FACE_KIND, "camera", face_picture=True)
PERSON_FACE = EntityRow(PERSON_FACE_KIND, "person", face_picture=True)
ALL_PEOPLE_HERE = dataclasses.replace(PEOPLE_HERE, scope="bridge")
ALL_UNKNOWN_FACES_HERE = dataclasses.replace(UNKNOWN_FACES_HERE, scope="bridge")
TAG_PRESENT = EntityRow(
    naming.TAG_PRESENT, "tag", device_class="occupancy", attributes=TAG_ATTRIBUTES
)
TAG_LAST_CAMERA = EntityRow(naming.TAG_LAST_CAMERA, "tag", front_ends=BRIDGE_ONLY)
PERSON_PRESENT = EntityRow(
    naming.PERSON_PRESENT,
    "person",
    device_class="occupancy",
    attributes=PERSON_ATTRIBUTES,
    front_ends=BRIDGE_ONLY,
)
PERSON_LAST_CAMERA = EntityRow(naming.PERSON_LAST_CAMERA, "person", front_ends=BRIDGE_ONLY)
API_REACHABLE = EntityRow(
    naming.API_REACHABLE, "health", device_class="connectivity", diagnostic=True
)
API_LATENCY = EntityRow(
    naming.API_LATENCY,
    "health",
    device_class="duration",
    state_class="measurement",
    unit="ms",
    diagnostic=True,
)
PROCESSED = _counter(naming.PROCESSED)
DROPPED = _counter(naming.DROPPED)
ERRORS = _counter(naming.ERRORS)
LAST_ERROR = EntityRow(naming.LAST_ERROR, "health", diagnostic=True, front_ends=BRIDGE_ONLY)

ENTITY_TABLE: tuple[EntityRow, ...] = (
    LAST_PERSON,
    FACE_COUNT,
    KNOWN_PERSON,
    UNKNOWN_FACE,
    CAMERA_TAG_PRESENT,
    RECOGNITION,
    ANNOTATED,
    PEOPLE_HERE,
    UNKNOWN_FACES_HERE,
    TAG_PRESENT,
    TAG_LAST_CAMERA,
    PERSON_PRESENT,
    PERSON_LAST_CAMERA,
    LAST_UNKNOWN_FACE,
    PERSON_FACE,
    ALL_PEOPLE_HERE,
    ALL_UNKNOWN_FACES_HERE,
    API_REACHABLE,
    API_LATENCY,
    PROCESSED,
    DROPPED,
    ERRORS,
    LAST_ERROR,
)


def rows_for(front_end: FrontEnd, *, face_pictures: bool = True) -> tuple[EntityRow, ...]:
    """Return the rows one front end creates, in table order (without face pictures if off)."""
    return tuple(
        row
        for row in ENTITY_TABLE
        if front_end in row.front_ends and (face_pictures or not row.face_picture)
    )
