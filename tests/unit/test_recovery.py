"""A restart reads the bridge's retained states back: nothing blanked, nothing left ON forever.

Every test plays a first run on a state book, keeps what a broker would retain (the last
retained payload per topic), then starts a second book from it, with injected monotonic and
wall clocks: no sleeping, no broker.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from econnect_bridge.delivery import Delivery
from econnect_bridge.messages import topic_matches
from econnect_bridge.recovery import MAX_STATE_BYTES, recover, recovery_filters
from econnect_bridge.reporting import Reporter
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
from econnect_identities.schemas import validate_payload

TOPICS = Topics("econnect")
TIMEOUT = 60.0
SEEN = datetime(2026, 1, 1, 8, 41, 53, tzinfo=UTC)  # Carol at the front door
CAROL = Person("p-carol", friendly_name="Carol White", tags=(PersonTag("t-1", name="VIP"),))
STATE_KINDS = {"camera_state", "person_state", "tag_state", "here_state"}

Broker = dict[str, bytes]


def _book(wall: datetime = SEEN, topics: Topics | None = None) -> StateBook:
    settings = BookSettings(
        topics=topics or Topics("econnect"),  # each process has its own camera registry
        person_fields=frozenset({"name"}),
        presence_timeout=TIMEOUT,
        persons=("Carol White", "Bob Stone"),
        tags=("VIP",),
    )
    return StateBook(settings, wall_clock=lambda: wall)


def _face(person: Person | None = CAROL) -> DetectedFace:
    return DetectedFace("f", "d", 0.93, 0.8, BoundingBox(0, 0, 80, 80), person)


def _retain(broker: Broker, messages: Iterable[Message]) -> Broker:
    """What the broker keeps: the last retained payload of each topic."""
    for message in messages:
        if message.retain:
            broker[message.topic] = message.payload
    return broker


def _first_run(*faces: DetectedFace, camera: str = "front_door") -> Broker:
    """Start a bridge, see `faces` at `SEEN`, stop it: return the retained states."""
    book = _book()
    broker = _retain({}, book.initial(("front_door", "garage"), SEEN))
    sighting = Sighting(camera=camera, detector_name=camera, detect_time=SEEN)
    return _retain(broker, book.record(RecognitionResult(faces), sighting, 5.0, cooldown=30))


def _payload(messages: Iterable[Message], topic: str) -> dict[str, Any]:
    [found] = [m for m in messages if m.topic == topic]
    data: dict[str, Any] = json.loads(found.payload)
    return data


def _restart(broker: Broker, after: float, now: float = 1000.0) -> tuple[StateBook, list[Message]]:
    """A new process `after` seconds past the sighting, whose monotonic clock reads `now`."""
    book = _book(SEEN + timedelta(seconds=after))
    messages = book.restore(recover(broker.items(), TOPICS), SEEN + timedelta(seconds=after), now)
    return book, messages


CAMERA = TOPICS.camera_state("front_door")
PERSON = TOPICS.person_state("Carol White")
TAG = TOPICS.tag_state("VIP")


def test_the_filters_cover_exactly_the_state_topics_the_book_publishes() -> None:
    filters = recovery_filters(TOPICS)
    assert filters == (
        "econnect/cameras/+/state",
        "econnect/persons/+/state",
        "econnect/tags/+/state",
    )
    for topic in _first_run(_face()):
        # The "here" states are rebuilt from the others, not read back.
        recovered = TOPICS.kind_of(topic) != "here_state"
        assert any(topic_matches(f, topic) for f in filters) == recovered, topic
    for topic in (TOPICS.events(), TOPICS.camera_events("a"), TOPICS.bridge_state()):
        assert not any(topic_matches(f, topic) for f in filters), topic


def test_restart_inside_the_window_keeps_on_and_turns_off_on_time() -> None:
    broker = _first_run(_face())
    book, messages = _restart(broker, after=3.0)  # restarted at 08:41:56
    assert _payload(messages, PERSON)["presence"] == "ON"
    assert _payload(messages, TAG)["presence"] == "ON"
    camera = _payload(messages, CAMERA)
    assert camera["known_person"] == "ON"
    assert camera["tag_presence"]["vip"] == "ON"
    assert book.expire(1000.0 + 56.9) == []  # 60 s after the sighting is 57 s after the restart
    off = book.expire(1000.0 + 57.0)
    person = _payload(off, PERSON)
    assert person["presence"] == "OFF"
    assert person["last_camera"] == "front_door"
    assert person["last_seen"] == "2026-01-01T08:41:53.000Z"
    assert _payload(off, TAG)["presence"] == "OFF"
    camera = _payload(off, CAMERA)
    assert camera["known_person"] == "OFF"
    assert camera["tag_presence"]["vip"] == "OFF"
    assert camera["last_person"] == "Carol White"


def test_restart_past_the_window_turns_off_at_once_and_keeps_last_seen() -> None:
    broker = _first_run(_face())
    book, messages = _restart(broker, after=78.0)  # 75 s after a restart at 08:41:56
    person = _payload(messages, PERSON)
    assert person["presence"] == "OFF"
    assert person["last_seen"] == "2026-01-01T08:41:53.000Z"
    assert person["last_camera"] == "front_door"
    assert person["person_id"] == "p-carol"
    tag = _payload(messages, TAG)
    assert (tag["presence"], tag["last_person"], tag["last_camera"]) == (
        "OFF",
        "Carol White",
        "front_door",
    )
    camera = _payload(messages, CAMERA)
    assert camera["known_person"] == camera["tag_presence"]["vip"] == "OFF"
    assert camera["time"] == "2026-01-01T08:43:11.000Z"  # a state of now: presence changed
    assert book.expire(10_000.0) == []  # nothing left ON to expire


def test_exactly_at_the_timeout_is_off() -> None:
    _, messages = _restart(_first_run(_face()), after=TIMEOUT)
    assert _payload(messages, PERSON)["presence"] == "OFF"


def test_camera_keeps_its_last_person_and_initial_does_not_blank_it() -> None:
    broker = _first_run(_face())
    book, restored = _restart(broker, after=200.0)
    camera = _payload(restored, CAMERA)
    assert camera["last_person"] == "Carol White"
    assert camera["face_count"] == 1
    assert camera["outcome"] == "known"
    assert camera["tags"] == ["VIP"]
    assert camera["confidence"] == 0.93
    initial = book.initial(("front_door", "garage"), SEEN + timedelta(seconds=200))
    topics = {m.topic for m in initial}
    assert CAMERA not in topics  # published by restore, not blanked
    assert PERSON not in topics
    assert TAG not in topics
    assert topics == set()  # the first run retained every one of them, Bob's blank state too


def test_not_recovered_ones_are_announced_blank() -> None:
    broker = _first_run(_face())
    del broker[TOPICS.camera_state("garage")], broker[TOPICS.person_state("Bob Stone")]
    book, _ = _restart(broker, after=10.0)
    initial = book.initial(("front_door", "garage", "Back Yard"), SEEN)
    out = {m.topic: json.loads(m.payload) for m in initial}
    assert set(out) == {
        TOPICS.camera_state("garage"),
        TOPICS.camera_state("Back Yard"),
        TOPICS.person_state("Bob Stone"),
        TOPICS.camera_here("garage"),
        TOPICS.camera_here("Back Yard"),
    }
    assert out[TOPICS.camera_state("garage")]["last_person"] is None
    assert out[TOPICS.person_state("Bob Stone")]["presence"] == "OFF"


def test_nothing_recovered_gives_the_blank_initial_states_of_a_first_start() -> None:
    fresh = _book().initial(("front_door", "garage"), SEEN)
    book = _book()
    assert book.restore(recover([], TOPICS), SEEN, 0.0) == []
    assert book.initial(("front_door", "garage"), SEEN) == fresh


def test_restore_publishes_retained_states_only_never_an_event() -> None:
    broker = _first_run(_face(), _face(None))
    _, messages = _restart(broker, after=3.0)
    assert messages
    for message in messages:
        kind = TOPICS.kind_of(message.topic)
        assert kind in STATE_KINDS, message.topic
        assert message.retain
        validate_payload(kind, json.loads(message.payload))


def test_unknown_face_window_is_placed_by_its_own_time() -> None:
    broker = _first_run(_face(None))
    book, messages = _restart(broker, after=30.0)
    assert _payload(messages, CAMERA)["unknown_face"] == "ON"
    assert book.expire(1029.9) == []
    assert _payload(book.expire(1030.0), CAMERA)["unknown_face"] == "OFF"


def test_a_state_without_the_time_of_its_presence_turns_off_at_once() -> None:
    """A payload of an older bridge has no `unknown_last_seen`: its window cannot be placed."""
    broker = _first_run(_face(None))
    data = json.loads(broker[CAMERA])
    del data["unknown_last_seen"], data["tag_last_seen"]
    broker[CAMERA] = json.dumps(data).encode()
    _, messages = _restart(broker, after=1.0)
    assert _payload(messages, CAMERA)["unknown_face"] == "OFF"


def test_a_future_time_never_holds_presence_longer_than_one_timeout() -> None:
    broker = _first_run(_face())
    book, _ = _restart(broker, after=-3600.0)  # the old run's clock was an hour ahead
    assert book.expire(1000.0 + TIMEOUT - 0.1) == []
    assert _payload(book.expire(1000.0 + TIMEOUT), PERSON)["presence"] == "OFF"


def test_a_result_during_the_settle_time_wins_over_the_recovered_state() -> None:
    broker = _first_run(_face())
    book = _book(SEEN + timedelta(seconds=20))
    later = SEEN + timedelta(seconds=19)
    nobody = Sighting(camera="front_door", detector_name="front_door", detect_time=later)
    bob = Person("p-bob", friendly_name="Bob Stone")
    book.record(RecognitionResult((_face(bob),)), nobody, 999.0, cooldown=30)
    garage = Sighting(camera="garage", detector_name="garage", detect_time=later)
    book.record(RecognitionResult(()), garage, 999.0, cooldown=30)
    broker[TOPICS.camera_state("garage")] = _camera_with_person("garage")
    messages = book.restore(recover(broker.items(), TOPICS), SEEN + timedelta(seconds=20), 1000.0)
    camera = _payload(messages, CAMERA)
    assert camera["last_person"] == "Bob Stone"  # the live result, not the recovered Carol
    assert camera["tag_presence"]["vip"] == "ON"  # Carol's window is still open there
    assert _payload(messages, PERSON)["presence"] == "ON"  # Carol recovered
    assert TOPICS.person_state("Bob Stone") not in {m.topic for m in messages}  # live
    garage_state = _payload(messages, TOPICS.camera_state("garage"))
    assert garage_state["outcome"] == "no_face"  # the live result ...
    assert garage_state["last_person"] == "Carol White"  # ... does not blank the last person


def _camera_with_person(camera: str) -> bytes:
    data = json.loads(_first_run(_face(), camera=camera)[TOPICS.camera_state(camera)])
    return json.dumps(data).encode()


def test_a_camera_configured_under_another_spelling_keeps_its_name() -> None:
    broker = _first_run(_face())
    book, _ = _restart(broker, after=3.0)
    book.initial(("Front Door",), SEEN)
    sighting = Sighting(camera="Front Door", detector_name="x", detect_time=SEEN)
    messages = book.record(RecognitionResult(()), sighting, 1001.0, cooldown=30)
    camera = _payload(messages, CAMERA)
    assert camera["known_person"] == "ON"  # the recovered window, same camera by slug
    assert camera["last_person"] == "Carol White"


def _good() -> tuple[str, dict[str, Any]]:
    return PERSON, json.loads(_first_run(_face())[PERSON])


def _with(**changes: Any) -> bytes:
    return json.dumps({**_good()[1], **changes}).encode()


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        (PERSON, b""),
        (PERSON, b"not json"),
        (PERSON, b"\xff\xfe"),
        (PERSON, b"[1, 2]"),
        (PERSON, b"[" * 100_000),
        (PERSON, b" " * (MAX_STATE_BYTES + 1)),
        (PERSON, _with(schema_version=2)),
        (PERSON, _with(person="Someone Else")),
        (PERSON, _with(presence="on")),
        (PERSON, _with(presence=True)),
        (PERSON, _with(last_seen="2026-01-01 08:41:53")),
        (PERSON, _with(last_seen="2026-01-01T08:41:53+02:00")),
        (PERSON, _with(last_camera="Front Door/#")),
        (PERSON, _with(confidence=2)),
        (PERSON, _with(confidence=True)),
        (PERSON, json.dumps({k: v for k, v in _good()[1].items() if k != "presence"}).encode()),
        (TOPICS.person_state("Carol White") + "/x", _with()),
        ("econnect/persons/Carol White/state", _with()),
        ("other/persons/carol_white/state", _with()),
        (TOPICS.events(), _with()),
        (CAMERA, _with()),
        (TAG, _with()),
    ],
)
def test_malformed_or_foreign_payloads_are_ignored_and_counted(topic: str, payload: bytes) -> None:
    recovered = recover([(topic, payload)], TOPICS)
    assert len(recovered) == 0
    assert recovered.ignored == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"face_count": -1},
        {"face_count": True},
        {"outcome": "maybe"},
        {"tags": "VIP"},
        {"tag_presence": {"vip": "yes"}},
        {"tag_presence": {"V/I": "ON"}},
        {"tag_last_seen": {"vip": None}},
        {"time": None},
        {"camera": "garage"},
    ],
)
def test_malformed_camera_states_are_ignored(changes: dict[str, Any]) -> None:
    data = {**json.loads(_first_run(_face())[CAMERA]), **changes}
    recovered = recover([(CAMERA, json.dumps(data).encode())], TOPICS)
    assert (len(recovered), recovered.ignored) == (0, 1)


def test_good_states_survive_bad_neighbours() -> None:
    broker = _first_run(_face())
    messages = [(TAG, b"{"), *broker.items(), (PERSON + "/x", b"{}")]
    recovered = recover(messages, TOPICS)
    assert recovered.ignored == 2
    assert len(recovered) == sum(TOPICS.kind_of(t) != "here_state" for t in broker)
    assert recovered.subjects[("person", "carol_white")].presence


class _Publisher:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bool]] = []

    def publish(
        self, topic: str, payload: bytes | str, *, retain: bool = False, qos: int | None = None
    ) -> bool:
        data = payload.encode() if isinstance(payload, str) else payload
        self.sent.append((topic, data, retain))
        return True


def test_delivery_restore_publishes_what_the_book_returns() -> None:
    broker = _first_run(_face())
    del broker[TOPICS.person_state("Bob Stone")]
    publisher = _Publisher()
    wall = SEEN + timedelta(seconds=78)
    delivery = Delivery(
        book=_book(wall),
        reporter=Reporter(publisher, TOPICS, retain_state=True, clock=lambda: 0.0),
        publisher=publisher,
        topics=TOPICS,
        clock=lambda: 500.0,
        wall_clock=lambda: wall,
    )
    recovered = delivery.restore([*broker.items(), (PERSON + "/x", b"{}")])
    assert recovered.ignored == 1
    person = [json.loads(p) for t, p, retain in publisher.sent if t == PERSON and retain]
    assert [p["presence"] for p in person] == ["OFF"]
    sent = len(publisher.sent)
    delivery.initial(("front_door", "garage"))
    announced = {t for t, _, _ in publisher.sent[sent:]}
    assert announced == {TOPICS.person_state("Bob Stone")}


def _colliding_run() -> tuple[Broker, dict[str, str]]:
    """A first run that saw Carol at `Front Door`, then `front-door` (it got a suffix)."""
    topics = Topics("econnect")
    book = _book(topics=topics)
    broker: Broker = {}
    for camera in ("Front Door", "front-door"):
        sighting = Sighting(camera=camera, detector_name=camera, detect_time=SEEN)
        faces = (_face(),) if camera == "Front Door" else ()
        _retain(broker, book.record(RecognitionResult(faces), sighting, 5.0, cooldown=30))
    return broker, topics.slugs.names()


def test_a_camera_that_had_a_suffixed_slug_gets_it_back_even_if_it_comes_first() -> None:
    broker, before = _colliding_run()
    assert before["Front Door"] == "front_door" != before["front-door"]
    book, restored = _restart(broker, after=3.0)
    assert {m.topic for m in restored} >= {TOPICS.camera_state_by_slug(s) for s in before.values()}
    sighting = Sighting(camera="front-door", detector_name="x", detect_time=SEEN)
    messages = book.record(RecognitionResult(()), sighting, 1001.0, cooldown=30)
    other = _payload(messages, TOPICS.camera_state_by_slug(before["front-door"]))
    assert other["last_person"] is None
    book.initial(("Front Door",), SEEN)
    sighting = Sighting(camera="Front Door", detector_name="x", detect_time=SEEN)
    messages = book.record(RecognitionResult(()), sighting, 1002.0, cooldown=30)
    assert _payload(messages, CAMERA)["last_person"] == "Carol White"
