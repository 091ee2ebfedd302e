"""MQTT snapshot topics, read through Home Assistant's own MQTT integration."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from conftest import SAMPLES, EmulatorProcess
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_mqtt_message,
)

TOPIC = "frigate/front/snapshot"
# The topic's device is named for its camera ("Front"), not for the whole topic.
LAST_PERSON = "sensor.front_last_person"
FACE_COUNT = "sensor.front_face_count"
JANE_B64 = base64.b64encode((SAMPLES / "jane.jpg").read_bytes()).decode("ascii")
JANE_URI = f"data:image/jpeg;base64,{JANE_B64}"


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
@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(json.dumps({"image": JANE_B64}).encode(), id="json_base64"),
        pytest.param(JANE_URI.encode(), id="data_uri"),
        pytest.param(json.dumps({"image": JANE_URI}).encode(), id="json_data_uri"),
    ],
)
async def test_encoded_snapshots_are_recognised(
    hass: HomeAssistant,
    mqtt_mock: Any,
    loaded_entry: MockConfigEntry,
    payload: bytes,
) -> None:
    """Payloads the bridge decodes (JSON with base64, data URIs) work here too."""
    async_fire_mqtt_message(hass, TOPIC, payload)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(LAST_PERSON).state == "Jane Doe"
    assert hass.states.get(FACE_COUNT).state == "1"


@pytest.mark.parametrize("options", [{"mqtt_topics": [TOPIC]}])
@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"GIF89a not a snapshot", "unsupported_payload"),
        (b'{"picture": "abc"}', "missing_image"),
        (b'{"image": "not base64!"}', "bad_base64"),
        (b"data:image/jpeg,raw", "bad_data_uri"),
    ],
)
async def test_undecodable_snapshots_are_logged_and_not_sent(
    hass: HomeAssistant,
    mqtt_mock: Any,
    emulator: EmulatorProcess,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    payload: bytes,
    code: str,
) -> None:
    """A payload that holds no image is named in the log with the bridge's error code."""
    async_fire_mqtt_message(hass, TOPIC, payload)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert f"Snapshot on {TOPIC} ignored ({code})" in caplog.text
    assert hass.states.get(LAST_PERSON).state == "unknown"
    stats = emulator.stats()
    assert stats["recent_detections"] == []
    assert set(stats["requests"]) == {"admin", "authenticate", "renewToken"}


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
