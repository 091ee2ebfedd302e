"""The pipeline's stages one by one, with injected clocks (no sleeping, no sockets)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from econnect_bridge.cameras import CameraDirectory
from econnect_bridge.config import load_config
from econnect_bridge.config.model import CameraSettings
from econnect_bridge.dedupe import RedeliveryFilter
from econnect_bridge.messages import Incoming, topic_matches
from econnect_bridge.presence import PresenceBoard
from econnect_bridge.sources import PayloadFormat, Source
from econnect_bridge.statebook import BookSettings, StateBook
from econnect_bridge.states import Topics
from econnect_identities.events import Sighting
from econnect_identities.models import BoundingBox, DetectedFace, Person, RecognitionResult

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _defaults(tmp_path: Path) -> CameraSettings:
    config_file = tmp_path / "config.yaml"
    config_file.write_text(
        "api: {url: 'http://127.0.0.1:1', username: u, password: p}\n"
        "cameras: [{name: cam, topic: 'cams/{camera}'}]\n"
    )
    return load_config(config_file).processing.camera_defaults


def _source(settings: CameraSettings, subscription: str, camera: str = "") -> Source:
    return Source(
        subscription=subscription,
        payload=PayloadFormat("raw"),
        settings=settings,
        time_zone="UTC",
        camera_level=1 if not camera else None,
        fixed_camera=camera,
    )


def test_dup_is_skipped_and_a_copy_within_the_window_too() -> None:
    clock = Clock()
    dedupe = RedeliveryFilter(2.0, clock=clock)
    message = Incoming("cams/a", b"img", qos=1)
    assert not dedupe.is_redelivery(message)
    assert dedupe.is_redelivery(Incoming("cams/a", b"img", qos=1, dup=True))
    clock.now = 1.9
    assert dedupe.is_redelivery(message)  # a publisher's own resend, within the window
    clock.now = 4.0
    assert not dedupe.is_redelivery(message)  # outside the window: a new snapshot
    assert not dedupe.is_redelivery(Incoming("cams/a", b"img", qos=0, dup=True))


def test_dedupe_remembers_a_bounded_number_of_messages() -> None:
    dedupe = RedeliveryFilter(capacity=2, clock=Clock())
    for payload in (b"1", b"2", b"3"):
        dedupe.is_redelivery(Incoming("t", payload, qos=1))
    assert not dedupe.is_redelivery(Incoming("t", b"1", qos=1, dup=True))  # forgotten
    assert dedupe.is_redelivery(Incoming("t", b"3", qos=1, dup=True))


def test_camera_directory_pushes_each_new_camera_once(tmp_path: Path) -> None:
    heard: list[str] = []
    settings = _defaults(tmp_path)
    wild = _source(settings, "cams/+")
    fixed = _source(settings, "door/snapshot", camera="door")
    directory = CameraDirectory((wild, fixed), heard.append)
    directory.learn("a", wild)
    directory.learn("a", wild)
    directory.learn("door", fixed)
    directory.learn("a", fixed, replace=False)
    assert heard == ["a", "door"]
    assert directory.cameras() == ["a", "door"]
    assert directory.source_for("a") is wild
    assert directory.configured_for("door/snapshot") is fixed
    assert directory.configured_for("elsewhere/x") is None


def test_topic_matches_plus_and_hash() -> None:
    assert topic_matches("frigate/+/person/snapshot", "frigate/door/person/snapshot")
    assert topic_matches("cams/#", "cams/a/b")
    assert not topic_matches("cams/+", "cams/a/b")
    assert not topic_matches("cams/a/b", "cams/a")


def test_presence_turns_off_at_its_timeout() -> None:
    board = PresenceBoard(5.0)
    assert board.seen("k", 0.0)
    assert not board.seen("k", 3.0)  # still on: the timer restarts
    assert board.expire(7.9) == []
    assert board.expire(8.0) == ["k"]
    assert not board.is_on("k")


def test_a_held_window_expires_on_time_and_never_shortens_a_longer_one() -> None:
    board = PresenceBoard(5.0)
    board.hold("recovered", 2.5)  # what was left of a window opened before a restart
    board.seen("live", 0.0)
    board.hold("live", 1.0)  # shorter than the live window: ignored
    assert board.expire(2.4) == []
    assert board.expire(2.5) == ["recovered"]
    assert board.expire(5.0) == ["live"]


def _book(wall: list[datetime]) -> StateBook:
    settings = BookSettings(
        topics=Topics("econnect"), person_fields=frozenset({"name"}), presence_timeout=10
    )
    return StateBook(settings, wall_clock=lambda: wall[0])


def _result() -> RecognitionResult:
    person = Person(person_id="p1", friendly_name="Jane Doe")
    face = DetectedFace("f1", "d1", 0.9, 0.9, BoundingBox(0, 0, 80, 80), person)
    return RecognitionResult((face,))


def _sighting() -> Sighting:
    return Sighting(camera="door", detector_name="door", detect_time=T0, source_topic="cams/door")


def _payloads(messages: list[Any], topic: str) -> list[Any]:
    return [json.loads(m.payload) for m in messages if m.topic == topic]


def test_state_book_respects_the_cooldown_it_is_given() -> None:
    book = _book([T0])
    person_topic = Topics("econnect").person_event("Jane Doe")
    first = book.record(_result(), _sighting(), 0.0, cooldown=30.0)
    again = book.record(_result(), _sighting(), 29.0, cooldown=30.0)
    later = book.record(_result(), _sighting(), 30.0, cooldown=30.0)
    assert [len(_payloads(m, person_topic)) for m in (first, again, later)] == [1, 0, 1]


def test_state_book_expires_presence_on_the_injected_clocks() -> None:
    wall = [T0]
    book = _book(wall)
    book.record(_result(), _sighting(), 0.0, cooldown=0.0)
    assert book.expire(9.9) == []
    wall[0] = T0 + timedelta(seconds=10)
    messages = book.expire(10.0)
    (camera,) = _payloads(messages, Topics("econnect").camera_state("door"))
    assert camera["known_person"] == "OFF"
    assert camera["time"].startswith("2026-01-01T12:00:10")
