"""Face pictures in Home Assistant: the integration's image entities, and the bridge's, read
by Home Assistant's own MQTT integration; both served by Home Assistant's image proxy.

Only faces judged known picture a person, only faces judged unknown a camera; uncertain and
excluded faces picture nobody; without the option no such entity exists.
"""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from PIL import Image
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_mqtt_message

from custom_components.econnect_identities.const import DOMAIN
from custom_components.econnect_identities.image import placeholder_jpeg
from econnect_bridge.discovery import DiscoveryContext, device_messages
from econnect_bridge.states import Topics
from econnect_identities import entities, naming
from econnect_identities.face_picture import DEFAULT_MAX_BYTES, DEFAULT_MAX_SIDE, crop_face
from econnect_identities.models import BoundingBox
from tests.ha.conftest import DEFAULT_OPTIONS, SAMPLES, SampleCamera

Client = Callable[[], Awaitable[Any]]
FACES_ON = {
    **DEFAULT_OPTIONS,
    "face_pictures": True,
    "min_confidence": 50,
    "uncertain_min_confidence": 85,
    "rules": ["tag Family: 95", "person Bob Smith: exclude"],
}


def _person_face(hass: HomeAssistant, entry: MockConfigEntry, person: str) -> str | None:
    unique_id = naming.subject_unique_id(entry.entry_id, person, entities.PERSON_FACE.kind)
    return er.async_get(hass).async_get_entity_id("image", DOMAIN, unique_id)


def _unknown_face(hass: HomeAssistant, entry: MockConfigEntry, camera: str) -> str | None:
    unique_id = naming.camera_unique_id(entry.entry_id, camera, entities.LAST_UNKNOWN_FACE.kind)
    return er.async_get(hass).async_get_entity_id("image", DOMAIN, unique_id)


def _state(hass: HomeAssistant, entity_id: str | None) -> str:
    assert entity_id is not None
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


async def _picture(hass_client: Client, entity_id: str | None) -> bytes:
    client = await hass_client()
    reply = await client.get(f"/api/image_proxy/{entity_id}")
    assert reply.status == HTTPStatus.OK
    return bytes(await reply.read())


def _jpeg_size(picture: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(picture)) as image:
        assert image.format == "JPEG"
        return image.size


async def _recognise(hass: HomeAssistant, camera: str) -> None:
    await hass.services.async_call(
        DOMAIN, "recognize", {"camera_entity_id": [camera]}, blocking=True
    )
    await hass.async_block_till_done()


def _jane_a_little_off(tmp_path: Path) -> str:
    """Jane's face a little off her reference (about 0.9): uncertain under `tag Family: 95`."""
    from econnect_bridge.emulator.imagegen import SAMPLE_COLOURS, make_snapshot

    red, green, blue = SAMPLE_COLOURS["jane"]
    path = tmp_path / "jane_off.jpg"
    path.write_bytes(make_snapshot([(red, green, blue + 30)]))
    return str(path)  # an absolute path: the sample camera serves it as it is


