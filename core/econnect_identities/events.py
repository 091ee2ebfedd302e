"""The published event schema: recognition results as versioned, JSON-ready dicts.

One schema serves the bridge's MQTT events and the integration's action response and bus
events, so Node-RED flows and Home Assistant scripts read the same fields. Which person data
is included is the user's choice (`person_fields`): person data is personal data.
Bump `SCHEMA_VERSION` on any incompatible change and update `docs/mqtt.md` and
`core/econnect_identities/schemas/events.schema.json` with it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from econnect_identities.frigate import FrigateRef
from econnect_identities.models import DetectedFace, EntityField, Person, RecognitionResult
from econnect_identities.naming import OUTCOME_EVENT_TYPE, slugify
from econnect_identities.rules import DEFAULT_RULE, Judgement, Verdict, as_judgement

SCHEMA_VERSION = 1
PERSON_FIELDS = ("name", "aliases", "tags", "fields", "addresses")
DEFAULT_PERSON_FIELDS = frozenset({"name", "aliases", "tags"})
#: A snapshot whose every face is uncertain: on `<base>/events` only, never a visit.
UNCERTAIN_OUTCOME = "uncertain"
UNCERTAIN_EVENT_TYPE = "uncertain_face"


def utc_iso(moment: datetime) -> str:
    """Format a time as ISO 8601 UTC with a `Z`, to the millisecond."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _field_value(value: object) -> object:
    if isinstance(value, datetime):
        return utc_iso(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _fields(fields: Iterable[EntityField]) -> dict[str, object]:
    return {item.name: _field_value(item.value) for item in fields}


def ordered_tags(names: Iterable[str]) -> list[str]:
    """Return tag names in the one order of every payload: the engine's, duplicates dropped.

    A person's tags appear in several payloads of one snapshot (the recognition event, the
    visit, the camera state, the person objects) and in the Home Assistant integration's
    events and attributes; keeping the order the engine returned them in (first occurrence
    wins) makes them all agree, so a flow can compare lists as they are.
    """
    return list(dict.fromkeys(names))


def person_dict(person: Person, person_fields: frozenset[str]) -> dict[str, Any]:
    """Describe a person with only the sections the user chose to publish."""
    data: dict[str, Any] = {"id": person.person_id}
    if "name" in person_fields:
        data["name"] = person.display_name
    if "aliases" in person_fields:
        data["aliases"] = [alias.full_name for alias in person.aliases if alias.full_name]
    if "tags" in person_fields:
        data["tags"] = [
            {"id": tag.tag_id, "name": tag.name, "expires": tag.expires} for tag in person.tags
        ]
    if "fields" in person_fields:
        data["fields"] = _fields(person.fields)
    if "addresses" in person_fields:
        data["addresses"] = [dict(address) for address in person.addresses]
    return data


def face_dict(
    face: DetectedFace, person_fields: frozenset[str], verdict: Verdict | None = None
) -> dict[str, Any]:
    """Describe one detected face, with its verdict: known, uncertain (and whom) or unknown.

    An uncertain face has `known: false` and `person: null`, as an unknown face, so a flow
    written before the uncertain band never takes it for a person; its `candidate` carries
    the person it resembles, with only the sections the user chose to publish.
    """
    if verdict is not None and verdict.kind == "uncertain":
        assert face.person is not None
        return {
            **_face_fields(face),
            "known": False,
            "person": None,
            "uncertain": True,
            "candidate": person_dict(face.person, person_fields),
            "rule": verdict.rule,
        }
    return {
        **_face_fields(face),
        "known": face.is_known,
        "person": None if face.person is None else person_dict(face.person, person_fields),
        "uncertain": False,
        "candidate": None,
        "rule": DEFAULT_RULE if verdict is None else verdict.rule,
    }


def _face_fields(face: DetectedFace) -> dict[str, Any]:
    box = face.box
    return {
        "face_id": face.face_id,
        "detect_id": face.detect_id,
        "confidence": round(face.confidence, 4),
        "quality": round(face.quality, 4),
        "box": {"x": box.x, "y": box.y, "width": box.width, "height": box.height},
    }


@dataclass(frozen=True, slots=True)
class Sighting:
    """Where and when an image was taken and how long the engine took over it."""

    camera: str
    detector_name: str
    detect_time: datetime
    source_topic: str | None = None
    latency_ms: float | None = None
    delayed: bool = False
    frigate: FrigateRef | None = None  # the Frigate object the picture shows (events mode)

    def frigate_block(self) -> dict[str, Any]:
        """Return `{"frigate": {...}}` for a Frigate object's sighting, else nothing."""
        return {} if self.frigate is None else {"frigate": self.frigate.as_dict()}


def recognition_event(
    answer: RecognitionResult | Judgement,
    sighting: Sighting,
    person_fields: frozenset[str] = DEFAULT_PERSON_FIELDS,
) -> dict[str, Any]:
    """Describe one processed snapshot: the payload of `<base>/events`.

    `answer` is a judgement (`econnect_identities.rules`), or a bare result whose every
    match counts as known. Uncertain faces are listed among `faces` and counted apart
    (`uncertain_count`); `persons` and `tags` summarise the known faces only.
    """
    judged = as_judgement(answer)
    result = judged.result
    known = result.known_faces
    outcome = UNCERTAIN_OUTCOME if judged.only_uncertain else result.outcome
    event_type = UNCERTAIN_EVENT_TYPE if judged.only_uncertain else OUTCOME_EVENT_TYPE[outcome]
    return {
        "schema_version": SCHEMA_VERSION,
        "event_id": str(uuid.uuid4()),
        "type": "recognition",
        # `event_type` lets Home Assistant's MQTT `event` entity read this payload directly.
        "event_type": event_type,
        "camera": sighting.camera,
        "detector_name": sighting.detector_name,
        "source_topic": sighting.source_topic,
        "detect_time": utc_iso(sighting.detect_time),
        "processed_time": utc_iso(datetime.now(UTC)),
        "api_latency_ms": None if sighting.latency_ms is None else round(sighting.latency_ms, 1),
        "delayed": sighting.delayed,
        "outcome": outcome,
        "face_count": len(judged.verdicts),
        "known_count": len(known),
        "unknown_count": len(result.faces) - len(known),
        "uncertain_count": len(judged.uncertain),
        "rule": judged.outcome_rule,
        "persons": sorted({f.person.display_name for f in known if f.person}),
        "tags": ordered_tags(name for f in known if f.person for name in f.person.tag_names),
        "faces": [face_dict(v.face, person_fields, v) for v in judged.verdicts],
        **sighting.frigate_block(),
    }


def sighting_event(
    face: DetectedFace,
    sighting: Sighting,
    person_fields: frozenset[str],
    *,
    tag: str | None = None,
    rule: str = DEFAULT_RULE,
) -> dict[str, Any]:
    """Describe a known person seen (`<base>/persons/<p>`) or a tag seen (`<base>/tags/<t>`).

    `rule` names the rule whose threshold made the face known (`econnect_identities.rules`).
    """
    data: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "type": "tag_seen" if tag else "person_seen",
        "camera": sighting.camera,
        "detect_time": utc_iso(sighting.detect_time),
        "confidence": round(face.confidence, 4),
        "quality": round(face.quality, 4),
        "person": None if face.person is None else person_dict(face.person, person_fields),
    }
    if tag is not None:
        data["tag"] = tag
    data["rule"] = rule
    data.update(sighting.frigate_block())
    return data


