"""What the entities show after a reload or restart: restored states, presence windows, image."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import timedelta
from http import HTTPStatus
from typing import Any

import pytest
from conftest import SampleCamera, advance
from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import HomeAssistant, State
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_mock_restore_state_shutdown_restart,
    mock_restore_cache,
    mock_restore_cache_with_extra_data,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.econnect_identities.const import DOMAIN

LAST_PERSON = "sensor.front_door_last_person"
FACE_COUNT = "sensor.front_door_face_count"
KNOWN = "binary_sensor.front_door_known_person"
UNKNOWN_FACE = "binary_sensor.front_door_unknown_face"
EVENT = "event.front_door_recognition"
IMAGE = "image.front_door_last_faces"
VIP = "binary_sensor.tag_presence_vip_present"
STAFF = "binary_sensor.tag_presence_staff_present"

JANE_ATTRIBUTES = {
    "person_id": "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
    "tags": ["VIP", "Family"],
    "confidence": 0.97,
    "quality": 0.9,
    "last_seen": "2026-01-01T08:00:00Z",
}

SetUp = Callable[[], Awaitable[MockConfigEntry]]


@pytest.fixture
async def set_up(
    hass: HomeAssistant, cameras: dict[str, SampleCamera], config_entry: MockConfigEntry
) -> AsyncGenerator[SetUp]:
    """Set up the entry once the test has filled the restore cache; unload it at the end."""

    async def _set_up() -> MockConfigEntry:
        assert await hass.config_entries.async_setup(config_entry.entry_id)
        await hass.async_block_till_done()
        return config_entry

    yield _set_up
    if config_entry.state.recoverable:
        await hass.config_entries.async_unload(config_entry.entry_id)
        await hass.async_block_till_done()


async def recognize(hass: HomeAssistant, camera: str = "camera.front_door") -> None:
    await hass.services.async_call(
        DOMAIN, "recognize", {"camera_entity_id": [camera]}, blocking=True
    )
    await hass.async_block_till_done()


def shown(hass: HomeAssistant, entity_id: str) -> State:
    current = hass.states.get(entity_id)
    assert current is not None, entity_id
    return current


def own_attributes(state: State) -> dict[str, Any]:
    """The attributes the integration sets, without Home Assistant's own."""
    ha_keys = {"friendly_name", "device_class", "state_class", "icon", "unit_of_measurement"}
    return {k: v for k, v in state.attributes.items() if k not in ha_keys}


async def fetch_image(hass: HomeAssistant, hass_client: ClientSessionGenerator) -> bytes:
    """GET the image entity's picture on the URL the frontend uses; it must answer 200."""
    url = shown(hass, IMAGE).attributes["entity_picture"]
    assert url.startswith(f"/api/image_proxy/{IMAGE}")
    client = await hass_client()
    reply = await client.get(url)
    assert reply.status == HTTPStatus.OK
    assert reply.content_type == "image/jpeg"
    body = bytes(await reply.read())
    assert body[:2] == b"\xff\xd8"
    return body


