"""Topics and retained state payloads: exact contents, slugs, and no topic injection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from econnect_bridge.states import (
    KIND_CAMERA_STATE,
    CameraState,
    HealthState,
    SubjectState,
    Topics,
    bridge_state_payload,
    camera_state_payload,
    check_topic_prefix,
    encode,
    on_off,
    person_state_payload,
    subject_state_payload,
    tag_state_payload,
)

T0 = datetime(2025, 5, 1, 12, 0, 0, tzinfo=UTC)
HOSTILE = ["a/b", "+", "#", "front door", "José", "🚗 garage", "../x", "a\0b", "/", " "]


def test_topics_of_the_contract() -> None:
    topics = Topics()
    assert topics.events() == "econnect/events"
    # A fresh registry: in `topics`, `front_door` below is another camera than `Front Door`.
    assert Topics().camera_events("Front Door") == "econnect/cameras/front_door/events"
    assert topics.person_event("Jane Doe") == "econnect/persons/jane_doe"
    assert topics.tag_event("VIP") == "econnect/tags/vip"
    assert topics.errors() == "econnect/errors"
    assert topics.availability() == "econnect/bridge/availability"
    assert topics.bridge_state() == "econnect/bridge/state"
    assert topics.camera_state("front_door") == "econnect/cameras/front_door/state"
    assert topics.person_state("Jane Doe") == "econnect/persons/jane_doe/state"
    assert topics.tag_state("VIP") == "econnect/tags/vip/state"
    assert topics.annotated("front_door") == "econnect/cameras/front_door/annotated"
    assert topics.subject_state("person", "Jane") == topics.person_state("Jane")
    assert topics.subject_state("tag", "VIP") == topics.tag_state("VIP")


def test_base_topic_may_have_levels() -> None:
    assert Topics("home/faces").events() == "home/faces/events"


@pytest.mark.parametrize("base", ["", "/econnect", "econnect/", "a//b", "a/+", "#", "a\0"])
def test_invalid_base_topic_is_refused(base: str) -> None:
    with pytest.raises(ValueError, match="base topic"):
        Topics(base)
    with pytest.raises(ValueError, match="prefix"):
        check_topic_prefix(base, "prefix")


@pytest.mark.parametrize("name", HOSTILE)
def test_names_cannot_add_levels_or_wildcards(name: str) -> None:
    topics = Topics()
    for topic, levels in (
        (topics.camera_events(name), 4),
        (topics.camera_state(name), 4),
        (topics.annotated(name), 4),
        (topics.person_event(name), 3),
        (topics.person_state(name), 4),
        (topics.tag_event(name), 3),
        (topics.tag_state(name), 4),
    ):
        assert len(topic.split("/")) == levels, topic
        assert not set("+#\0 ") & set(topic), topic
        assert all(topic.split("/")), topic


def test_kind_of_names_every_json_topic() -> None:
    topics = Topics("home/faces")
    assert topics.kind_of(topics.events()) == "recognition"
    assert topics.kind_of(topics.camera_events("x")) == "visit"  # the short payload HA keeps
    assert topics.kind_of(topics.person_event("x")) == "sighting"
    assert topics.kind_of(topics.tag_event("x")) == "sighting"
    assert topics.kind_of(topics.errors()) == "error"
    assert topics.kind_of(topics.camera_state("x")) == "camera_state"
    assert topics.kind_of(topics.person_state("x")) == "person_state"
    assert topics.kind_of(topics.tag_state("x")) == "tag_state"
    assert topics.kind_of(topics.bridge_state()) == "bridge_state"
    assert topics.kind_of(topics.availability()) is None
    assert topics.kind_of(topics.annotated("x")) is None
    assert topics.kind_of("econnect/events") is None


def test_camera_state_payload_exact() -> None:
    state = CameraState(
        camera="Front Door",
        time=T0,
        outcome="known",
        face_count=2,
        last_person="Jane Doe",
        person_id="p-1",
        tags=("VIP",),
        confidence=0.912345,
        quality=0.5,
        last_seen=T0 - timedelta(seconds=1),
        known_person=True,
        tag_presence={"VIP": True, "Staff": False},
        unknown_last_seen=T0 - timedelta(seconds=2),
        tag_last_seen={"vip": T0 - timedelta(seconds=1)},
    )
    assert camera_state_payload(state) == {
        "schema_version": 1,
        "camera": "front_door",
        "time": "2025-05-01T12:00:00.000Z",
        "outcome": "known",
        "face_count": 2,
        "last_person": "Jane Doe",
        "person_id": "p-1",
        "tags": ["VIP"],
        "confidence": 0.9123,
        "quality": 0.5,
        "last_seen": "2025-05-01T11:59:59.000Z",
        "known_person": "ON",
        "unknown_face": "OFF",
        "tag_presence": {"vip": "ON", "staff": "OFF"},
        "unknown_last_seen": "2025-05-01T11:59:58.000Z",
        "tag_last_seen": {"vip": "2025-05-01T11:59:59.000Z"},
        "frigate_event_id": None,
        "unknown_count": 0,
    }


def test_camera_state_tags_keep_the_engine_order_without_duplicates() -> None:
    """One tag order in every payload: the engine's, de-duplicated (as `ordered_tags`)."""
    state = CameraState(camera="c", time=T0, tags=("VIP", "Staff", "VIP", "admin"))
    assert camera_state_payload(state)["tags"] == ["VIP", "Staff", "admin"]


