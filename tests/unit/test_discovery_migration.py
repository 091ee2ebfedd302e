"""The migration decision: what the broker's retained configs call for at start."""

from __future__ import annotations

import json
from typing import Any

from econnect_bridge.discovery import (
    DiscoveryContext,
    DiscoveryMessage,
    device_messages,
    device_topic,
    discovery_messages,
)
from econnect_bridge.discovery_migration import (
    MIGRATE_PAYLOAD,
    Plan,
    entity_topic,
    plan,
    topic_component,
)

CTX = DiscoveryContext(
    cameras=("front_door", "Garage"), tags=("VIP",), persons=("Jane Doe",), annotated=True
)
FRONT_ONLY = DiscoveryContext(
    cameras=("front_door",), tags=("VIP",), persons=("Jane Doe",), annotated=True
)


def _retained(messages: list[DiscoveryMessage]) -> dict[str, bytes]:
    return {m.topic: m.encode() for m in messages}


def _after(retained: dict[str, bytes], steps: Plan) -> dict[str, bytes]:
    """What the broker retains once a plan's messages are published."""
    state = dict(retained)
    for message in (*steps.removals, *steps.migrations, *steps.devices, *steps.cleanups):
        if message.encode():
            state[message.topic] = message.encode()
        else:
            state.pop(message.topic, None)
    return state


def _components(message: DiscoveryMessage) -> dict[str, dict[str, Any]]:
    decoded: dict[str, dict[str, Any]] = json.loads(message.encode())["components"]
    return decoded


def test_nothing_retained_means_device_configs_only_and_no_pause() -> None:
    devices = device_messages(CTX)
    steps = plan({}, devices, prune=True)
    assert steps == Plan(devices=tuple(devices), waiting={})
    assert not steps.pause


def test_an_older_versions_configs_are_migrated_then_cleared() -> None:
    old = _retained(discovery_messages(CTX))
    steps = plan(old, device_messages(CTX), prune=True)
    assert steps.removals == ()
    assert [m.topic for m in steps.migrations] == sorted(old)
    assert all(m.payload == MIGRATE_PAYLOAD and m.retain for m in steps.migrations)
    assert json.loads(steps.migrations[0].encode()) == {"migrate_discovery": True}
    assert steps.pause
    assert [m.topic for m in steps.devices] == [m.topic for m in device_messages(CTX)]
    assert [m.topic for m in steps.cleanups] == sorted(old)
    assert all(m.encode() == b"" and m.retain for m in steps.cleanups)
    assert sorted(_after(old, steps)) == sorted(m.topic for m in device_messages(CTX))


def test_the_old_topic_of_each_component_is_the_one_the_older_version_used() -> None:
    old = {m.topic for m in discovery_messages(CTX)}
    derived = {
        entity_topic(device.topic, component["platform"], unique_id)
        for device in device_messages(CTX)
        for unique_id, component in _components(device).items()
    }
    assert derived == old
    assert topic_component("homeassistant/device/econnect/econnect/config") == "device"
    assert topic_component("ha/x/sensor/econnect/econnect_errors/config") == "sensor"


def test_a_camera_dropped_since_the_older_version_is_removed_not_migrated() -> None:
    old = _retained(discovery_messages(CTX))
    steps = plan(old, device_messages(FRONT_ONLY), prune=True)
    removed = [m.topic for m in steps.removals]
    assert removed
    assert all("_garage_" in topic for topic in removed)
    assert all(m.encode() == b"" for m in steps.removals)
    assert not any("_garage_" in m.topic for m in (*steps.migrations, *steps.cleanups))
    assert len(removed) + len(steps.migrations) == len(old)


def test_a_dropped_camera_device_is_emptied_and_a_dropped_tag_leaves_its_platform() -> None:
    before = _retained(device_messages(CTX))
    now = DiscoveryContext(cameras=("front_door",), persons=("Jane Doe",), annotated=False)
    steps = plan(before, device_messages(now), prune=True)
    assert not steps.pause
    assert steps.migrations == ()
    assert steps.cleanups == ()
    by_topic = {m.topic: m for m in steps.devices}
    assert by_topic[device_topic(CTX, "econnect_garage")].encode() == b""
    front = _components(by_topic[device_topic(CTX, "econnect_front_door")])
    assert front["econnect_front_door_tag_present_vip"] == {"platform": "binary_sensor"}
    assert front["econnect_front_door_annotated"] == {"platform": "image"}
    bridge = _components(by_topic[device_topic(CTX, "econnect")])
    assert bridge["econnect_tag_present_vip"] == {"platform": "binary_sensor"}
    assert bridge["econnect_tag_last_camera_vip"] == {"platform": "sensor"}
    assert bridge["econnect_person_present_jane_doe"]["name"] == "Jane Doe present"


def test_removal_entries_are_sent_once() -> None:
    before = _retained(device_messages(CTX))
    now = device_messages(DiscoveryContext(cameras=CTX.cameras, annotated=True))
    first = plan(before, now, prune=True)
    second = plan(_after(before, first), now, prune=True)
    assert [m.encode() for m in second.devices] == [m.encode() for m in now]


def test_while_cameras_may_appear_unknown_ones_wait_instead_of_going() -> None:
    old = _retained([*discovery_messages(CTX), *device_messages(CTX)])
    steps = plan(old, device_messages(FRONT_ONLY), prune=False)
    assert steps.removals == ()
    assert not any(m.encode() == b"" for m in steps.devices)  # the Garage device stays
    waiting = steps.waiting or {}
    assert waiting
    assert all("_garage_" in topic for topic in waiting)
    later = plan(waiting, device_messages(CTX), prune=False)
    assert sorted(m.topic for m in later.migrations) == sorted(waiting)
    assert later.waiting == {}


def test_an_unreadable_retained_device_config_is_replaced() -> None:
    topic = device_topic(CTX, "econnect")
    devices = device_messages(CTX)
    for junk in (b"not json", b"[]", b'{"components": "x"}'):
        steps = plan({topic: junk}, devices, prune=True)
        assert steps.devices == tuple(devices)