async def test_reload_keeps_what_the_user_sees(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """An options save reloads the entry: the last sighting survives, presence runs on."""
    await recognize(hass)
    person = own_attributes(shown(hass, LAST_PERSON))
    vip = own_attributes(shown(hass, VIP))
    assert shown(hass, LAST_PERSON).state == "Jane Doe"

    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()

    assert shown(hass, LAST_PERSON).state == "Jane Doe"
    assert own_attributes(shown(hass, LAST_PERSON)) == person
    assert list(own_attributes(shown(hass, LAST_PERSON))) == list(person)  # the table's order
    assert shown(hass, FACE_COUNT).state == "1"
    assert shown(hass, KNOWN).state == STATE_ON
    assert shown(hass, UNKNOWN_FACE).state == STATE_OFF
    assert shown(hass, VIP).state == STATE_ON
    assert own_attributes(shown(hass, VIP)) == vip
    assert shown(hass, STAFF).state == STATE_OFF
    assert shown(hass, EVENT).attributes["event_type"] == "known_person"  # HA's own restore
    assert shown(hass, "sensor.garden_last_person").state == STATE_UNKNOWN

    await advance(hass, 45, freezer)  # inside the 60 s window started by the sighting
    assert shown(hass, KNOWN).state == STATE_ON
    assert shown(hass, VIP).state == STATE_ON
    await advance(hass, 20, freezer)  # 65 s after the sighting
    assert shown(hass, KNOWN).state == STATE_OFF
    assert shown(hass, VIP).state == STATE_OFF
    assert own_attributes(shown(hass, VIP)) == vip  # who was seen last stays readable
    assert shown(hass, LAST_PERSON).state == "Jane Doe"


async def test_reload_after_the_window_passed_turns_presence_off(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """A sensor stored as on whose presence time ran out while unloaded comes back off."""
    await recognize(hass)
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    freezer.tick(timedelta(seconds=90))
    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert shown(hass, KNOWN).state == STATE_OFF
    assert shown(hass, VIP).state == STATE_OFF
    assert own_attributes(shown(hass, VIP))["last_person"] == "Jane Doe"
    assert shown(hass, LAST_PERSON).state == "Jane Doe"


async def test_restart_through_storage_keeps_what_the_user_sees(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """A restart: the states go through Home Assistant's restore storage (JSON) and back."""
    await recognize(hass)
    person = own_attributes(shown(hass, LAST_PERSON))
    vip = own_attributes(shown(hass, VIP))
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    await async_mock_restore_state_shutdown_restart(hass)
    freezer.tick(timedelta(seconds=30))
    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done()

    assert shown(hass, LAST_PERSON).state == "Jane Doe"
    assert own_attributes(shown(hass, LAST_PERSON)) == person
    assert shown(hass, FACE_COUNT).state == "1"
    assert shown(hass, KNOWN).state == STATE_ON
    assert own_attributes(shown(hass, VIP)) == vip
    assert shown(hass, EVENT).attributes["event_type"] == "known_person"
    await advance(hass, 31, freezer)  # 61 s after the sighting
    assert shown(hass, KNOWN).state == STATE_OFF
    assert shown(hass, VIP).state == STATE_OFF


async def test_restart_restores_the_sensors(hass: HomeAssistant, set_up: SetUp) -> None:
    """Value and attributes come back from the stored sensor data, until a new result."""
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State(LAST_PERSON, "Jane Doe", JANE_ATTRIBUTES),
                {
                    "native_value": "Jane Doe",
                    "native_unit_of_measurement": None,
                    "attributes": JANE_ATTRIBUTES,
                },
            ),
            (
                State(FACE_COUNT, "2"),
                {"native_value": 2, "native_unit_of_measurement": None, "attributes": None},
            ),
            # Not the sensor's stored data (no unit): not used.
            (State("sensor.garden_last_person", "John Roe"), {"native_value": "John Roe"}),
        ],
    )
    await set_up()
    assert shown(hass, LAST_PERSON).state == "Jane Doe"
    assert own_attributes(shown(hass, LAST_PERSON)) == JANE_ATTRIBUTES
    assert shown(hass, FACE_COUNT).state == "2"
    assert shown(hass, "sensor.garden_face_count").state == STATE_UNKNOWN
    assert shown(hass, "sensor.garden_last_person").state == STATE_UNKNOWN


async def test_restart_restores_sensors_stored_while_unavailable(
    hass: HomeAssistant, set_up: SetUp, cameras: dict[str, SampleCamera]
) -> None:
    """A state saved while the engine was down has no attributes: the stored data has them."""
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State(LAST_PERSON, "unavailable"),
                {
                    "native_value": "Jane Doe",
                    "native_unit_of_measurement": None,
                    "attributes": JANE_ATTRIBUTES,
                },
            ),
        ],
    )
    await set_up()
    assert shown(hass, LAST_PERSON).state == "Jane Doe"
    assert own_attributes(shown(hass, LAST_PERSON)) == JANE_ATTRIBUTES
    # Only unknown faces: the last known person is still the restored one.
    cameras["camera.front_door"].image = "unknown.jpg"
    await recognize(hass)
    assert shown(hass, LAST_PERSON).state == "Jane Doe"
    assert own_attributes(shown(hass, LAST_PERSON)) == JANE_ATTRIBUTES
    assert shown(hass, FACE_COUNT).state == "1"
    # A known person replaces it, with the new sighting's details.
    cameras["camera.front_door"].image = "jane.jpg"
    await recognize(hass)
    assert shown(hass, LAST_PERSON).state == "Jane Doe"
    assert own_attributes(shown(hass, LAST_PERSON))["last_seen"] != JANE_ATTRIBUTES["last_seen"]


