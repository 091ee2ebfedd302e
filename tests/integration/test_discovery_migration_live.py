"""Upgrading on a real broker: an older bridge's per-entity configs become device configs.

Mosquitto starts with the retained single-component configs an older version left (for the
configured cameras and for one camera since removed). After this bridge's first start the
broker must retain the device configs and none of the old configs; each old config of a kept
entity must have been switched to migration mode before the device configs came, and emptied
after them; the removed camera's configs emptied, never migrated. A second start publishes no
migration request and empties nothing.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from econnect_bridge.app import discovery_context
from econnect_bridge.config import load_config
from econnect_bridge.discovery import discovery_messages
from econnect_identities.naming import CameraSlugs
from tests.integration.helpers import Probe, base_config, running_bridge, write_config
from tests.support.mosquitto import MosquittoBroker

pytestmark = pytest.mark.integration
BRIDGE = "homeassistant/device/econnect/econnect/config"
DEVICES = {
    BRIDGE,
    "homeassistant/device/econnect/econnect_front_door/config",
    "homeassistant/device/econnect/econnect_garage/config",
}
MIGRATE = {"migrate_discovery": True}


def _retained(broker: MosquittoBroker, topic_filter: str = "homeassistant/#") -> dict[str, bytes]:
    """What the broker retains under `topic_filter`, as a new subscriber receives it."""
    found: dict[str, bytes] = {}
    lock = threading.Lock()
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)

    def on_message(_c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.retain:
            with lock:
                found[msg.topic] = bytes(msg.payload)

    client.on_message = on_message
    client.connect(broker.host, broker.port)
    client.subscribe(topic_filter, qos=1)
    client.loop_start()
    time.sleep(1.0)  # retained messages come at once after the subscription
    client.disconnect()
    client.loop_stop()
    with lock:
        return dict(found)


def _wait(condition: Any, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_first_start_migrates_the_old_configs_and_a_second_start_does_not(
    tmp_path: Path, emulator: Any, mosquitto: MosquittoBroker, probe: Probe
) -> None:
    config_path = write_config(tmp_path / "config.yaml", base_config(emulator.url, mosquitto.port))
    ctx = discovery_context(load_config(config_path), CameraSlugs())
    kept = {m.topic: m.encode() for m in discovery_messages(ctx)}
    dropped_ctx = replace(ctx, cameras=("old_cam",), slugs=CameraSlugs())
    dropped = {
        m.topic: m.encode() for m in discovery_messages(dropped_ctx) if "_old_cam_" in m.topic
    }
    assert kept
    assert dropped
    for topic, payload in {**kept, **dropped}.items():
        probe.publish(topic, payload, retain=True)
    assert set(_retained(mosquitto)) == {*kept, *dropped}
    probe.clear()  # from here on, what the bridge publishes

    with running_bridge(config_path):
        assert _wait(lambda: not (set(_retained(mosquitto)) & {*kept, *dropped}), 30), (
            "the old configs are still retained"
        )
    retained = _retained(mosquitto)
    assert set(retained) == DEVICES
    bridge = json.loads(retained[BRIDGE])
    assert {"econnect_api_reachable", "econnect_person_present_jane_doe"} <= set(
        bridge["components"]
    )

    ours = [m for m in probe.messages if m.topic.startswith("homeassistant/") and not m.retain]
    order = [m.topic for m in ours]
    first_device = min(order.index(topic) for topic in DEVICES)
    for topic in kept:
        sent = [m.payload for m in ours if m.topic == topic]
        assert [json.loads(sent[0]), sent[1]] == [MIGRATE, b""], topic
        migrate_at = order.index(topic)
        assert migrate_at < first_device, topic  # migration mode before the device configs
        assert len(order) - 1 - order[::-1].index(topic) > first_device  # emptied after them
    for topic in dropped:
        assert [m.payload for m in ours if m.topic == topic] == [b""], topic

    probe.clear()
    with running_bridge(config_path):
        assert _wait(lambda: {m.topic for m in probe.messages} >= DEVICES), "no device configs"
        time.sleep(1.0)
    again = [m for m in probe.messages if m.topic.startswith("homeassistant/") and not m.retain]
    assert {m.topic for m in again} == DEVICES
    assert all(m.payload and b"migrate_discovery" not in m.payload for m in again)
    assert set(_retained(mosquitto)) == DEVICES
