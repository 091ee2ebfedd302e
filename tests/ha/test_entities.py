"""Entity states after known, unknown, no-face and multi-face images; presence, events, cooldown."""

from __future__ import annotations

import logging
from datetime import datetime
from http import HTTPStatus
from typing import Any

import pytest
from conftest import DEFAULT_OPTIONS, SampleCamera, advance
from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.econnect_identities.const import (
    DOMAIN,
    EVENT_FACE,
    EVENT_FACE_LEGACY_KEYS,
)
from econnect_identities.events import Sighting, sighting_event
from econnect_identities.schemas import validate_payload

FRONT = "front_door"
ENGINE = "econnect_identities_127_0_0_1"
TAGS = "tag_presence"  # the device of the tag presence sensors


async def recognize(hass: HomeAssistant, camera: str = "camera.front_door") -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN, "recognize", {"camera_entity_id": [camera]}, blocking=True, return_response=True
    )
    await hass.async_block_till_done()
    assert response is not None
    return response["results"][0]  # type: ignore[no-any-return]


def state(hass: HomeAssistant, entity_id: str) -> str:
    current = hass.states.get(entity_id)
    assert current is not None, entity_id
    return current.state


async def test_known_person(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    hass_client: ClientSessionGenerator,
) -> None:
    caplog.set_level(logging.WARNING)
    await recognize(hass)
    assert state(hass, f"sensor.{FRONT}_last_person") == "Jane Doe"
    attributes = hass.states.get(f"sensor.{FRONT}_last_person").attributes
    assert attributes["person_id"] == "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
    assert attributes["tags"] == ["VIP", "Family"]
    assert attributes["confidence"] > 0.9
    assert "quality" in attributes
    assert "last_seen" in attributes
    assert "time" not in attributes
    assert state(hass, f"sensor.{FRONT}_face_count") == "1"
    assert state(hass, f"binary_sensor.{FRONT}_known_person") == STATE_ON
    assert state(hass, f"binary_sensor.{FRONT}_unknown_face") == STATE_OFF
    assert state(hass, f"binary_sensor.{TAGS}_vip_present") == STATE_ON
    assert state(hass, f"binary_sensor.{TAGS}_staff_present") == STATE_OFF
    vip = hass.states.get(f"binary_sensor.{TAGS}_vip_present").attributes
    assert vip["device_class"] == "occupancy"
    assert (vip["last_camera"], vip["last_person"]) == ("camera.front_door", "Jane Doe")
    assert vip["last_seen"].endswith("Z")
    assert "camera" not in vip
    event = hass.states.get(f"event.{FRONT}_recognition")
    assert event.attributes["event_type"] == "known_person"
    assert event.attributes["persons"] == ["Jane Doe"]
    # The annotated image is served as a JPEG.
    client = await hass_client()
    reply = await client.get(f"/api/image_proxy/image.{FRONT}_last_faces")
    assert reply.status == HTTPStatus.OK
    assert (await reply.read())[:2] == b"\xff\xd8"
    assert state(hass, "sensor.garden_last_person") == STATE_UNKNOWN
    problems = [r for r in caplog.records if "turbojpeg" not in r.getMessage().lower()]
    problems = [r for r in problems if not r.name.startswith(("homeassistant.loader", "aiohttp"))]
    assert problems == []


async def test_unknown_face(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, cameras: dict[str, SampleCamera]
) -> None:
    cameras["camera.front_door"].image = "unknown.jpg"
    result = await recognize(hass)
    assert result["outcome"] == "unknown"
    assert state(hass, f"sensor.{FRONT}_last_person") == STATE_UNKNOWN
    assert state(hass, f"sensor.{FRONT}_face_count") == "1"
    assert state(hass, f"binary_sensor.{FRONT}_known_person") == STATE_OFF
    assert state(hass, f"binary_sensor.{FRONT}_unknown_face") == STATE_ON
    event = hass.states.get(f"event.{FRONT}_recognition")
    assert event.attributes["event_type"] == "unknown_face"


async def test_no_face(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, cameras: dict[str, SampleCamera]
) -> None:
    result = await recognize(hass, "camera.garden")
    assert result["outcome"] == "no_face"
    assert state(hass, "sensor.garden_face_count") == "0"
    assert state(hass, "binary_sensor.garden_known_person") == STATE_OFF
    assert state(hass, "binary_sensor.garden_unknown_face") == STATE_OFF
    assert hass.states.get("event.garden_recognition").attributes["event_type"] == "no_face"
    assert state(hass, "image.garden_last_faces") == STATE_UNKNOWN


@pytest.mark.parametrize("options", [{**DEFAULT_OPTIONS, "largest_face_only": False}])
async def test_group_image(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, cameras: dict[str, SampleCamera]
) -> None:
    cameras["camera.front_door"].image = "group.jpg"
    result = await recognize(hass)
    assert result["face_count"] == 3
    assert result["persons"] == ["Bob Smith", "Jane Doe"]
    assert state(hass, f"sensor.{FRONT}_face_count") == "3"
    assert state(hass, f"binary_sensor.{FRONT}_known_person") == STATE_ON
    assert state(hass, f"binary_sensor.{FRONT}_unknown_face") == STATE_ON
    assert state(hass, f"binary_sensor.{TAGS}_staff_present") == STATE_ON


@pytest.mark.parametrize(
    "options",
    [{"cameras": ["camera.front_door"], "largest_face_only": True, "min_confidence": 0}],
)
async def test_largest_face_only(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, cameras: dict[str, SampleCamera]
) -> None:
    cameras["camera.front_door"].image = "group.jpg"
    result = await recognize(hass)
    assert result["persons"] == ["Jane Doe"]
    assert result["face_count"] == 1


