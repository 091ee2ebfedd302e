"""Names and ids shared by MQTT topics, discovery ids and Home Assistant unique ids.

Camera, person and tag names come from topics and from the engine, so they are untrusted:
`slugify` turns any of them into `[a-z0-9_]+`, which can neither add an MQTT topic level nor a
wildcard, nor break a discovery id. The entity table is shared with the integration so that a
user moving between the two finds the same entities with the same names.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
MAX_SLUG = 64

Platform = Literal["sensor", "binary_sensor", "event", "image"]


def slugify(text: str) -> str:
    """Return a lowercase `[a-z0-9_]` form of `text`, never empty.

    Accents are folded (José → jose). A name with nothing usable (e.g. only '#') gets a short
    stable hash, so two such names still differ.
    """
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = _NOT_SLUG.sub("_", folded.lower()).strip("_")[:MAX_SLUG].strip("_")
    if slug:
        return slug
    return "x_" + hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:8]


@dataclass(frozen=True, slots=True)
class EntityKind:
    """One kind of entity: its key (unique-id suffix and translation key) and English name."""

    key: str
    platform: Platform
    name: str


# Per camera. `name` is the English name; the integration's translations/en.json says the same.
LAST_PERSON = EntityKind("last_person", "sensor", "Last person")
FACE_COUNT = EntityKind("face_count", "sensor", "Face count")
KNOWN_PERSON = EntityKind("known_person", "binary_sensor", "Known person")
UNKNOWN_FACE = EntityKind("unknown_face", "binary_sensor", "Unknown face")
RECOGNITION = EntityKind("recognition", "event", "Recognition")
ANNOTATED = EntityKind("annotated", "image", "Last faces")
CAMERA_ENTITIES = (LAST_PERSON, FACE_COUNT, KNOWN_PERSON, UNKNOWN_FACE, RECOGNITION)

# Per tag and per person; `{name}` is the tag's or person's name.
TAG_PRESENT = EntityKind("tag_present", "binary_sensor", "{name} present")
PERSON_PRESENT = EntityKind("person_present", "binary_sensor", "{name} present")
PERSON_LAST_CAMERA = EntityKind("person_last_camera", "sensor", "{name} last camera")
TAG_LAST_CAMERA = EntityKind("tag_last_camera", "sensor", "{name} last camera")

# The engine / bridge health (diagnostic entities).
API_REACHABLE = EntityKind("api_reachable", "binary_sensor", "API reachable")
API_LATENCY = EntityKind("api_latency", "sensor", "API latency")
PROCESSED = EntityKind("processed", "sensor", "Processed snapshots")
DROPPED = EntityKind("dropped", "sensor", "Dropped snapshots")
ERRORS = EntityKind("errors", "sensor", "Errors")
LAST_ERROR = EntityKind("last_error", "sensor", "Last error")
HEALTH_ENTITIES = (API_REACHABLE, API_LATENCY, PROCESSED, DROPPED, ERRORS, LAST_ERROR)

# Event types of the per-camera `event` entity (HA `event` platform).
EVENT_KNOWN = "known_person"
EVENT_UNKNOWN = "unknown_face"
EVENT_NO_FACE = "no_face"
EVENT_TYPES = (EVENT_KNOWN, EVENT_UNKNOWN, EVENT_NO_FACE)
OUTCOME_EVENT_TYPE = {"known": EVENT_KNOWN, "unknown": EVENT_UNKNOWN, "no_face": EVENT_NO_FACE}


def camera_unique_id(node_id: str, camera: str, kind: EntityKind) -> str:
    """Return the unique id of a camera's entity, stable across restarts and renames."""
    return f"{slugify(node_id)}_{slugify(camera)}_{kind.key}"


def subject_unique_id(node_id: str, subject: str, kind: EntityKind) -> str:
    """Return the unique id of a per-tag or per-person entity."""
    return f"{slugify(node_id)}_{kind.key}_{slugify(subject)}"


def health_unique_id(node_id: str, kind: EntityKind) -> str:
    """Return the unique id of a bridge health entity."""
    return f"{slugify(node_id)}_{kind.key}"
