"""MQTT snapshot topics, read through Home Assistant's own MQTT integration."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import SAMPLES, EmulatorProcess
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_mqtt_message,
)

TOPIC = "frigate/front/snapshot"
LAST_PERSON = "sensor.frigate_front_snapshot_last_person"


@pytest.fixture
def expected_lingering_timers() -> bool:
    """HA's MQTT client keeps a housekeeping timer past the test; it is not ours."""
    return True


@pytest.mark.parametrize("options", [{"mqtt_topics": [TOPIC]}])
async def test_snapshot_topic_is_recognised(
    hass: HomeAssistant, mqtt_mock: Any, loaded_entry: MockConfigEntry
) -> None:
    async_fire_mqtt_message(hass, TOPIC, (SAMPLES / "jane.jpg").read_bytes(), retain=True)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(LAST_PERSON).state == "unknown"  # retained: old news
    async_fire_mqtt_message(hass, TOPIC, (SAMPLES / "jane.jpg").read_bytes())
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(LAST_PERSON).state == "Jane Doe"


@pytest.mark.parametrize("options", [{"mqtt_topics": [TOPIC]}])
async def test_snapshot_failure_is_logged(
    hass: HomeAssistant,
    mqtt_mock: Any,
    emulator: EmulatorProcess,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator.admin("faults", {"error_rate": 1.0})
    async_fire_mqtt_message(hass, TOPIC, (SAMPLES / "jane.jpg").read_bytes())
    await hass.async_block_till_done(wait_background_tasks=True)
    assert f"Recognition of a snapshot on {TOPIC} failed" in caplog.text


@pytest.mark.parametrize("options", [{"mqtt_topics": [TOPIC]}])
async def test_topics_ignored_without_mqtt(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """Without MQTT set up the entry still loads; the topic's entities just stay empty."""
    assert hass.states.get(LAST_PERSON).state == "unknown"