def test_camera_state_defaults_mean_nothing_seen() -> None:
    payload = camera_state_payload(CameraState(camera="garage", time=T0))
    assert payload["outcome"] is None
    assert payload["last_person"] is None
    assert payload["last_seen"] is None
    assert payload["known_person"] == payload["unknown_face"] == "OFF"
    assert payload["tag_presence"] == {}
    assert payload["unknown_last_seen"] is None
    assert payload["tag_last_seen"] == {}


def test_times_are_utc_with_z_whatever_the_zone() -> None:
    paris = timezone(timedelta(hours=2))
    local = datetime(2025, 5, 1, 14, 0, 0, tzinfo=paris)
    assert camera_state_payload(CameraState("c", time=local))["time"] == "2025-05-01T12:00:00.000Z"


def test_person_state_payload_exact() -> None:
    state = SubjectState(
        "person",
        "Jane Doe",
        True,
        person_id="p-1",
        last_camera="Front Door",
        last_seen=T0,
        confidence=0.8,
    )
    expected = {
        "schema_version": 1,
        "person": "Jane Doe",
        "person_id": "p-1",
        "presence": "ON",
        "last_camera": "front_door",
        "last_camera_name": "Front Door",
        "last_seen": "2025-05-01T12:00:00.000Z",
        "confidence": 0.8,
        "tags": [],
    }
    assert person_state_payload(state) == expected
    assert subject_state_payload(state) == expected


def test_tag_state_payload_exact() -> None:
    state = SubjectState("tag", "VIP", last_camera=None, last_person="Jane Doe")
    expected = {
        "schema_version": 1,
        "tag": "VIP",
        "presence": "OFF",
        "last_camera": None,
        "last_camera_name": None,
        "last_person": "Jane Doe",
        "last_seen": None,
    }
    assert tag_state_payload(state) == expected
    assert subject_state_payload(state) == expected


def test_bridge_state_payload_exact() -> None:
    state = HealthState(
        version="0.1.0",
        started=T0,
        api_reachable=True,
        api_latency_ms=12.345,
        processed=3,
        dropped=1,
        errors=2,
        last_error="timeout",
    )
    assert bridge_state_payload(state) == {
        "schema_version": 1,
        "version": "0.1.0",
        "api_reachable": "ON",
        "api_latency_ms": 12.3,
        "processed": 3,
        "dropped": 1,
        "errors": 2,
        "last_error": "timeout",
        "started": "2025-05-01T12:00:00.000Z",
        "broker_connected": "OFF",
        "api_signed_in": "OFF",
        "received": 0,
        "skipped_retained": 0,
        "skipped_own_output": 0,
        "queue_pending": 0,
        "queue_in_flight": 0,
        "redeliveries_skipped": 0,
        "engine_failures": 0,
        "retries": 0,
        "circuit_rejected": 0,
        "lost": 0,
        "spooled": 0,
        "replayed": 0,
        "mqtt_dropped": 0,
        "sessions_lost": 0,
        "acked_on_arrival": 0,
        "frigate_fetches": 0,
        "frigate_fetch_failures": 0,
        "frigate_corrections": 0,
        "frigate_sub_labels": 0,
        "frigate_sub_label_failures": 0,
        "frigate_skipped_named": 0,
        "faces_excluded": 0,
    }
    assert bridge_state_payload(HealthState("0.1.0", T0))["api_latency_ms"] is None


def test_encode_is_compact_utf8_json() -> None:
    assert encode({"person": "José"}) == '{"person":"José"}'.encode()
    assert on_off(True) == "ON"
    assert on_off(False) == "OFF"


def test_states_are_frozen() -> None:
    state = CameraState("c", time=T0)
    with pytest.raises(AttributeError):
        state.face_count = 3  # type: ignore[misc]


def test_cameras_whose_names_slug_alike_get_topics_of_their_own() -> None:
    topics = Topics()
    first, second = topics.camera_state("Front Door"), topics.camera_state("front-door")
    assert first == "econnect/cameras/front_door/state"
    assert second != first
    slug = topics.camera_slug("front-door")
    assert second == topics.camera_state_by_slug(slug)
    assert topics.camera_events("front-door") == f"econnect/cameras/{slug}/events"
    assert topics.annotated("front-door") == f"econnect/cameras/{slug}/annotated"
    assert topics.kind_of(second) == KIND_CAMERA_STATE


def test_the_camera_state_payload_names_the_slug_it_is_given() -> None:
    state = CameraState(camera="front-door", time=T0)
    assert camera_state_payload(state)["camera"] == "front_door"
    assert camera_state_payload(state, "front_door_abc123")["camera"] == "front_door_abc123"