def visit_event(
    event_type: str,
    sighting: Sighting,
    *,
    event_id: str,
    face: DetectedFace | None = None,
    unknown_count: int = 0,
    rule: str = DEFAULT_RULE,
) -> dict[str, Any]:
    """Describe one visit for Home Assistant's event entity: `<base>/cameras/<camera>/events`.

    Home Assistant keeps every key of this payload as a state attribute in its recorder, for
    as long as the recorder keeps history, so it carries only what an automation tests: who
    (name, slug, id), where, how sure, which tags, when. `event_id` is the id of the full
    recognition event on `<base>/events` (faces, aliases, tag ids) for whoever needs more.
    `persons` (this visit's one name) and `unknown_count` keep automations and blueprints
    written for the recognition event's attributes working.
    `face` is the recognised face of a `known_person` visit, None for the other event types;
    `rule` names the rule whose threshold decided (`econnect_identities.rules`).
    """
    person = None if face is None else face.person
    return {
        "schema_version": SCHEMA_VERSION,
        "type": "visit",
        "event_type": event_type,
        "event_id": event_id,
        "camera": sighting.camera,
        "person": None if person is None else person.display_name,
        "person_slug": None if person is None else slugify(person.display_name),
        "person_id": None if person is None else person.person_id,
        "persons": [] if person is None else [person.display_name],
        "confidence": None if face is None or person is None else round(face.confidence, 4),
        "tags": [] if person is None else ordered_tags(person.tag_names),
        "unknown_count": unknown_count,
        "detect_time": utc_iso(sighting.detect_time),
        "delayed": sighting.delayed,
        "rule": rule,
        **sighting.frigate_block(),
    }


def error_event(
    code: str,
    message: str,
    *,
    camera: str | None = None,
    source_topic: str | None = None,
) -> dict[str, Any]:
    """Describe a snapshot that could not be processed: the payload of `<base>/errors`."""
    return {
        "schema_version": SCHEMA_VERSION,
        "type": "error",
        "code": code,
        "message": message,
        "camera": camera,
        "source_topic": source_topic,
        "time": utc_iso(datetime.now(UTC)),
    }
