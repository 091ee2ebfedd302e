"""Who is here in the integration: *People here* and *Unknown faces here*, per camera and entry.

Recognitions run against the emulator's sample pictures; the presence time is 60 s and
freezegun moves both clocks, so the lists are seen to empty on time, after a reload and after
a restart through Home Assistant's restore storage.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import DEFAULT_OPTIONS, SampleCamera, advance
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant, State
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_mock_restore_state_shutdown_restart,
)

from custom_components.econnect_identities.const import DOMAIN

FRONT_PEOPLE = "sensor.front_door_people_here"
FRONT_UNKNOWN = "sensor.front_door_unknown_faces_here"
GARDEN_PEOPLE = "sensor.garden_people_here"
ALL_PEOPLE = "sensor.econnect_identities_127_0_0_1_people_here"
ALL_UNKNOWN = "sensor.econnect_identities_127_0_0_1_unknown_faces_here"
GROUP = {**DEFAULT_OPTIONS, "largest_face_only": False}


async def recognize(hass: HomeAssistant, camera: str = "camera.front_door") -> None:
    await hass.services.async_call(
        DOMAIN, "recognize", {"camera_entity_id": [camera]}, blocking=True
    )
    await hass.async_block_till_done()


def shown(hass: HomeAssistant, entity_id: str) -> State:
    current = hass.states.get(entity_id)
    assert current is not None, entity_id
    return current


def names(hass: HomeAssistant, entity_id: str) -> list[str]:
    return list(shown(hass, entity_id).attributes["names"])


async def test_nobody_is_here_before_a_recognition(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    for entity_id in (FRONT_PEOPLE, GARDEN_PEOPLE, ALL_PEOPLE):
        assert shown(hass, entity_id).state == "0"
        assert shown(hass, entity_id).attributes["people"] == []
    assert shown(hass, ALL_UNKNOWN).state == "0"


@pytest.mark.parametrize("options", [GROUP])
async def test_two_people_at_once_then_nobody_after_the_window(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    cameras: dict[str, SampleCamera],
    freezer: FrozenDateTimeFactory,
) -> None:
    cameras["camera.front_door"].image = "group.jpg"  # Jane Doe, Bob Smith and a stranger
    await recognize(hass)
    assert shown(hass, FRONT_PEOPLE).state == "2"
    assert sorted(names(hass, FRONT_PEOPLE)) == ["Bob Smith", "Jane Doe"]
    jane = next(p for p in shown(hass, ALL_PEOPLE).attributes["people"] if p["name"] == "Jane Doe")
    assert jane["last_camera"] == "camera.front_door"
    assert jane["last_camera_name"] == "Front door"
    assert set(jane) == {
        "name",
        "person_id",
        "tags",
        "last_camera",
        "last_camera_name",
        "last_seen",
    }
    assert shown(hass, ALL_PEOPLE).state == "2"
    assert shown(hass, GARDEN_PEOPLE).state == "0"
    assert (shown(hass, FRONT_UNKNOWN).state, shown(hass, ALL_UNKNOWN).state) == ("1", "1")

    await advance(hass, 59, freezer)
    assert shown(hass, FRONT_PEOPLE).state == "2"
    await advance(hass, 2, freezer)  # 61 s after the sighting
    for entity_id in (FRONT_PEOPLE, ALL_PEOPLE, FRONT_UNKNOWN, ALL_UNKNOWN):
        assert shown(hass, entity_id).state == "0", entity_id
    assert names(hass, ALL_PEOPLE) == []


async def test_a_person_is_here_at_their_last_camera(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, cameras: dict[str, SampleCamera]
) -> None:
    await recognize(hass)
    assert names(hass, FRONT_PEOPLE) == ["Jane Doe"]
    cameras["camera.garden"].image = "jane.jpg"
    await recognize(hass, "camera.garden")
    assert names(hass, FRONT_PEOPLE) == []
    assert names(hass, GARDEN_PEOPLE) == ["Jane Doe"]
    assert names(hass, ALL_PEOPLE) == ["Jane Doe"]


async def test_a_reload_keeps_the_list_until_the_window_passes(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    await recognize(hass)
    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert names(hass, FRONT_PEOPLE) == ["Jane Doe"]
    assert names(hass, ALL_PEOPLE) == ["Jane Doe"]
    await advance(hass, 61, freezer)
    assert (shown(hass, FRONT_PEOPLE).state, shown(hass, ALL_PEOPLE).state) == ("0", "0")


async def test_a_restart_keeps_the_list_until_the_window_passes(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    await recognize(hass)
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    await async_mock_restore_state_shutdown_restart(hass)
    freezer.tick(timedelta(seconds=30))
    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert names(hass, FRONT_PEOPLE) == ["Jane Doe"]
    assert shown(hass, ALL_PEOPLE).state == "1"
    await advance(hass, 31, freezer)  # 61 s after the sighting
    assert (shown(hass, FRONT_PEOPLE).state, shown(hass, ALL_PEOPLE).state) == ("0", "0")


async def test_a_restart_after_the_window_lists_nobody(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    await recognize(hass)
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    await async_mock_restore_state_shutdown_restart(hass)
    freezer.tick(timedelta(seconds=90))
    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert (shown(hass, FRONT_PEOPLE).state, shown(hass, ALL_PEOPLE).state) == ("0", "0")
