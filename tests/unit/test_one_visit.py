"""One visit, one event: Home Assistant's event entity fires once per person per cooldown.

Frigate sends a snapshot for a new object and another for a better picture a second later;
the per-camera events topic (read by the event entity) and the person and tag sightings follow
the camera's cooldown, while `<base>/events` keeps one message per processed snapshot.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from econnect_bridge.statebook import BookSettings, Message, StateBook
from econnect_bridge.states import Topics
from econnect_identities.events import Sighting, ordered_tags
from econnect_identities.models import (
    BoundingBox,
    DetectedFace,
    Person,
    PersonTag,
    RecognitionResult,
)
from econnect_identities.schemas import validate_payload

TOPICS = Topics("econnect")
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
COOLDOWN = 30.0
TAGS = (
    PersonTag("t-3", name="Staff"),
    PersonTag("t-1", name="VIP"),
    PersonTag("t-2", name="Admin"),
)
JANE = Person("p-jane", friendly_name="Jane Doe", tags=(*TAGS, PersonTag("t-9", name="VIP")))
BOB = Person("p-bob", friendly_name="Bob Stone")
ALL_FIELDS = frozenset({"name", "aliases", "tags"})
VISITS = TOPICS.camera_events("front_door")
EVERY = TOPICS.events()


def _book() -> StateBook:
    settings = BookSettings(topics=TOPICS, person_fields=ALL_FIELDS, presence_timeout=60)
    return StateBook(settings, wall_clock=lambda: T0)


def _face(person: Person | None, confidence: float = 0.9) -> DetectedFace:
    return DetectedFace("f", "d", confidence, 0.8, BoundingBox(0, 0, 80, 80), person)


def _snapshot(book: StateBook, now: float, *faces: DetectedFace) -> list[Message]:
    seen = T0 + timedelta(seconds=now)
    sighting = Sighting("front_door", "front_door", seen, "frigate/front_door/person/snapshot")
    return book.record(RecognitionResult(faces), sighting, now, cooldown=COOLDOWN)


def _on(messages: list[Message], topic: str) -> list[dict[str, Any]]:
    return [json.loads(m.payload) for m in messages if m.topic == topic]


def test_a_better_picture_a_second_later_is_the_same_visit() -> None:
    book = _book()
    first = _snapshot(book, 0.0, _face(JANE, 0.81))
    better = _snapshot(book, 1.0, _face(JANE, 0.95))
    assert len(_on(first, VISITS)) == 1
    assert _on(better, VISITS) == []
    assert len(_on(first + better, EVERY)) == 2  # the full stream keeps every snapshot
    assert len(_on(first + better, TOPICS.person_event("Jane Doe"))) == 1
    assert len(_on(first + better, TOPICS.tag_event("VIP"))) == 1  # VIP twice: one event
    # The states still follow every snapshot (the better picture's confidence).
    assert _on(better, TOPICS.camera_state("front_door"))[0]["confidence"] == 0.95


def test_after_the_cooldown_a_second_visit() -> None:
    book = _book()
    _snapshot(book, 0.0, _face(JANE))
    assert _on(_snapshot(book, COOLDOWN - 0.1, _face(JANE)), VISITS) == []
    [again] = _on(_snapshot(book, COOLDOWN, _face(JANE)), VISITS)
    assert again["event_type"] == "known_person"


def test_each_person_is_a_visit_of_its_own() -> None:
    book = _book()
    _snapshot(book, 0.0, _face(JANE))
    messages = _snapshot(book, 1.0, _face(JANE), _face(BOB))
    [bob] = _on(messages, VISITS)
    assert bob["person"] == "Bob Stone"
    [full] = _on(messages, EVERY)
    assert bob["event_id"] == full["event_id"]  # correlates with the full event


def test_unknown_faces_and_faceless_snapshots_once_per_camera_per_cooldown() -> None:
    book = _book()
    stranger = [_snapshot(book, t, _face(None)) for t in (0.0, 1.0, 2.0)]
    assert [len(_on(m, VISITS)) for m in stranger] == [1, 0, 0]
    assert [len(_on(m, EVERY)) for m in stranger] == [1, 1, 1]
    [hidden] = _on(_snapshot(book, 3.0), VISITS)  # no face: another event type
    assert hidden["event_type"] == "no_face"
    assert _on(_snapshot(book, 4.0), VISITS) == []
    [unknown] = _on(_snapshot(book, COOLDOWN, _face(None)), VISITS)
    assert unknown["event_type"] == "unknown_face"
    assert (unknown["person"], unknown["confidence"], unknown["tags"]) == (None, None, [])
    assert (unknown["persons"], unknown["unknown_count"]) == ([], 1)
    # A known person is news even while the unknown-face window is open.
    assert len(_on(_snapshot(book, COOLDOWN + 1, _face(JANE)), VISITS)) == 1


def test_the_visit_payload_carries_only_what_an_automation_needs() -> None:
    messages = _snapshot(_book(), 0.0, _face(JANE, 0.912345), _face(None))
    [visit] = _on(messages, VISITS)
    [full] = _on(messages, EVERY)
    assert visit == {
        "schema_version": 1,
        "type": "visit",
        "event_type": "known_person",
        "event_id": full["event_id"],
        "camera": "front_door",
        "person": "Jane Doe",
        "person_slug": "jane_doe",
        "person_id": "p-jane",
        "persons": ["Jane Doe"],
        "confidence": 0.9123,
        "tags": ["Staff", "VIP", "Admin"],
        "unknown_count": 1,
        "detect_time": "2026-01-01T12:00:00.000Z",
        "delayed": False,
        "rule": "default",
    }
    validate_payload("visit", visit)
    validate_payload("any", visit)
    assert TOPICS.kind_of(VISITS) == "visit"
    validate_payload("recognition", full)  # faces, aliases and tag ids stay there


def test_other_visits_validate() -> None:
    book = _book()
    for now, faces in ((0.0, (_face(None),)), (1.0, ())):
        for visit in _on(_snapshot(book, now, *faces), VISITS):
            validate_payload("visit", visit)


def test_tag_order_is_the_same_in_every_payload() -> None:
    messages = _snapshot(_book(), 0.0, _face(JANE))
    expected = ["Staff", "VIP", "Admin"]  # the engine's order, VIP's second copy dropped
    assert ordered_tags(JANE.tag_names) == expected
    [full] = _on(messages, EVERY)
    [visit] = _on(messages, VISITS)
    [camera] = _on(messages, TOPICS.camera_state("front_door"))
    [seen] = _on(messages, TOPICS.person_event("Jane Doe"))
    assert full["tags"] == visit["tags"] == camera["tags"] == expected
    for person in (full["faces"][0]["person"], seen["person"]):
        names = [tag["name"] for tag in person["tags"]]
        assert names == ["Staff", "VIP", "Admin", "VIP"]  # every tag object, in the same order


def test_cameras_whose_names_slug_alike_keep_their_own_visits_and_states() -> None:
    topics = Topics("econnect")  # a registry of its own: the names below collide
    settings = BookSettings(topics=topics, person_fields=ALL_FIELDS, presence_timeout=60)
    book = StateBook(settings, wall_clock=lambda: T0)
    out: list[Message] = []
    for camera, person in (("Front Door", JANE), ("front-door", BOB)):
        sighting = Sighting(camera, camera, T0, f"cams/{camera}")
        out += book.record(RecognitionResult((_face(person),)), sighting, 0.0, cooldown=COOLDOWN)
    plain, other = topics.camera_slug("Front Door"), topics.camera_slug("front-door")
    assert plain == "front_door"
    assert other != plain
    cameras = [_payload(m) for m in out if m.topic.startswith("econnect/cameras/")]
    states = {state["camera"]: state for state in cameras if "last_person" in state}
    assert states[plain]["last_person"] == "Jane Doe"
    assert states[other]["last_person"] == "Bob Stone"
    assert _on(out, f"econnect/cameras/{plain}/state")[-1]["camera"] == plain
    assert len(_on(out, f"econnect/cameras/{other}/events")) == 1
    assert _on(out, topics.person_state("Bob Stone"))[-1]["last_camera"] == other
    assert _on(out, topics.person_state("Jane Doe"))[-1]["last_camera"] == plain


def _payload(message: Message) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(message.payload)
    return decoded
