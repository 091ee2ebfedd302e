"""Entity ids Home Assistant registers for any person, tag or topic name, on both front ends.

Home Assistant takes object ids of `[a-z0-9_]` only (enforced since 2026.2). The names here
have accents, apostrophes, letters NFKD leaves whole, another script, and two pairs that slug
alike; each must give valid, distinct ids from the bridge's real discovery payloads and from
the integration. Ids of existing users must not move: unique ids of ASCII names are those of
earlier versions, and an entity registered under an older default entity id keeps it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from homeassistant.core import HomeAssistant, valid_entity_id
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_mqtt_message,
)

from custom_components.econnect_identities.const import DOMAIN
from econnect_bridge.discovery import DiscoveryContext, device_messages, discovery_messages
from econnect_identities import naming

NAMES = ("José Núñez", "Anna-Lena", "O'Brien", "李雷", "Ægir Þór", "Straße", "Jane Doe", "Jane-Doe")
CTX = DiscoveryContext(cameras=("front_door",), tags=("VIP", "Li Lei", "李雷"), persons=NAMES)
TOPIC = "frigate/front_door/person/snapshot"

Setup = Callable[[], Awaitable[Any]]


@pytest.fixture
def expected_lingering_timers() -> bool:
    """HA's MQTT client keeps a housekeeping timer past the test; it is not ours."""
    return True


def _payloads() -> dict[str, dict[str, Any]]:
    return {
        dict(m.payload)["unique_id"]: dict(m.payload)
        for m in discovery_messages(CTX)
        if not isinstance(m.payload, bytes)
    }


