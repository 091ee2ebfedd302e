"""The JSON Schema matches what the builders publish, and docs/mqtt.md matches both."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from econnect_bridge.discovery import DiscoveryContext, discovery_messages
from econnect_bridge.states import (
    CameraState,
    HealthState,
    SubjectState,
    Topics,
    bridge_state_payload,
    camera_state_payload,
    person_state_payload,
    tag_state_payload,
)
from econnect_identities.events import (
    PERSON_FIELDS,
    Sighting,
    error_event,
    recognition_event,
    sighting_event,
)
from econnect_identities.models import (
    Alias,
    BoundingBox,
    DetectedFace,
    EntityField,
    Person,
    PersonTag,
    RecognitionResult,
)
from econnect_identities.schemas import PAYLOAD_KINDS, load_schema, validate_payload

DOC = Path(__file__).resolve().parents[2] / "docs" / "mqtt.md"
T0 = datetime(2025, 5, 1, 12, 0, 0, tzinfo=UTC)
ALL_FIELDS = frozenset(PERSON_FIELDS)
JANE = Person(
    "p-1",
    friendly_name="Jane Doe",
    aliases=(Alias("Jane", "Doe", title="Dr"),),
    addresses=({"city": "Lyon", "zip": "69001"},),
    tags=(PersonTag("t-1", name="VIP", expires="2030-01-01T00:00:00Z"), PersonTag("t-2")),
    fields=(
        EntityField("badge", "A-12"),
        EntityField("level", 3.0),
        EntityField("active", True),
        EntityField("birthday", date(1990, 1, 2)),
        EntityField("hired", T0),
        EntityField("empty", None),
    ),
)
KNOWN = DetectedFace("f-1", "d-1", 0.93, 0.8, BoundingBox(1, 2, 30, 40), person=JANE)
UNKNOWN = DetectedFace("f-2", "d-2", 0.12, 0.4, BoundingBox(5, 6, 7, 8))
SIGHTING = Sighting("front_door", "front_door", T0, "frigate/front_door/person/snapshot", 81.25)


def _recognitions() -> list[dict[str, Any]]:
    results = [
        RecognitionResult((KNOWN, UNKNOWN)),
        RecognitionResult((UNKNOWN,)),
        RecognitionResult(()),
    ]
    return [
        recognition_event(result, SIGHTING, fields)
        for result in results
        for fields in (frozenset(), frozenset({"name"}), ALL_FIELDS)
    ] + [recognition_event(RecognitionResult(()), Sighting("garden", "g", T0))]


def _states() -> list[tuple[str, dict[str, Any]]]:
    camera = CameraState(
        "Front Door",
        T0,
        "known",
        2,
        "Jane Doe",
        "p-1",
        ("VIP",),
        0.9,
        0.8,
        T0,
        True,
        True,
        {"VIP": True, "Staff": False},
    )
    return [
        ("camera_state", camera_state_payload(camera)),
        ("camera_state", camera_state_payload(CameraState("garage", T0))),
        ("person_state", person_state_payload(SubjectState("person", "Jane", True, "p-1", "c"))),
        ("person_state", person_state_payload(SubjectState("person", "Jane"))),
        ("tag_state", tag_state_payload(SubjectState("tag", "VIP", True, None, "c", "Jane", T0))),
        ("tag_state", tag_state_payload(SubjectState("tag", "VIP"))),
        ("bridge_state", bridge_state_payload(HealthState("0.1.0", T0))),
        ("bridge_state", bridge_state_payload(HealthState("0.1.0", T0, True, 3.2, 1, 2, 3, "x"))),
    ]


def test_the_schema_is_a_valid_2020_12_schema() -> None:
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert set(PAYLOAD_KINDS) <= set(schema["$defs"])


def test_load_schema_returns_a_copy() -> None:
    load_schema()["$defs"].clear()
    assert load_schema()["$defs"]


@pytest.mark.parametrize("event", _recognitions())
def test_recognition_events_validate(event: dict[str, Any]) -> None:
    validate_payload("recognition", event)
    validate_payload("any", event)


@pytest.mark.parametrize("fields", [frozenset(), frozenset({"name"}), ALL_FIELDS])
def test_sightings_validate(fields: frozenset[str]) -> None:
    validate_payload("sighting", sighting_event(KNOWN, SIGHTING, fields))
    validate_payload("sighting", sighting_event(KNOWN, SIGHTING, fields, tag="VIP"))
    validate_payload("any", sighting_event(KNOWN, SIGHTING, fields, tag="VIP"))


def test_errors_validate() -> None:
    validate_payload("error", error_event("bad_image", "not an image"))
    validate_payload("error", error_event("timeout", "slow", camera="c", source_topic="a/b"))


@pytest.mark.parametrize(("kind", "payload"), _states())
def test_states_validate(kind: str, payload: dict[str, Any]) -> None:
    validate_payload(kind, payload)
    validate_payload("any", payload)
    if kind in {"person_state", "tag_state"}:
        validate_payload("subject_state", payload)


def test_each_payload_matches_exactly_one_kind() -> None:
    """The top-level oneOf must tell payloads apart (a consumer can dispatch on it)."""
    for payload in [*_recognitions(), *(p for _, p in _states())]:
        validate_payload("any", payload)  # oneOf: exactly one branch


@pytest.mark.parametrize(
    ("kind", "payload", "change"),
    [
        ("recognition", _recognitions()[0], {"surprise": 1}),
        ("recognition", _recognitions()[0], {"schema_version": 2}),
        ("recognition", _recognitions()[0], {"event_type": "ring"}),
        ("recognition", _recognitions()[0], {"detect_time": "2025-05-01 12:00:00"}),
        ("camera_state", _states()[0][1], {"known_person": "on"}),
        ("camera_state", _states()[0][1], {"tag_presence": {"a/b": "ON"}}),
        ("camera_state", _states()[0][1], {"face_count": -1}),
        ("person_state", _states()[2][1], {"presence": True}),
        ("bridge_state", _states()[6][1], {"processed": 1.5}),
        ("sighting", sighting_event(KNOWN, SIGHTING, ALL_FIELDS), {"tag": "VIP"}),
    ],
)
def test_mismatches_are_refused(kind: str, payload: dict[str, Any], change: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        validate_payload(kind, {**payload, **change})


def test_missing_keys_are_refused() -> None:
    payload = _states()[0][1]
    del payload["last_seen"]
    with pytest.raises(jsonschema.ValidationError):
        validate_payload("camera_state", payload)


def test_unknown_kind_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown payload kind"):
        validate_payload("utc_time", {})


def test_topic_kinds_name_schema_definitions() -> None:
    topics = Topics()
    for topic in (topics.events(), topics.person_event("x"), topics.camera_state("x")):
        kind = topics.kind_of(topic)
        assert kind in PAYLOAD_KINDS


# --- docs/mqtt.md -------------------------------------------------------------------------------

_BLOCK = re.compile(r"<!-- (payload|discovery): (\S+) -->\n```json\n(.*?)\n```", re.DOTALL)


def _doc_blocks() -> list[tuple[str, str, Any]]:
    text = DOC.read_text(encoding="utf-8")
    blocks = [(m[1], m[2], json.loads(m[3])) for m in _BLOCK.finditer(text)]
    assert len(blocks) == text.count("```json"), "every ```json block needs a marker comment"
    return blocks


def test_every_documented_payload_validates() -> None:
    payloads = [(name, data) for what, name, data in _doc_blocks() if what == "payload"]
    for kind, data in payloads:
        validate_payload(kind, data)
    documented = {kind for kind, _ in payloads}
    assert documented >= set(PAYLOAD_KINDS) - {"subject_state"}


def test_documented_discovery_config_is_what_the_bridge_sends() -> None:
    ctx = DiscoveryContext(
        cameras=("front_door",), tags=("VIP",), persons=("Jane Doe",), annotated=True
    )
    sent = {m.topic: json.loads(m.encode()) for m in discovery_messages(ctx)}
    blocks = [(name, data) for what, name, data in _doc_blocks() if what == "discovery"]
    assert blocks
    for topic, data in blocks:
        assert sent[topic] == data


def test_documented_entity_ids_exist() -> None:
    ctx = DiscoveryContext(
        cameras=("front_door",),
        tags=("VIP",),
        persons=("Jane Doe",),
        annotated=True,
        face_pictures=True,
    )
    sent = {json.loads(m.encode())["default_entity_id"] for m in discovery_messages(ctx)}
    text = DOC.read_text(encoding="utf-8")
    table = set(re.findall(r"\| `((?:sensor|binary_sensor|event|image)\.[a-z0-9_]+)` \|", text))
    assert table == sent
