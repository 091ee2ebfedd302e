"""What a user sees after the bridge restarts: kill -9 and SIGTERM, inside and past the window.

The bridge runs as its own process against a real Mosquitto and the emulator. Jane is seen
once; the bridge is stopped (killed or terminated) and started again; every retained state is
then read as a dashboard reads it, with a fresh subscriber: presence still inside its window
stays ON and turns OFF on time, presence whose window passed is OFF at once, and the last
person, last camera and last seen are kept, never blanked. *People here* follows presence:
rebuilt from the recovered person states, it lists Jane until her window passes.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.integration.helpers import sample, write_config
from tests.integration.reliability import bridge_process, wait_until
from tests.support.mosquitto import MosquittoBroker

FRONT = "frigate/front_door/person/snapshot"
WINDOW = 6.0  # processing.presence_timeout
PERSON = "econnect/persons/jane_doe/state"
TAG = "econnect/tags/vip/state"
CAMERA = "econnect/cameras/front_door/state"
OTHER_CAMERA = "econnect/cameras/garage/state"
HERE = "econnect/bridge/here"
CAMERA_HERE = "econnect/cameras/front_door/here"


def _config(tmp_path: Path, emulator: Any, broker: MosquittoBroker) -> Path:
    return write_config(
        tmp_path / "config.yaml",
        f"""\
api: {{url: {emulator.url}, username: bridge, password: bridge-password}}
mqtt: {{host: 127.0.0.1, port: {broker.port}}}
frigate: {{enabled: true, cameras: [front_door, garage]}}
homeassistant: {{tags: [VIP], persons: [Jane Doe]}}
processing: {{presence_timeout: {WINDOW}, cooldown: 30}}
""",
    )


def retained(broker: MosquittoBroker, *topics: str) -> dict[str, Any]:
    """Read the retained payloads of `topics` as a newly opened dashboard would."""
    found: dict[str, Any] = {}
    done = threading.Event()
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)

    def on_message(_c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.retain and msg.payload:
            found[msg.topic] = json.loads(msg.payload)
        if set(found) >= set(topics):
            done.set()

    client.on_message = on_message
    client.connect(broker.host, broker.port)
    client.subscribe([(topic, 1) for topic in topics])
    client.loop_start()
    done.wait(5)
    client.disconnect()
    client.loop_stop()
    return found


def _publish(broker: MosquittoBroker, topic: str, payload: bytes) -> None:
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    client.connect(broker.host, broker.port)
    client.loop_start()
    client.publish(topic, payload, qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def _announces(log: Path) -> int:
    return log.read_text().count("Announced") if log.exists() else 0


def _start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start the bridge; return once it has restored its states and announced."""
    earlier = _announces(log)
    process = bridge_process(config, log)
    assert wait_until(lambda: _announces(log) > earlier, 20), log.read_text()
    return process


def _stop(process: subprocess.Popen[bytes], how: signal.Signals) -> None:
    process.send_signal(how)
    process.wait(15)


def _see_jane(broker: MosquittoBroker) -> float:
    """Publish Jane's snapshot; return when her presence was retained ON (monotonic)."""
    _publish(broker, FRONT, sample("jane.jpg"))
    assert wait_until(lambda: retained(broker, PERSON).get(PERSON, {}).get("presence") == "ON", 15)
    return time.monotonic()


def _retained_until(
    broker: MosquittoBroker, done: Callable[[dict[str, Any]], bool], timeout: float = 5.0
) -> dict[str, Any]:
    """Read the retained states as a new dashboard would, until `done` says they are settled."""
    deadline = time.monotonic() + timeout
    while True:
        states = retained(broker, PERSON, TAG, CAMERA, HERE)
        if done(states) or time.monotonic() > deadline:
            return states
        time.sleep(0.1)


def _nobody_here(states: dict[str, Any]) -> bool:
    """Presence OFF everywhere and nobody in *People here*: the restore's whole batch is in."""
    return _presence(states) == ("OFF",) * 3 and states[HERE]["people_count"] == 0