async def test_largest_face_only_is_the_default(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, cameras: dict[str, SampleCamera]
) -> None:
    cameras["camera.front_door"].image = "group.jpg"
    result = await recognize(hass)
    assert result["persons"] == ["Jane Doe"]
    assert result["face_count"] == 1


@pytest.mark.parametrize("options", [{"cameras": ["camera.front_door"], "min_quality": 100.1}])
async def test_thresholds_drop_faces(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    result = await recognize(hass)
    assert result["outcome"] == "no_face"


async def test_presence_turns_off_after_presence_time(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    await recognize(hass)
    assert state(hass, f"binary_sensor.{FRONT}_known_person") == STATE_ON
    await advance(hass, 30, freezer)
    await recognize(hass)  # seen again: the 60 s window starts over
    await advance(hass, 45, freezer)
    assert state(hass, f"binary_sensor.{FRONT}_known_person") == STATE_ON
    assert state(hass, f"binary_sensor.{TAGS}_vip_present") == STATE_ON
    await advance(hass, 20, freezer)
    assert state(hass, f"binary_sensor.{FRONT}_known_person") == STATE_OFF
    assert state(hass, f"binary_sensor.{TAGS}_vip_present") == STATE_OFF
    assert state(hass, f"sensor.{FRONT}_last_person") == "Jane Doe"  # the last one stays


async def test_bus_event_with_cooldown(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, cameras: dict[str, SampleCamera]
) -> None:
    events: list[Event] = []

    @callback
    def _listen(event: Event) -> None:
        events.append(event)

    hass.bus.async_listen(EVENT_FACE, _listen)
    await recognize(hass)
    await recognize(hass)  # inside the 30 s cooldown: no second event
    cameras["camera.garden"].image = "jane.jpg"
    await recognize(hass, "camera.garden")  # another camera: its own window
    assert [e.data["camera_entity_id"] for e in events] == ["camera.front_door", "camera.garden"]
    assert events[0].data["name"] == "Jane Doe"
    assert events[0].data["person_id"] == "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
    assert events[0].data["tags"] == ["VIP", "Family"]
    assert events[0].data["confidence"] > 0.9


@pytest.mark.parametrize(
    "options", [{**DEFAULT_OPTIONS, "person_sections": ["names", "tags", "fields", "addresses"]}]
)
async def test_bus_event_is_the_shared_sighting(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """The bus event is what `sighting_event` builds for the same face, plus the legacy keys."""
    events: list[Event] = []

    @callback
    def _listen(event: Event) -> None:
        events.append(event)

    hass.bus.async_listen(EVENT_FACE, _listen)
    response = await recognize(hass)
    recognizer = loaded_entry.runtime_data.recognizer
    result = recognizer.states["camera.front_door"].result
    assert result is not None
    when = datetime.fromisoformat(response["detect_time"])
    sighting = Sighting("camera.front_door", "camera.front_door", when)
    expected = sighting_event(result.known_faces[0], sighting, recognizer.options.person_fields)
    assert len(events) == 1
    data = dict(events[0].data)
    legacy = {key: data.pop(key) for key in EVENT_FACE_LEGACY_KEYS}
    assert data == expected
    validate_payload("sighting", data)
    assert data["type"] == "person_seen"
    assert data["person"]["name"] == "Jane Doe"
    assert {"aliases", "tags", "fields", "addresses"} <= set(data["person"])
    assert legacy == {
        "entry_id": loaded_entry.entry_id,
        "camera_entity_id": "camera.front_door",
        "name": "Jane Doe",
        "person_id": "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
        "tags": ["VIP", "Family"],
    }


async def test_trigger_sensor_recognises_all_cameras(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    hass.states.async_set("binary_sensor.hall_motion", STATE_OFF)
    await hass.async_block_till_done()
    hass.states.async_set("binary_sensor.hall_motion", STATE_ON)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert state(hass, f"sensor.{FRONT}_last_person") == "Jane Doe"
    assert state(hass, "sensor.garden_face_count") == "0"
    hass.states.async_set("binary_sensor.hall_motion", STATE_ON, {"changed": 1})
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_trigger_logs_a_failed_camera(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    cameras: dict[str, SampleCamera],
    caplog: pytest.LogCaptureFixture,
) -> None:
    cameras["camera.garden"].image = "missing.jpg"
    hass.states.async_set("binary_sensor.hall_motion", STATE_ON)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert "Recognition on camera.garden failed" in caplog.text
    assert state(hass, f"sensor.{FRONT}_last_person") == "Jane Doe"


async def test_latency_sensor_disabled_by_default(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    registry = er.async_get(hass)
    entity_id = f"sensor.{ENGINE}_api_latency"
    entry = registry.async_get(entity_id)
    assert entry is not None
    assert entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    registry.async_update_entity(entity_id, disabled_by=None)
    await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert float(state(hass, entity_id)) >= 0


async def test_names_match_the_bridge(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    """Unique ids come from econnect_identities.naming with the entry id as node id."""
    registry = er.async_get(hass)
    node = loaded_entry.entry_id.lower()
    assert (
        registry.async_get_entity_id("sensor", DOMAIN, f"{node}_camera_front_door_last_person")
        == f"sensor.{FRONT}_last_person"
    )
    assert (
        registry.async_get_entity_id("binary_sensor", DOMAIN, f"{node}_tag_present_vip")
        == f"binary_sensor.{TAGS}_vip_present"
    )