async def test_restart_reconciles_presence_with_its_window(
    hass: HomeAssistant, set_up: SetUp, freezer: FrozenDateTimeFactory
) -> None:
    """Stored data: on inside the window stays on until it ends; on past the window is off."""
    now = dt_util.utcnow()
    vip_attributes = {
        "last_camera": "camera.front_door",
        "last_person": "Jane Doe",
        "last_seen": "2026-01-01T08:00:00Z",
    }
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State(KNOWN, STATE_ON, last_changed=now - timedelta(seconds=300)),
                {"is_on": True, "last_seen": (now - timedelta(seconds=20)).isoformat()},
            ),
            (
                State(UNKNOWN_FACE, STATE_ON),  # a time without zone is taken as UTC
                {
                    "is_on": True,
                    "last_seen": (now - timedelta(seconds=61)).replace(tzinfo=None).isoformat(),
                },
            ),
            (
                State(VIP, "unavailable"),
                {
                    "is_on": True,
                    "last_seen": (now - timedelta(seconds=50)).isoformat(),
                    "attributes": vip_attributes,
                },
            ),
            (  # stored data that is not ours: the state and its attributes are used instead
                State(STAFF, STATE_ON, {**vip_attributes, "last_seen": now.isoformat()}),
                {"last_seen": "yesterday"},
            ),
        ],
    )
    await set_up()
    # The last sighting counts, not when the sensor turned on (300 s ago).
    assert shown(hass, KNOWN).state == STATE_ON
    assert shown(hass, UNKNOWN_FACE).state == STATE_OFF
    assert shown(hass, VIP).state == STATE_ON
    # Stored by an earlier version, without the camera's name: it is named on restore.
    assert own_attributes(shown(hass, VIP)) == {**vip_attributes, "last_camera_name": "Front door"}
    assert shown(hass, STAFF).state == STATE_ON
    await advance(hass, 11, freezer)  # the VIP's window ends 10 s after the restart
    assert shown(hass, VIP).state == STATE_OFF
    assert shown(hass, KNOWN).state == STATE_ON
    await advance(hass, 30, freezer)  # 41 s: past the known person's 40 s
    assert shown(hass, KNOWN).state == STATE_OFF
    assert shown(hass, STAFF).state == STATE_ON
    await advance(hass, 20, freezer)  # 61 s: past the staff sighting's 60 s
    assert shown(hass, STAFF).state == STATE_OFF


async def test_restart_from_states_alone(
    hass: HomeAssistant, set_up: SetUp, freezer: FrozenDateTimeFactory
) -> None:
    """Without stored data: the tag's `last_seen` attribute, else `last_changed`, sets the end."""
    now = dt_util.utcnow()
    mock_restore_cache(
        hass,
        [
            State(KNOWN, STATE_ON, last_changed=now - timedelta(seconds=30)),
            State(UNKNOWN_FACE, STATE_ON, last_changed=now - timedelta(seconds=90)),
            State(
                VIP,
                STATE_ON,
                {
                    "last_camera": "camera.garden",
                    "last_person": "Jane Doe",
                    "last_seen": (now - timedelta(seconds=55)).isoformat(),
                },
                last_changed=now - timedelta(seconds=3600),
            ),
            State(STAFF, STATE_OFF),
        ],
    )
    await set_up()
    assert shown(hass, KNOWN).state == STATE_ON
    assert shown(hass, UNKNOWN_FACE).state == STATE_OFF
    assert shown(hass, VIP).state == STATE_ON
    assert own_attributes(shown(hass, VIP))["last_camera"] == "camera.garden"
    assert shown(hass, STAFF).state == STATE_OFF
    await advance(hass, 6, freezer)
    assert shown(hass, VIP).state == STATE_OFF
    assert shown(hass, KNOWN).state == STATE_ON
    await advance(hass, 25, freezer)
    assert shown(hass, KNOWN).state == STATE_OFF


async def test_image_answers_before_and_after_the_first_faces(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    """No picture yet: a placeholder (200) and an unknown state; then the annotated picture."""
    assert shown(hass, IMAGE).state == STATE_UNKNOWN
    placeholder = await fetch_image(hass, hass_client)

    await recognize(hass, "camera.garden")  # no face: nothing to draw yet
    assert shown(hass, "image.garden_last_faces").state == STATE_UNKNOWN

    await recognize(hass)
    assert shown(hass, IMAGE).state != STATE_UNKNOWN
    assert dt_util.parse_datetime(shown(hass, IMAGE).state) is not None
    annotated = await fetch_image(hass, hass_client)
    assert annotated != placeholder

    # The picture is not kept across a reload: back to the placeholder, and unknown.
    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert shown(hass, IMAGE).state == STATE_UNKNOWN
    assert await fetch_image(hass, hass_client) == placeholder
