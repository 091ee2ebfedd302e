"""Who is here: the state book's *People here* and *Unknown faces here* lists and their expiry.

Injected monotonic and wall clocks step time; no broker. Each test reads the retained
`<base>/cameras/<camera>/here` and `<base>/bridge/here` payloads a dashboard would show.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from econnect_bridge.recovery import recover
from econnect_bridge.statebook import BookSettings, Message, StateBook
from econnect_bridge.states import Topics
from econnect_identities.events import Sighting
from econnect_identities.models import (
    BoundingBox,
    DetectedFace,
    Person,
    PersonTag,
    RecognitionResult,
)
from econnect_identities.rules import FaceRule, RuleSet
from econnect_identities.schemas import validate_payload

TIMEOUT = 60.0
SEEN = datetime(2026, 1, 1, 8, 41, 53, tzinfo=UTC)
JANE = Person("p-jane", friendly_name="Jane Doe", tags=(PersonTag("t-1", name="Family"),))
BOB = Person("p-bob", friendly_name="Bob Stone")
DOOR, GARDEN = "Front door", "Garden"


class _Wall:
    """A wall clock the test moves with the monotonic one."""

    def __init__(self) -> None:
        self.now = SEEN

    def __call__(self) -> datetime:
        return self.now


def _book(wall: _Wall | None = None) -> StateBook:
    settings = BookSettings(
        topics=Topics("econnect"),
        person_fields=frozenset({"name"}),
        presence_timeout=TIMEOUT,
        persons=("Jane Doe", "Bob Stone"),
    )
    return StateBook(settings, wall_clock=wall or _Wall())


def _face(person: Person | None, confidence: float = 0.93) -> DetectedFace:
    return DetectedFace("f", "d", confidence, 0.8, BoundingBox(0, 0, 80, 80), person)


def _see(
    book: StateBook, camera: str, *faces: DetectedFace, at: float, when: datetime = SEEN
) -> list[Message]:
    sighting = Sighting(camera=camera, detector_name=camera, detect_time=when)
    return book.record(RecognitionResult(faces), sighting, at, cooldown=30)


def _here(messages: Iterable[Message], camera: str | None = None) -> dict[str, Any]:
    """The last *here* payload for `camera` (None: the whole bridge), schema-checked."""
    topics = Topics("econnect")
    topic = topics.here() if camera is None else topics.camera_here(camera)
    found = [m for m in messages if m.topic == topic]
    assert found, f"no {topic}"
    assert found[-1].retain
    payload: dict[str, Any] = json.loads(found[-1].payload)
    validate_payload("here_state", payload)
    return payload


def _topics(messages: Iterable[Message]) -> set[str]:
    return {m.topic for m in messages}


def test_two_people_at_once_are_both_here_then_nobody_after_the_window() -> None:
    book = _book()
    book.initial((DOOR, GARDEN), SEEN)
    seen = _see(book, DOOR, _face(JANE), _face(BOB), at=10.0)
    door = _here(seen, DOOR)
    assert (door["people_count"], door["camera"]) == (2, "front_door")
    assert sorted(door["names"]) == ["Bob Stone", "Jane Doe"]
    jane = next(p for p in door["people"] if p["name"] == "Jane Doe")
    assert jane == {
        "name": "Jane Doe",
        "person_id": "p-jane",
        "tags": ["Family"],
        "last_camera": "front_door",
        "last_camera_name": "Front door",
        "last_seen": "2026-01-01T08:41:53.000Z",
    }
    assert _here(seen, None)["people_count"] == 2
    assert _here(seen, None)["camera"] is None
    assert "econnect/cameras/garden/here" not in _topics(seen)  # unchanged: nobody there

    assert book.expire(10.0 + TIMEOUT - 0.1) == []
    gone = book.expire(10.0 + TIMEOUT)
    assert _here(gone, DOOR)["people_count"] == 0
    assert _here(gone, DOOR)["names"] == []
    assert _here(gone, None)["people_count"] == 0


def test_a_person_is_here_at_their_last_camera_only() -> None:
    book = _book()
    book.initial((DOOR, GARDEN), SEEN)
    _see(book, DOOR, _face(JANE), _face(BOB), at=10.0)
    moved = _see(book, GARDEN, _face(JANE), at=20.0, when=SEEN + timedelta(seconds=10))
    assert _here(moved, DOOR)["names"] == ["Bob Stone"]
    assert _here(moved, GARDEN)["names"] == ["Jane Doe"]
    assert _here(moved, None)["names"] == ["Jane Doe", "Bob Stone"]  # most recent first
    bob_leaves = book.expire(10.0 + TIMEOUT)
    assert _here(bob_leaves, DOOR)["people_count"] == 0
    assert _here(bob_leaves, None)["names"] == ["Jane Doe"]
    assert _here(book.expire(20.0 + TIMEOUT), GARDEN)["people_count"] == 0


def test_unknown_faces_are_counted_per_camera_and_overall_until_the_window_passes() -> None:
    book = _book()
    book.initial((DOOR, GARDEN), SEEN)
    door = _see(book, DOOR, _face(None), _face(None), at=10.0)
    assert (_here(door, DOOR)["unknown_count"], _here(door, DOOR)["people_count"]) == (2, 0)
    garden = _see(book, GARDEN, _face(None), at=30.0)
    assert _here(garden, GARDEN)["unknown_count"] == 1
    assert _here(garden, None)["unknown_count"] == 3
    first = book.expire(10.0 + TIMEOUT)
    assert _here(first, DOOR)["unknown_count"] == 0
    assert _here(first, None)["unknown_count"] == 1
    assert _here(book.expire(30.0 + TIMEOUT), None)["unknown_count"] == 0


def test_uncertain_and_excluded_faces_are_not_people_here() -> None:
    rules = RuleSet(
        min_confidence=0.5,
        uncertain_min_confidence=0.5,
        rules=(
            FaceRule(person="Jane Doe", min_confidence=0.95),
            FaceRule(person="Bob Stone", exclude=True),
        ),
    )
    book = _book()
    book.initial((DOOR,), SEEN)
    sighting = Sighting(camera=DOOR, detector_name=DOOR, detect_time=SEEN)
    uncertain = rules.judge(RecognitionResult((_face(JANE, 0.6),)), DOOR)
    excluded = rules.judge(RecognitionResult((_face(BOB),)), DOOR)
    assert uncertain.only_uncertain
    assert excluded.nothing_left
    for judged in (uncertain, excluded):
        out = book.record(judged, sighting, 10.0, cooldown=30)
        assert not [m for m in out if m.topic.endswith("/here")]


def test_a_restart_lists_the_same_people_until_their_windows_pass() -> None:
    first = _book()
    broker = {m.topic: m.payload for m in first.initial((DOOR, GARDEN), SEEN) if m.retain}
    seen = _see(first, DOOR, _face(JANE), _face(BOB), _face(None), at=5.0)
    broker |= {m.topic: m.payload for m in seen if m.retain}

    wall = _Wall()
    wall.now = SEEN + timedelta(seconds=20)
    book = _book(wall)
    restored = book.restore(recover(broker.items(), Topics("econnect")), wall.now, 1000.0)
    assert sorted(_here(restored, DOOR)["names"]) == ["Bob Stone", "Jane Doe"]
    assert _here(restored, DOOR)["unknown_count"] == 1
    assert _here(restored, None)["people_count"] == 2
    assert not [m for m in book.initial((DOOR, GARDEN), wall.now) if m.topic.endswith("/here")]
    assert book.expire(1000.0 + TIMEOUT - 20 - 0.1) == []
    gone = book.expire(1000.0 + TIMEOUT - 20)
    assert (_here(gone, DOOR)["people_count"], _here(gone, DOOR)["unknown_count"]) == (0, 0)
    assert _here(gone, None)["people_count"] == 0


def _jane_seen_by_a_previous_run() -> tuple[dict[str, bytes], datetime]:
    """What a previous run retained after Jane at the door, and a moment past her window."""
    first = _book()
    first.initial((DOOR,), SEEN)
    broker = {m.topic: m.payload for m in _see(first, DOOR, _face(JANE), at=5.0) if m.retain}
    return broker, SEEN + timedelta(seconds=TIMEOUT + 1)


def test_a_restart_after_the_window_lists_nobody() -> None:
    broker, later = _jane_seen_by_a_previous_run()
    book = _book()
    restored = book.restore(recover(broker.items(), Topics("econnect")), later, 1000.0)
    assert _here(restored, DOOR)["people_count"] == 0
    assert _here(restored, None)["names"] == []


def test_a_restore_after_this_run_said_nobody_still_clears_the_previous_lists() -> None:
    broker, later = _jane_seen_by_a_previous_run()
    wall = _Wall()
    wall.now = later
    book = _book(wall)
    book.initial((DOOR,), later)  # "nobody" sent before the previous states came in
    restored = book.restore(recover(broker.items(), Topics("econnect")), later, 1000.0)
    # The broker still holds "Jane Doe here" from the previous run: it must be overwritten.
    assert _here(restored, DOOR)["people_count"] == 0
    assert _here(restored, None)["names"] == []
