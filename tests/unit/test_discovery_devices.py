"""Device configs: one retained message per device, the same entities as the per-entity configs."""

from __future__ import annotations

import json
import re
from typing import Any

from econnect_bridge.discovery import (
    DiscoveryContext,
    DiscoveryMessage,
    bridge_device,
    camera_device,
    component_removal,
    device_messages,
    device_topic,
    discovery_messages,
    discovery_subscription,
)
from econnect_bridge.messages import topic_matches

CTX = DiscoveryContext(
    cameras=("front_door", "Garage"),
    tags=("VIP", "Staff"),
    persons=("Jane Doe",),
    annotated=True,
)
SHARED = ("device", "origin", "availability", "availability_mode")


def _json(message: DiscoveryMessage) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(message.encode())
    return decoded


def _devices(ctx: DiscoveryContext = CTX) -> dict[str, dict[str, Any]]:
    return {m.topic: _json(m) for m in device_messages(ctx)}


def test_one_config_per_device_the_bridge_first() -> None:
    assert list(_devices()) == [
        "homeassistant/device/econnect/econnect/config",
        "homeassistant/device/econnect/econnect_front_door/config",
        "homeassistant/device/econnect/econnect_garage/config",
    ]
    assert device_topic(CTX, "econnect_garage") == list(_devices())[2]


def test_the_root_holds_what_every_entity_shares() -> None:
    devices = _devices()
    bridge, front, _garage = devices.values()
    assert bridge["device"] == bridge_device(CTX)
    assert front["device"] == camera_device(CTX, "front_door")
    for config in devices.values():
        assert config["origin"] == {"name": "econnect-bridge", "sw_version": "0.1.0"}
        assert config["availability"] == [{"topic": "econnect/bridge/availability"}]
        assert config["availability_mode"] == "all"
        assert config["qos"] == 1
        assert set(config) == {*SHARED, "qos", "components"}


def test_components_are_the_per_entity_configs_without_the_shared_keys() -> None:
    """The same entities, ids and keys as the per-entity configs: nothing lost, nothing added."""
    entities = {_json(m)["unique_id"]: _json(m) for m in discovery_messages(CTX)}
    components: dict[str, dict[str, Any]] = {}
    for topic, config in _devices().items():
        for key, component in config["components"].items():
            assert key == component["unique_id"]
            assert key not in components, key  # each entity in one device only
            components[key] = component
            entity = entities[key]
            assert entity["device"] == config["device"], topic
            platform = entity["default_entity_id"].split(".")[0]
            expected = {k: v for k, v in entity.items() if k not in SHARED}
            assert component == {"platform": platform, **expected}
    assert set(components) == set(entities)


def test_entity_ids_and_unique_ids_are_those_of_the_per_entity_configs() -> None:
    ids = {
        (c["unique_id"], c["object_id"], c["default_entity_id"])
        for config in _devices().values()
        for c in config["components"].values()
    }
    assert ids == {
        (p["unique_id"], p["object_id"], p["default_entity_id"])
        for p in map(_json, discovery_messages(CTX))
    }
    assert ("econnect_front_door_last_person",) * 2 + (
        "sensor.econnect_front_door_last_person",
    ) in ids


def test_device_topics_lie_under_the_bridge_subscription() -> None:
    subscription = discovery_subscription("homeassistant", "econnect")
    for message in [*device_messages(CTX), *discovery_messages(CTX)]:
        assert topic_matches(subscription, message.topic), message.topic
    other = DiscoveryContext(node_id="Side Bridge", cameras=("c",), discovery_prefix="ha/disc")
    assert [m.topic for m in device_messages(other)] == [
        "ha/disc/device/side_bridge/side_bridge/config",
        "ha/disc/device/side_bridge/side_bridge_c/config",
    ]
    topic_level = re.compile(r"^[a-zA-Z0-9_-]+$")  # what Home Assistant accepts in a topic
    assert all(
        topic_level.match(level) for m in device_messages(other) for level in m.topic.split("/")
    )


def test_retained_qos1_unless_asked_and_the_support_url() -> None:
    assert all(m.retain and m.qos == 1 for m in device_messages(CTX))
    ctx = DiscoveryContext(cameras=("c",), retain=False, support_url="https://example.org/x")
    messages = device_messages(ctx)
    assert not any(m.retain for m in messages)
    assert all(_json(m)["origin"]["support_url"] == "https://example.org/x" for m in messages)


def test_the_options_decide_which_components_exist() -> None:
    no_image = DiscoveryContext(cameras=("c",), annotated=False)
    components = [c for m in device_messages(no_image) for c in _json(m)["components"].values()]
    assert not any(c["platform"] == "image" for c in components)
    without_cameras = device_messages(DiscoveryContext())
    assert [m.topic for m in without_cameras] == ["homeassistant/device/econnect/econnect/config"]


def test_a_removed_component_is_its_platform_alone() -> None:
    assert component_removal("binary_sensor") == {"platform": "binary_sensor"}