@pytest.fixture
async def announced(
    hass: HomeAssistant, mock_hass_config: None, mqtt_mock_entry: Setup
) -> AsyncIterator[HomeAssistant]:
    """Home Assistant's MQTT integration, with the device configs of `CTX` received."""
    await mqtt_mock_entry()
    for message in device_messages(CTX):
        async_fire_mqtt_message(hass, message.topic, message.encode(), qos=1, retain=True)
        await hass.async_block_till_done()
    yield hass
    for entry in hass.config_entries.async_entries("mqtt"):
        await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_the_bridge_gives_every_person_and_tag_a_valid_distinct_entity_id(
    announced: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    registry = er.async_get(announced)
    payloads = _payloads()
    registered = {}
    for unique_id, payload in payloads.items():
        platform = payload["default_entity_id"].split(".")[0]
        registered[unique_id] = registry.async_get_entity_id(platform, "mqtt", unique_id)
    assert all(registered.values())
    assert list(registered.values()) == [p["default_entity_id"] for p in payloads.values()]
    assert all(valid_entity_id(str(entity_id)) for entity_id in registered.values())
    assert len(set(registered.values())) == len(payloads)
    present = [uid for uid in payloads if uid.startswith("econnect_person_present_")]
    assert len(present) == len(NAMES)
    expected = {
        "José Núñez": "binary_sensor.econnect_person_present_jose_nunez",
        "O'Brien": "binary_sensor.econnect_person_present_o_brien",
        "Ægir Þór": "binary_sensor.econnect_person_present_gir_or",
        "Straße": "binary_sensor.econnect_person_present_strae",
        "李雷": "binary_sensor.econnect_person_present_x_3a47328a",
        "Jane Doe": "binary_sensor.econnect_person_present_jane_doe",
    }
    for name, entity_id in expected.items():
        state = announced.states.get(entity_id)
        assert state is not None, entity_id
        assert state.attributes["friendly_name"] == f"eConnect bridge {name} present"
    other_jane = announced.states.get(
        f"binary_sensor.econnect_person_present_{naming.suffixed_slugs('Jane-Doe')[0]}"
    )
    assert other_jane is not None
    assert other_jane.attributes["friendly_name"] == "eConnect bridge Jane-Doe present"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


TAGS = ["VIP", *NAMES]


@pytest.mark.parametrize(
    "options", [{"cameras": ["camera.front_door"], "presence_tags": TAGS, "presence_time": 60}]
)
async def test_the_integration_gives_every_tag_a_valid_distinct_entity_id(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    registry = er.async_get(hass)
    items = er.async_entries_for_config_entry(registry, loaded_entry.entry_id)
    assert all(valid_entity_id(item.entity_id) for item in items)
    assert len({item.entity_id for item in items}) == len(items)
    node = loaded_entry.entry_id.lower()
    tags = [item for item in items if item.unique_id.startswith(f"{node}_tag_present_")]
    assert len(tags) == len(TAGS)
    plain = naming.subject_unique_id(loaded_entry.entry_id, "Jane Doe", naming.TAG_PRESENT)
    by_unique_id = {item.unique_id: item for item in tags}
    assert by_unique_id[plain].entity_id == "binary_sensor.tag_presence_jane_doe_present"
    names = {hass.states.get(item.entity_id).attributes["friendly_name"] for item in tags}
    assert names == {f"Tag presence {tag} present" for tag in TAGS}


async def test_tag_sensors_are_named_for_the_tag_and_the_camera_not_the_host(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    await hass.services.async_call(
        DOMAIN, "recognize", {"camera_entity_id": ["camera.front_door"]}, blocking=True
    )
    await hass.async_block_till_done()
    vip = hass.states.get("binary_sensor.tag_presence_vip_present")
    assert vip is not None
    assert vip.attributes["friendly_name"] == "Tag presence VIP present"
    assert vip.attributes["last_camera"] == "camera.front_door"
    assert vip.attributes["last_camera_name"] == "Front door"
    entry = er.async_get(hass).async_get(vip.entity_id)
    assert entry is not None
    device = dr.async_get(hass).async_get(entry.device_id or "")
    assert device is not None
    assert "127.0.0.1" not in (device.name or "")


@pytest.mark.parametrize("options", [{"mqtt_topics": [TOPIC]}])
async def test_an_mqtt_topic_source_is_named_for_its_camera(
    hass: HomeAssistant, mqtt_mock: Any, loaded_entry: MockConfigEntry
) -> None:
    state = hass.states.get("sensor.front_door_last_person")
    assert state is not None
    assert state.attributes["friendly_name"] == "Front door Last person"


async def _reload(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()


@pytest.mark.parametrize(
    "options",
    [
        {
            "cameras": ["camera.front_door"],
            "mqtt_topics": [TOPIC],
            "presence_tags": ["VIP", "Straße", "Ægir"],
        }
    ],
)
async def test_entities_of_existing_users_keep_their_unique_and_entity_ids(
    hass: HomeAssistant,
    mqtt_mock: Any,
    cameras: dict[str, Any],
    config_entry: MockConfigEntry,
) -> None:
    """Entities registered by an earlier version, under the names it gave, keep their ids."""
    registry = er.async_get(hass)
    entry_id = config_entry.entry_id
    earlier = {
        naming.subject_unique_id(entry_id, "VIP", naming.TAG_PRESENT): (
            "binary_sensor",
            "econnect_identities_127_0_0_1_vip_present",
        ),
        f"{entry_id.lower()}_tag_present_strae": (  # "Straße", slugged as it always was
            "binary_sensor",
            "econnect_identities_127_0_0_1_strasse_present",
        ),
        naming.camera_unique_id(entry_id, TOPIC, naming.LAST_PERSON): (
            "sensor",
            "frigate_front_door_person_snapshot_last_person",
        ),
        naming.camera_unique_id(entry_id, "camera.front_door", naming.LAST_PERSON): (
            "sensor",
            "front_door_last_person",
        ),
    }
    for unique_id, (domain, object_id) in earlier.items():
        registry.async_get_or_create(
            domain, DOMAIN, unique_id, suggested_object_id=object_id, config_entry=config_entry
        )
    assert await hass.config_entries.async_setup(entry_id)
    await hass.async_block_till_done()
    for _ in range(2):  # as set up, then after a reload
        for unique_id, (domain, object_id) in earlier.items():
            entity_id = registry.async_get_entity_id(domain, DOMAIN, unique_id)
            assert entity_id == f"{domain}.{object_id}"
            assert hass.states.get(entity_id) is not None, entity_id
        await _reload(hass, config_entry)
    new = naming.subject_unique_id(entry_id, "Ægir", naming.TAG_PRESENT)
    assert new.endswith("_gir")  # not registered before: registered now, under its slug
    assert registry.async_get_entity_id("binary_sensor", DOMAIN, new) is not None
    tags = [
        i for i in er.async_entries_for_config_entry(registry, entry_id) if "_tag_" in i.unique_id
    ]
    assert len(tags) == 3
    assert await hass.config_entries.async_unload(entry_id)
    await hass.async_block_till_done()
