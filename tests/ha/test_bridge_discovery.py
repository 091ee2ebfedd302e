"""The bridge's real discovery and state payloads, fed to Home Assistant's own MQTT integration.

Nothing here is hand-written MQTT: every device config (device-based discovery, one retained
message per device) comes from `econnect_bridge.discovery`, every
state from `econnect_bridge.states` and every event from `econnect_identities.events`, so a key
Home Assistant does not accept, a template it cannot render or a deprecation it logs fails this
test on the version under test (2025.4.4 in the harness venv, the newest release in the
`ha-newest` chroot).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import async_fire_mqtt_message

from econnect_bridge.discovery import (
    DiscoveryContext,
    DiscoveryMessage,
    component_removal,
    device_messages,
    device_topic,
)
from econnect_bridge.states import (
    CameraState,
    HealthState,
    HereState,
    SubjectState,
    Topics,
    bridge_state_payload,
    camera_state_payload,
    encode,
    here_state_payload,
    subject_state_payload,
)
from econnect_identities.events import Sighting, recognition_event, visit_event
from econnect_identities.here import Present
from econnect_identities.models import (
    BoundingBox,
    DetectedFace,
    Person,
    PersonTag,
    RecognitionResult,
)

CTX = DiscoveryContext(
    cameras=("front_door", "Entrée principale", "Garage 🚗"),
    tags=("VIP",),
    persons=("Jane Doe",),
    annotated=True,
)
TOPICS = Topics(CTX.base_topic)
SEEN = datetime(2025, 5, 1, 12, 0, 0, tzinfo=UTC)
JANE = Person("p-1", friendly_name="Jane Doe", tags=(PersonTag("t-1", name="VIP"),))

Setup = Callable[[], Awaitable[Any]]


def _fire(hass: HomeAssistant, topic: str, payload: bytes, *, retain: bool = False) -> None:
    """Deliver a message the way a broker does.

    A broker sets the retain flag only when it replays a retained message to a new subscriber;
    a live publish reaches existing subscribers with the flag clear, even if it was published
    retained (and Home Assistant ignores a second retained delivery on the same topic).
    """
    async_fire_mqtt_message(hass, topic, payload, qos=1, retain=retain)


def _fire_json(hass: HomeAssistant, topic: str, payload: dict[str, Any], **kw: bool) -> None:
    _fire(hass, topic, encode(payload), **kw)


# Noise about the environment, not our payloads: the venv lacks zlib-ng, the event loop's
# debug mode reports slow steps, and tests/ha/conftest.py enables the custom integration.
# HA 2025.4 also reports its own MQTT integration ("calls async_forward_entry_setups for
# integration mqtt ... without awaiting") when one device config brings several platforms that
# are not loaded yet: a race between its own platform set-ups, whatever the payloads (a fresh
# install on 2025.4 logs it once).
_IGNORED_LOGGERS = frozenset({"aiohttp_fast_zlib", "asyncio"})
_IGNORED_TEXTS = (
    "We found a custom integration",
    "calls async_forward_entry_setups for integration mqtt",
)


def _problems(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Warnings or worse, and any mention of a deprecation, from set-up (discovery) and test."""
    records = [*caplog.get_records("setup"), *caplog.get_records("call")]
    return [
        f"{record.levelname} {record.name}: {record.getMessage()}"
        for record in records
        if record.name not in _IGNORED_LOGGERS
        and not any(text in record.getMessage() for text in _IGNORED_TEXTS)
        and (record.levelno >= logging.WARNING or "deprecat" in record.getMessage().lower())
    ]


def _by_uid(messages: list[DiscoveryMessage]) -> dict[str, dict[str, Any]]:
    """Each entity's component entry in the device configs, by unique id."""
    return {
        unique_id: component
        for m in messages
        if not isinstance(m.payload, bytes)
        for unique_id, component in dict(m.payload)["components"].items()
    }


DEVICES = device_messages(CTX)
PAYLOADS = _by_uid(DEVICES)


def _entity_id(unique_id: str) -> str:
    return str(PAYLOADS[unique_id]["default_entity_id"])


