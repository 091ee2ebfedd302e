"""What the bridge sends per result: one event and the states that result changed.

Every message costs CPU on paho's only thread, and each QoS 1 one an acknowledgement too
(docs/performance.md). A person seen again within the cooldown is one event, the camera's
state and the person's and tags' states, all at `mqtt.qos`: no visit, no sighting, and no
*here* state that did not change.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.integration.helpers import base_config, running_bridge, sample, write_config
from tests.support.mosquitto import MosquittoBroker

pytestmark = pytest.mark.integration
FRONT = "frigate/front_door/person/snapshot"


def wait_until(condition: Any, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class QosProbe:
    """Records each message's topic and QoS (a QoS 1 subscription keeps the sender's)."""

    def __init__(self, broker: MosquittoBroker) -> None:
        self.messages: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        self._client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
        self._client.on_message = self._record
        self._client.connect(*broker.address)
        self._client.subscribe("econnect/#", qos=1)
        self._client.loop_start()

    def _record(self, _client: Any, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, msg.qos))

    def since(self, start: int) -> list[tuple[str, int]]:
        with self._lock:
            return self.messages[start:]

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def test_a_repeated_result_is_one_event_and_its_states(
    tmp_path: Path, emulator: Any, mosquitto: MosquittoBroker
) -> None:
    """The second sighting of a person (within the cooldown) is one event and a few states."""
    probe = QosProbe(mosquitto)
    config = write_config(tmp_path / "config.yaml", base_config(emulator.url, mosquitto.port))
    try:
        with running_bridge(config):
            # the start-up states (every camera, person and tag) are out before the first result
            assert wait_until(lambda: ("econnect/cameras/garage/state", 1) in probe.since(0))
            snapshots = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
            snapshots.connect(*mosquitto.address)
            snapshots.loop_start()
            for events in (1, 2):
                start = len(probe.since(0))
                snapshots.publish(FRONT, sample("jane.jpg"), qos=1).wait_for_publish(5)
                assert wait_until(
                    lambda n=events: sum(t == "econnect/events" for t, _ in probe.since(0)) >= n
                )
                time.sleep(0.5)  # the result's states follow its event
            snapshots.disconnect()
            snapshots.loop_stop()
            second = [m for m in probe.since(start) if not m[0].startswith("econnect/bridge/")]
    finally:
        probe.stop()
    topics = sorted(topic for topic, _qos in second)
    assert topics == [
        "econnect/cameras/front_door/here",  # its list carries her last sighting
        "econnect/cameras/front_door/state",
        "econnect/events",
        "econnect/persons/jane_doe/state",
        "econnect/tags/family/state",
        "econnect/tags/vip/state",
    ], second
    assert all(qos == 1 for _topic, qos in second)  # mqtt.qos, the default
