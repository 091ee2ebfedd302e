"""Upgrading the bridge: Home Assistant moves from per-entity configs to device configs.

Home Assistant's real MQTT integration first receives what an older bridge left on the broker
(one retained single-component config per entity, and states), then exactly what this
bridge's announcer publishes at its first start (`DiscoveryAnnouncer` fed the retained
configs), with its pause honoured. A user must see the same entities afterwards: same entity
ids and unique ids, the same registry entries (id and creation time), no duplicate, states that
keep updating, history under the same entity id, nothing logged as a problem; and a camera
dropped from the configuration meanwhile must be gone. Runs on 2025.4.4 (harness venv) and on
the newest release (`ha-newest`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from homeassistant.components.recorder import get_instance
from homeassistant.components.recorder.history import get_significant_states
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_fire_mqtt_message
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from econnect_bridge.announcer import DiscoveryAnnouncer
from econnect_bridge.discovery import DiscoveryContext, discovery_messages
from econnect_bridge.messages import Incoming
from econnect_bridge.states import CameraState, Topics, camera_state_payload, encode

OLD = DiscoveryContext(
    cameras=("front_door", "Garage"), tags=("VIP",), persons=("Jane Doe",), annotated=True
)
NEW = DiscoveryContext(
    cameras=("front_door",), tags=("VIP",), persons=("Jane Doe",), annotated=True
)
TOPICS = Topics(OLD.base_topic)
SEEN = datetime(2025, 5, 1, 12, 0, 0, tzinfo=UTC)
FACE_COUNT = "sensor.econnect_front_door_face_count"
PAUSE = "pause"

Setup = Callable[[], Awaitable[Any]]
Sent = tuple[str, bytes] | str

_IGNORED_LOGGERS = frozenset({"aiohttp_fast_zlib", "asyncio"})
_IGNORED_TEXTS = (
    "We found a custom integration",
    # HA 2025.4 reports its own MQTT integration when discovery brings several new platforms
    # at once (a race between its own platform set-ups, whatever the payloads).
    "calls async_forward_entry_setups for integration mqtt",
)


class Broker:
    """What the announcer publishes, in order, and the retained configs that leaves behind."""

    def __init__(self, retained: dict[str, bytes]) -> None:
        self.retained = dict(retained)
        self.sent: list[Sent] = []

    def publish(
        self, topic: str, payload: bytes | str, *, retain: bool = False, qos: int | None = None
    ) -> bool:
        data = payload.encode() if isinstance(payload, str) else payload
        self.sent.append((topic, data))
        if retain and data:
            self.retained[topic] = data
        elif retain:
            self.retained.pop(topic, None)
        return True

    def pause(self, _seconds: float) -> None:
        self.sent.append(PAUSE)


def _start_bridge(ctx: DiscoveryContext, retained: dict[str, bytes]) -> Broker:
    """One start of this bridge's announcer against a broker holding `retained`."""
    broker = Broker(retained)
    announcer = DiscoveryAnnouncer(
        context=ctx,
        publisher=broker,
        first_states=lambda _cameras: None,
        dynamic=False,
        sleep=broker.pause,
    )
    for topic, payload in retained.items():
        announcer.note_retained(Incoming(topic, payload, retain=True, qos=1))
    announcer.announce()
    return broker


async def _deliver(hass: HomeAssistant, sent: list[Sent]) -> None:
    """Deliver live publishes to Home Assistant; let it work through them at each pause."""
    for item in sent:
        if item == PAUSE:
            await hass.async_block_till_done()
            continue
        topic, payload = item
        async_fire_mqtt_message(hass, topic, payload, qos=1, retain=False)
    await hass.async_block_till_done()
    # A broker replays its retained messages to the entities' new subscriptions (the harness's
    # mocked client does not): the bridge's availability.
    async_fire_mqtt_message(hass, TOPICS.availability(), b"online", qos=1, retain=True)
    await hass.async_block_till_done()


def _problems(caplog: pytest.LogCaptureFixture) -> list[str]:
    records = [*caplog.get_records("setup"), *caplog.get_records("call")]
    return [
        f"{record.levelname} {record.name}: {record.getMessage()}"
        for record in records
        if record.name not in _IGNORED_LOGGERS
        and not any(text in record.getMessage() for text in _IGNORED_TEXTS)
        and (record.levelno >= logging.WARNING or "deprecat" in record.getMessage().lower())
    ]


def _entity_ids(ctx: DiscoveryContext) -> set[str]:
    return {str(dict(m.payload)["default_entity_id"]) for m in discovery_messages(ctx)}