@pytest.mark.parametrize("options", [FACES_ON])
async def test_the_integration_pictures_known_and_unknown_faces_only(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    cameras: dict[str, SampleCamera],
    hass_client: Client,
    tmp_path: Path,
) -> None:
    jane = _person_face(hass, loaded_entry, "Jane Doe")
    # Excluded on every camera: no entity carries his name (the roster leaves him out).
    assert _person_face(hass, loaded_entry, "Bob Smith") is None
    assert _person_face(hass, loaded_entry, "Carol White") is not None
    front = _unknown_face(hass, loaded_entry, "camera.front_door")
    garden = _unknown_face(hass, loaded_entry, "camera.garden")
    for entity_id in (jane, front, garden):
        assert _state(hass, entity_id) == STATE_UNKNOWN  # no picture yet: the placeholder
    assert hass.states.get(jane).attributes["friendly_name"].endswith(" Jane Doe face")

    await _recognise(hass, "camera.front_door")  # Jane, known
    assert _state(hass, jane) not in (STATE_UNKNOWN, STATE_UNAVAILABLE)
    picture = await _picture(hass_client, jane)
    assert picture != placeholder_jpeg()
    assert max(_jpeg_size(picture)) <= DEFAULT_MAX_SIDE
    assert len(picture) <= DEFAULT_MAX_BYTES
    assert _state(hass, front) == STATE_UNKNOWN  # a known face is no unknown face
    jane_time = _state(hass, jane)

    cameras["camera.garden"].image = _jane_a_little_off(tmp_path)  # uncertain: no picture
    await _recognise(hass, "camera.garden")
    cameras["camera.front_door"].image = "bob.png"  # excluded: no picture anywhere
    await _recognise(hass, "camera.front_door")
    assert _state(hass, jane) == jane_time
    assert await _picture(hass_client, jane) == picture
    assert _state(hass, front) == STATE_UNKNOWN
    assert _state(hass, garden) == STATE_UNKNOWN

    cameras["camera.garden"].image = "unknown.jpg"
    await _recognise(hass, "camera.garden")
    assert _state(hass, garden) not in (STATE_UNKNOWN, STATE_UNAVAILABLE)
    stranger = await _picture(hass_client, garden)
    assert stranger not in (placeholder_jpeg(), picture)
    _jpeg_size(stranger)


async def test_no_face_picture_entity_without_the_option(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    registry = er.async_get(hass)
    keys = {
        item.translation_key
        for item in er.async_entries_for_config_entry(registry, loaded_entry.entry_id)
    }
    assert "annotated" in keys
    assert not keys & {entities.PERSON_FACE.key, entities.LAST_UNKNOWN_FACE.key}


# The bridge's side: its discovery and a picture it publishes, through HA's MQTT integration.
CTX = DiscoveryContext(cameras=("front_door",), persons=("Jane Doe",), face_pictures=True)
TOPICS = Topics(CTX.base_topic)
Setup = Callable[[], Awaitable[Any]]


@pytest.fixture
def expected_lingering_timers() -> bool:
    """The mocked paho client never closes its socket (as in test_bridge_discovery.py)."""
    return True


@pytest.fixture
async def announced(
    hass: HomeAssistant, mock_hass_config: None, mqtt_mock_entry: Setup
) -> AsyncIterator[HomeAssistant]:
    """Home Assistant's MQTT integration with the bridge's configs received, bridge online."""
    await mqtt_mock_entry()
    for message in device_messages(CTX):
        async_fire_mqtt_message(hass, message.topic, message.encode(), qos=1, retain=True)
        await hass.async_block_till_done()
    async_fire_mqtt_message(hass, TOPICS.availability(), b"online", qos=1, retain=True)
    await hass.async_block_till_done()
    yield hass
    for entry in hass.config_entries.async_entries("mqtt"):
        await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_the_bridge_face_pictures_show_in_home_assistant(
    announced: HomeAssistant, hass_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    registry = er.async_get(announced)
    jane = registry.async_get_entity_id("image", "mqtt", "econnect_person_face_jane_doe")
    front = registry.async_get_entity_id("image", "mqtt", "econnect_front_door_last_unknown_face")
    assert jane == "image.econnect_person_face_jane_doe"
    assert front == "image.econnect_front_door_last_unknown_face"
    assert announced.states.get(jane).attributes["friendly_name"].endswith("Jane Doe face")
    assert _state(announced, jane) == STATE_UNKNOWN

    face = crop_face((SAMPLES / "jane.jpg").read_bytes(), BoundingBox(200, 120, 160, 200))
    assert face is not None
    async_fire_mqtt_message(announced, TOPICS.person_face("Jane Doe"), face, qos=1)
    await announced.async_block_till_done()
    assert _state(announced, jane) not in (STATE_UNKNOWN, STATE_UNAVAILABLE)
    assert await _picture(hass_client, jane) == face
    assert _state(announced, front) == STATE_UNKNOWN  # its own topic, still empty
    problems = [r for r in caplog.records if r.name.startswith("homeassistant.components.mqtt")]
    assert problems == []