def _presence(states: dict[str, Any]) -> tuple[str, str, str]:
    return (
        states[PERSON]["presence"],
        states[TAG]["presence"],
        states[CAMERA]["known_person"],
    )


def test_kill_9_inside_the_window_keeps_presence_then_turns_it_off_on_time(
    tmp_path: Path, emulator: Any, mosquitto: MosquittoBroker
) -> None:
    config, log = _config(tmp_path, emulator, mosquitto), tmp_path / "bridge.log"
    bridge = _start(config, log)
    try:
        seen = _see_jane(mosquitto)
        before = retained(mosquitto, PERSON, TAG, CAMERA)
        _stop(bridge, signal.SIGKILL)
        bridge = _start(config, log)
        assert time.monotonic() - seen < WINDOW - 1, "the restart took too long for this test"
        after = retained(mosquitto, PERSON, TAG, CAMERA, OTHER_CAMERA, HERE, CAMERA_HERE)
        assert _presence(after) == ("ON", "ON", "ON")  # still inside the window
        assert after[HERE]["names"] == ["Jane Doe"]
        assert after[CAMERA_HERE]["people_count"] == 1
        assert after[CAMERA]["last_person"] == "Jane Doe"
        assert after[PERSON]["last_seen"] == before[PERSON]["last_seen"]
        assert after[OTHER_CAMERA]["last_person"] is None  # never seen: blank, as at a first start
        assert wait_until(
            lambda: _presence(retained(mosquitto, PERSON, TAG, CAMERA)) == ("OFF", "OFF", "OFF"),
            WINDOW + 3,
        )
        off_at = time.monotonic() - seen
        final = retained(mosquitto, PERSON, TAG, CAMERA, HERE, CAMERA_HERE)
    finally:
        _stop(bridge, signal.SIGTERM)
    assert off_at < WINDOW + 3, off_at  # on time, not "until she comes back"
    assert final[CAMERA]["last_person"] == "Jane Doe"
    assert final[PERSON]["last_camera"] == "front_door"
    assert final[PERSON]["last_seen"] == before[PERSON]["last_seen"]
    assert final[TAG]["last_seen"] == before[TAG]["last_seen"]
    assert (final[HERE]["people_count"], final[CAMERA_HERE]["people_count"]) == (0, 0)


def test_sigterm_past_the_window_turns_presence_off_at_once_and_keeps_the_rest(
    tmp_path: Path, emulator: Any, mosquitto: MosquittoBroker
) -> None:
    config, log = _config(tmp_path, emulator, mosquitto), tmp_path / "bridge.log"
    bridge = _start(config, log)
    seen = _see_jane(mosquitto)
    before = retained(mosquitto, PERSON, TAG, CAMERA)
    _stop(bridge, signal.SIGTERM)
    # The bridge is away while the window passes: the retained ON it left is now a lie.
    assert _presence(retained(mosquitto, PERSON, TAG, CAMERA)) == ("ON", "ON", "ON")
    time.sleep(max(0.0, WINDOW + 1 - (time.monotonic() - seen)))
    bridge = _start(config, log)
    try:
        # The reconciled states are published as the restore ends, People here last; a
        # dashboard opened a moment later reads them (a stale ON, or a stale "Jane here",
        # would stay for good, and fail here once the wait is over).
        after = _retained_until(mosquitto, _nobody_here)
    finally:
        _stop(bridge, signal.SIGTERM)
    assert _presence(after) == ("OFF", "OFF", "OFF")
    assert (after[HERE]["people_count"], after[HERE]["names"]) == (0, [])
    assert after[CAMERA]["last_person"] == "Jane Doe"
    assert after[CAMERA]["face_count"] == before[CAMERA]["face_count"]
    assert after[PERSON]["last_camera"] == "front_door"
    assert after[PERSON]["last_seen"] == before[PERSON]["last_seen"]
    assert after[TAG]["last_seen"] == before[TAG]["last_seen"]