def _registry(hass: HomeAssistant) -> dict[str, tuple[str, str, datetime]]:
    """Each MQTT entity of the registry: entity id → (registry id, unique id, created at)."""
    return {
        entry.entity_id: (entry.id, entry.unique_id, entry.created_at)
        for entry in er.async_get(hass).entities.values()
        if entry.platform == "mqtt"
    }


def _face_count(count: int) -> bytes:
    state = CameraState(camera="front_door", time=SEEN, face_count=count, last_seen=SEEN)
    return encode(camera_state_payload(state))


@pytest.fixture
def mock_recorder_before_hass(async_test_recorder: Any) -> None:
    """Prepare the recorder's database before Home Assistant starts (the harness's hook)."""


@pytest.fixture
def expected_lingering_timers() -> bool:
    """The mocked paho client never closes its socket: MQTT's misc timer outlives the test."""
    return True


@pytest.fixture
async def older_bridge(
    recorder_mock: Any,
    hass: HomeAssistant,
    mock_hass_config: None,
    mqtt_mock_entry: Setup,
    caplog: pytest.LogCaptureFixture,
) -> AsyncIterator[dict[str, bytes]]:
    """Home Assistant running on an older bridge's per-entity configs; yields the broker's."""
    caplog.set_level(logging.INFO)
    await mqtt_mock_entry()
    retained = {m.topic: m.encode() for m in discovery_messages(OLD)}
    for topic, payload in retained.items():  # one at a time, as the older bridge had them
        async_fire_mqtt_message(hass, topic, payload, qos=1, retain=True)
        await hass.async_block_till_done()
    async_fire_mqtt_message(hass, TOPICS.availability(), b"online", qos=1, retain=True)
    async_fire_mqtt_message(hass, TOPICS.camera_state("front_door"), _face_count(2), qos=1)
    await hass.async_block_till_done()
    yield retained
    for entry in hass.config_entries.async_entries("mqtt"):
        await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_upgrade_keeps_every_entity_and_removes_the_dropped_camera(
    recorder_mock: Any,
    hass: HomeAssistant,
    older_bridge: dict[str, bytes],
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = _registry(hass)
    assert set(before) == _entity_ids(OLD)
    assert hass.states.get(FACE_COUNT).state == "2"  # type: ignore[union-attr]
    await async_wait_recording_done(hass)
    garage_entry = er.async_get(hass).async_get("sensor.econnect_garage_face_count")
    assert garage_entry is not None
    garage_device = garage_entry.device_id

    broker = _start_bridge(NEW, older_bridge)
    await _deliver(hass, broker.sent)

    after = _registry(hass)
    kept = _entity_ids(NEW)
    assert set(after) == kept  # no duplicate (`_2`), no leftover of the dropped camera
    for entity_id in kept:
        assert after[entity_id] == before[entity_id], entity_id  # same entry, id, created_at
    registry = er.async_get(hass)
    for entity_id in kept:
        entry = registry.async_get(entity_id)
        assert entry is not None
        if entry.disabled_by is None:
            assert hass.states.get(entity_id) is not None, entity_id
    assert hass.states.get("sensor.econnect_garage_face_count") is None
    assert dr.async_get(hass).async_get(str(garage_device)) is None
    # The broker keeps the device configs only; no per-entity config is left.
    assert sorted(broker.retained) == [
        "homeassistant/device/econnect/econnect/config",
        "homeassistant/device/econnect/econnect_front_door/config",
    ]

    async_fire_mqtt_message(hass, TOPICS.camera_state("front_door"), _face_count(3), qos=1)
    await hass.async_block_till_done()
    assert hass.states.get(FACE_COUNT).state == "3"  # type: ignore[union-attr]
    await async_wait_recording_done(hass)
    history = await get_instance(hass).async_add_executor_job(
        get_significant_states,
        hass,
        dt_util.utcnow() - timedelta(hours=1),
        None,
        [FACE_COUNT],
    )
    recorded = [state.state for state in history[FACE_COUNT]]
    assert "2" in recorded  # before the upgrade, under the same entity id
    assert recorded[-1] == "3"
    assert _problems(caplog) == []


async def test_a_second_start_sends_the_device_configs_only(
    recorder_mock: Any,
    hass: HomeAssistant,
    older_bridge: dict[str, bytes],
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = _start_bridge(NEW, older_bridge)
    await _deliver(hass, first.sent)
    before = _registry(hass)

    second = _start_bridge(NEW, first.retained)
    assert PAUSE not in second.sent
    assert all(payload and b"migrate_discovery" not in payload for _, payload in second.sent)  # type: ignore[misc]
    assert [topic for topic, _ in second.sent] == sorted(first.retained)  # type: ignore[misc]
    await _deliver(hass, second.sent)
    assert _registry(hass) == before
    assert _problems(caplog) == []