@pytest.fixture
def expected_lingering_timers() -> bool:
    """The mocked paho client never closes its socket, so MQTT's 1 s misc timer outlives the test.

    Home Assistant's own MQTT tests run with this set too (the harness sets it for every
    `tests/components/*` suite outside the base platforms).
    """
    return True


@pytest.fixture
async def announced(
    hass: HomeAssistant,
    mock_hass_config: None,
    mqtt_mock_entry: Setup,
    caplog: pytest.LogCaptureFixture,
) -> AsyncIterator[HomeAssistant]:
    """Home Assistant with MQTT set up, every device config received and the bridge online."""
    caplog.set_level(logging.DEBUG)
    await mqtt_mock_entry()
    for message in DEVICES:
        _fire(hass, message.topic, message.encode(), retain=True)  # replayed at subscribe
        await hass.async_block_till_done()
    await hass.async_block_till_done()
    _fire(hass, TOPICS.availability(), b"online", retain=True)
    await hass.async_block_till_done()
    yield hass
    for entry in hass.config_entries.async_entries("mqtt"):
        await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_every_entity_is_created_with_its_default_entity_id(
    announced: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    registry = er.async_get(announced)
    for unique_id, payload in PAYLOADS.items():
        platform = payload["default_entity_id"].split(".")[0]
        entity_id = registry.async_get_entity_id(platform, "mqtt", unique_id)
        assert entity_id == payload["default_entity_id"], unique_id
    assert len(PAYLOADS) == 3 * 9 + 2 + 2 + 2 + 6
    assert [m.topic for m in DEVICES] == [
        "homeassistant/device/econnect/econnect/config",
        "homeassistant/device/econnect/econnect_front_door/config",
        "homeassistant/device/econnect/econnect_entree_principale/config",
        "homeassistant/device/econnect/econnect_garage/config",
    ]
    assert _problems(caplog) == []


async def test_names_are_device_name_plus_entity_name(announced: HomeAssistant) -> None:
    expected = {
        "sensor.econnect_front_door_last_person": "Front door Last person",
        "sensor.econnect_entree_principale_face_count": "Entrée principale Face count",
        "binary_sensor.econnect_garage_known_person": "Garage 🚗 Known person",
        "binary_sensor.econnect_front_door_tag_present_vip": "Front door VIP present",
        "event.econnect_front_door_recognition": "Front door Recognition",
        "image.econnect_front_door_annotated": "Front door Last faces",
        "binary_sensor.econnect_tag_present_vip": "eConnect bridge VIP present",
        "sensor.econnect_person_last_camera_jane_doe": "eConnect bridge Jane Doe last camera",
        "binary_sensor.econnect_api_reachable": "eConnect bridge API reachable",
    }
    for entity_id, name in expected.items():
        state = announced.states.get(entity_id)
        assert state is not None, entity_id
        assert state.attributes["friendly_name"] == name


async def test_devices_and_diagnostic_entities(announced: HomeAssistant) -> None:
    # Devices are looked up through their entities: `DeviceRegistry.async_get_device` is
    # deprecated (an error in tests) from 2026.8, and its successor is missing in 2025.4.
    registry = er.async_get(announced)
    devices = dr.async_get(announced)
    latency = registry.async_get("sensor.econnect_api_latency")
    last_error = registry.async_get("sensor.econnect_last_error")
    face_count = registry.async_get("sensor.econnect_entree_principale_face_count")
    assert latency is not None
    assert last_error is not None
    assert face_count is not None
    bridge = devices.async_get(str(latency.device_id))
    camera = devices.async_get(str(face_count.device_id))
    assert bridge is not None
    assert camera is not None
    assert bridge.identifiers == {("mqtt", "econnect")}
    assert (bridge.name, bridge.manufacturer, bridge.model, bridge.sw_version) == (
        "eConnect bridge",
        "eConnect",
        "econnect-bridge",
        "0.1.0",
    )
    assert camera.identifiers == {("mqtt", "econnect_entree_principale")}
    assert camera.name == "Entrée principale"
    assert camera.via_device_id == bridge.id
    assert last_error.device_id == bridge.id
    assert latency.entity_category == er.EntityCategory.DIAGNOSTIC
    assert last_error.disabled_by == er.RegistryEntryDisabler.INTEGRATION


async def test_camera_state_sets_then_clears_presence(
    announced: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    seen = CameraState(
        camera="front_door",
        time=SEEN,
        outcome="known",
        face_count=2,
        last_person="Jane Doe",
        person_id="p-1",
        tags=("VIP",),
        confidence=0.93456,
        quality=0.8,
        last_seen=SEEN,
        known_person=True,
        unknown_face=True,
        tag_presence={"VIP": True},
    )
    _fire_json(announced, TOPICS.camera_state("front_door"), camera_state_payload(seen))
    await announced.async_block_till_done()

    last = announced.states.get("sensor.econnect_front_door_last_person")
    assert last is not None
    assert last.state == "Jane Doe"
    assert last.attributes["person_id"] == "p-1"
    assert last.attributes["tags"] == ["VIP"]
    assert last.attributes["confidence"] == 0.9346
    assert last.attributes["last_seen"] == "2025-05-01T12:00:00.000Z"
    assert _state(announced, "sensor.econnect_front_door_face_count") == "2"
    assert _state(announced, "binary_sensor.econnect_front_door_known_person") == STATE_ON
    assert _state(announced, "binary_sensor.econnect_front_door_unknown_face") == STATE_ON
    assert _state(announced, "binary_sensor.econnect_front_door_tag_present_vip") == STATE_ON

    cleared = CameraState(camera="front_door", time=SEEN, last_person="Jane Doe", last_seen=SEEN)
    _fire_json(announced, TOPICS.camera_state("front_door"), camera_state_payload(cleared))
    await announced.async_block_till_done()
    assert _state(announced, "binary_sensor.econnect_front_door_known_person") == STATE_OFF
    assert _state(announced, "binary_sensor.econnect_front_door_unknown_face") == STATE_OFF
    # A tag the camera state no longer mentions is OFF, not an error.
    assert _state(announced, "binary_sensor.econnect_front_door_tag_present_vip") == STATE_OFF
    assert _state(announced, "sensor.econnect_front_door_face_count") == "0"
    assert _problems(caplog) == []


async def test_nobody_seen_yet_is_unknown_not_none(announced: HomeAssistant) -> None:
    empty = CameraState(camera="Garage 🚗", time=SEEN)
    _fire_json(announced, TOPICS.camera_state("Garage 🚗"), camera_state_payload(empty))
    await announced.async_block_till_done()
    assert _state(announced, "sensor.econnect_garage_last_person") == STATE_UNKNOWN


async def test_event_entity_fires_known_person(
    announced: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    face = DetectedFace("f-1", "d-1", 0.91, 0.77, BoundingBox(1, 2, 30, 40), person=JANE)
    sighting = Sighting("front_door", "front_door", SEEN)
    full = recognition_event(RecognitionResult(faces=(face,)), sighting)
    event = visit_event("known_person", sighting, event_id=full["event_id"], face=face)
    entity_id = "event.econnect_front_door_recognition"
    # A retained (replayed) event must not fire.
    _fire_json(announced, TOPICS.camera_events("front_door"), event, retain=True)
    await announced.async_block_till_done()
    assert _state(announced, entity_id) == STATE_UNKNOWN

    _fire_json(announced, TOPICS.camera_events("front_door"), event, retain=False)
    await announced.async_block_till_done()
    state = announced.states.get(entity_id)
    assert state is not None
    assert state.state not in (STATE_UNKNOWN, STATE_UNAVAILABLE)
    assert state.attributes["event_type"] == "known_person"
    assert state.attributes["event_types"] == ["known_person", "unknown_face", "no_face"]
    assert state.attributes["persons"] == ["Jane Doe"]
    assert state.attributes["tags"] == ["VIP"]
    assert state.attributes["camera"] == "front_door"
    assert state.attributes["event_id"] == full["event_id"]
    assert "faces" not in state.attributes  # the recorder keeps attributes: no face detail
    assert _problems(caplog) == []


async def test_person_tag_and_health_states(
    announced: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    person = SubjectState(
        "person",
        "Jane Doe",
        True,
        person_id="p-1",
        last_camera="Entrée principale",
        last_seen=SEEN,
        confidence=0.9,
    )
    tag = SubjectState(
        "tag", "VIP", True, last_camera="front_door", last_person="Jane Doe", last_seen=SEEN
    )
    health = HealthState(
        version="0.1.0",
        started=SEEN,
        api_reachable=True,
        api_latency_ms=123.45,
        processed=10,
        dropped=2,
        errors=1,
        last_error="timeout",
    )
    _fire_json(announced, TOPICS.person_state("Jane Doe"), subject_state_payload(person))
    _fire_json(announced, TOPICS.tag_state("VIP"), subject_state_payload(tag))
    _fire_json(announced, TOPICS.bridge_state(), bridge_state_payload(health))
    await announced.async_block_till_done()

    present = announced.states.get("binary_sensor.econnect_person_present_jane_doe")
    assert present is not None
    assert present.state == STATE_ON
    assert present.attributes["person_id"] == "p-1"
    assert present.attributes["last_camera"] == "entree_principale"
    assert present.attributes["last_camera_name"] == "Entrée principale"
    assert _state(announced, "sensor.econnect_person_last_camera_jane_doe") == "Entrée principale"
    assert _state(announced, "binary_sensor.econnect_tag_present_vip") == STATE_ON
    assert _state(announced, "sensor.econnect_tag_last_camera_vip") == "Front door"
    vip = announced.states.get("binary_sensor.econnect_tag_present_vip")
    assert vip is not None
    assert (vip.attributes["last_camera"], vip.attributes["last_camera_name"]) == (
        "front_door",
        "Front door",
    )
    assert _state(announced, "binary_sensor.econnect_api_reachable") == STATE_ON
    latency = announced.states.get("sensor.econnect_api_latency")
    assert latency is not None
    assert latency.state == "123.5"  # rounded to 0.1 ms by the builder
    assert latency.attributes["unit_of_measurement"] == "ms"
    assert _state(announced, "sensor.econnect_processed") == "10"
    assert _state(announced, "sensor.econnect_dropped") == "2"
    assert _state(announced, "sensor.econnect_errors") == "1"

    gone = SubjectState("person", "Jane Doe", False, person_id="p-1", last_camera="front_door")
    _fire_json(announced, TOPICS.person_state("Jane Doe"), subject_state_payload(gone))
    await announced.async_block_till_done()
    assert _state(announced, "binary_sensor.econnect_person_present_jane_doe") == STATE_OFF
    assert _problems(caplog) == []


async def test_people_here_lists_two_people_then_nobody(announced: HomeAssistant) -> None:
    hass = announced
    jane = Present("Jane Doe", "p-1", ("VIP",), "front_door", "Front door", SEEN)
    bob = Present("Bob Stone", "p-2", (), "front_door", "Front door", SEEN)
    door = HereState("front_door", (jane, bob), unknown_count=1)
    anywhere = HereState(None, (jane, bob), unknown_count=1)
    _fire_json(hass, TOPICS.camera_here("front_door"), here_state_payload(door, SEEN))
    _fire_json(hass, TOPICS.here(), here_state_payload(anywhere, SEEN))
    await hass.async_block_till_done()

    people = hass.states.get(_entity_id("econnect_front_door_people_here"))
    assert people is not None
    assert people.state == "2"
    assert people.name == "Front door People here"
    assert people.attributes["names"] == ["Jane Doe", "Bob Stone"]
    assert people.attributes["people"][0] == {
        "name": "Jane Doe",
        "person_id": "p-1",
        "tags": ["VIP"],
        "last_camera": "front_door",
        "last_camera_name": "Front door",
        "last_seen": "2025-05-01T12:00:00.000Z",
    }
    everyone = hass.states.get(_entity_id("econnect_people_here"))
    assert everyone is not None
    assert (everyone.state, everyone.name) == ("2", "eConnect bridge People here")
    assert everyone.attributes["names"] == ["Jane Doe", "Bob Stone"]
    unknown = hass.states.get(_entity_id("econnect_unknown_faces_here"))
    assert unknown is not None
    assert unknown.state == "1"
    devices = dr.async_get(hass)
    entry = er.async_get(hass).async_get(_entity_id("econnect_people_here"))
    assert entry is not None
    assert entry.device_id is not None
    device = devices.async_get(entry.device_id)
    assert device is not None
    assert device.name == "eConnect bridge"

    _fire_json(hass, TOPICS.here(), here_state_payload(HereState(None), SEEN))
    _fire_json(
        hass, TOPICS.camera_here("front_door"), here_state_payload(HereState("front_door"), SEEN)
    )
    await hass.async_block_till_done()
    for unique_id in ("econnect_people_here", "econnect_front_door_people_here"):
        nobody = hass.states.get(_entity_id(unique_id))
        assert nobody is not None
        assert (nobody.state, nobody.attributes["names"]) == ("0", [])
    front_unknown = hass.states.get(_entity_id("econnect_front_door_unknown_faces_here"))
    assert front_unknown is not None
    assert front_unknown.state == "0"


async def test_annotated_image_and_availability(
    announced: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    entity_id = "image.econnect_front_door_annotated"
    assert _state(announced, entity_id) == STATE_UNKNOWN
    _fire(announced, TOPICS.annotated("front_door"), b"\xff\xd8\xff\xe0fake-jpeg\xff\xd9")
    await announced.async_block_till_done()
    assert _state(announced, entity_id) not in (STATE_UNKNOWN, STATE_UNAVAILABLE)

    _fire(announced, TOPICS.availability(), b"offline")
    await announced.async_block_till_done()
    for payload in PAYLOADS.values():
        state = announced.states.get(payload["default_entity_id"])
        if state is not None:  # disabled-by-default entities have no state
            assert state.state == STATE_UNAVAILABLE, payload["default_entity_id"]
    assert _problems(caplog) == []


async def test_an_empty_device_config_removes_the_camera_and_its_entities(
    announced: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    registry = er.async_get(announced)
    devices = dr.async_get(announced)
    garage = [
        p["default_entity_id"] for u, p in PAYLOADS.items() if u.startswith("econnect_garage")
    ]
    assert len(garage) == 9
    entry = registry.async_get(garage[0])
    assert entry is not None
    device_id = entry.device_id
    _fire(announced, device_topic(CTX, "econnect_garage"), b"")
    await announced.async_block_till_done()
    for entity_id in garage:
        assert registry.async_get(entity_id) is None, entity_id
    assert devices.async_get(str(device_id)) is None
    assert registry.async_get("sensor.econnect_front_door_last_person") is not None
    assert _problems(caplog) == []


async def test_a_platform_only_component_removes_one_entity(
    announced: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """A tag dropped from the configuration: its entry is sent as its platform alone."""
    registry = er.async_get(announced)
    [front] = [m for m in DEVICES if m.topic.endswith("/econnect_front_door/config")]
    payload = dict(front.payload)
    gone = "econnect_front_door_tag_present_vip"
    components = {**payload["components"], gone: component_removal("binary_sensor")}
    _fire_json(announced, front.topic, {**payload, "components": components})
    await announced.async_block_till_done()
    assert registry.async_get("binary_sensor.econnect_front_door_tag_present_vip") is None
    assert announced.states.get("binary_sensor.econnect_front_door_tag_present_vip") is None
    assert _state(announced, "sensor.econnect_front_door_face_count") == STATE_UNKNOWN
    assert _problems(caplog) == []


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


async def test_the_log_check_does_see_home_assistant_warnings(
    announced: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """Guard the guard: a payload Home Assistant rejects must show up in `_problems`."""
    assert _problems(caplog) == []
    bogus = {"event_type": "not_a_type"}
    _fire_json(announced, TOPICS.camera_events("front_door"), bogus)
    await announced.async_block_till_done()
    assert any("not_a_type" in problem for problem in _problems(caplog))
