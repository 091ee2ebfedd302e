"""`econnect-bridge demo`: the whole product working on this machine, with no set-up.

It starts an embedded MQTT broker, the engine emulator with its sample gallery, and the bridge
with a Frigate-style configuration; then it publishes the sample snapshots the way Frigate
does and prints every event the bridge sends back. It stops by itself (or on Ctrl-C).
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from econnect_bridge.app import BridgeApp
from econnect_bridge.config import load_config
from econnect_bridge.embedded_broker import EmbeddedBroker
from econnect_bridge.logsetup import setup_logging

SAMPLES = Path(__file__).parent / "emulator" / "samples"
#: (camera, sample image, what the viewer should expect)
SCENARIO = (
    ("front_door", "jane.jpg", "Jane Doe (VIP) at the front door"),
    ("garage", "unknown.jpg", "a stranger in the garage"),
    ("front_door", "no_face.jpg", "someone with their back turned"),
    ("garage", "group.jpg", "three people, largest face only"),
    ("front_door", "bob.png", "Bob Smith (Staff)"),
    ("front_door", "carol.jpg", "Carol White (VIP)"),
    ("front_door", "jane.jpg", "Jane again: no new person event (cooldown)"),
)
CONFIG = """\
api:
  url: {url}
  username: bridge
  password: bridge-password
  time_zone: Europe/Paris
mqtt:
  host: 127.0.0.1
  port: {port}
  protocol: "3.1.1"   # the embedded broker (amqtt) speaks MQTT 3.1.1 only
  base_topic: econnect
frigate:
  enabled: true
  cameras: [front_door, garage]
  labels: [person]
homeassistant:
  tags: [VIP, Staff]
  persons: [Jane Doe]
processing:
  workers: 2
  cooldown: 60
  presence_timeout: 10
logging:
  level: WARNING
"""


def run_demo(*, keep_running: bool = False) -> int:
    """Run the scenario; return 0 when every snapshot produced its event."""
    from econnect_bridge.emulator import Emulator, load_gallery, sample_gallery_path

    setup_logging("WARNING")
    broker = EmbeddedBroker().start()
    emulator = Emulator(gallery=load_gallery(sample_gallery_path()), host="127.0.0.1", port=0)
    emulator.start()
    with tempfile.TemporaryDirectory(prefix="econnect-demo-") as tmp:
        path = Path(tmp) / "config.yaml"
        path.write_text(CONFIG.format(url=emulator.url, port=broker.port))
        app = BridgeApp(load_config(path))
        thread = threading.Thread(target=app.run, name="bridge", daemon=True)
        try:
            return _show(app, thread, broker.port, keep_running)
        except KeyboardInterrupt:
            print("\nStopping.")
            return 0
        finally:
            app.request_stop()
            thread.join(timeout=15)
            emulator.stop()
            broker.stop()


def _show(app: BridgeApp, thread: threading.Thread, port: int, keep_running: bool) -> int:
    _intro(port)
    events: list[dict[str, Any]] = []
    watcher = _watch(port, events)
    thread.start()
    if not app.wait_ready(timeout=10):
        print("The bridge could not connect to the embedded broker.")
        return 1
    publisher = _client(port)
    for camera, image, expect in SCENARIO:
        print(f"\n>>> frigate/{camera}/person/snapshot  ({image}: {expect})")
        before = len(events)
        payload = (SAMPLES / image).read_bytes()
        publisher.publish(f"frigate/{camera}/person/snapshot", payload, qos=1, retain=True)
        _wait_for(lambda before=before: len(events) > before, 10)
        time.sleep(0.6)
    recognitions = sum(1 for e in events if e.get("type") == "recognition")
    print(f"\nDone: {recognitions} of {len(SCENARIO)} snapshots recognised.")
    if keep_running:
        print("Still running (Ctrl-C to stop); publish your own snapshots to try it.")
        while thread.is_alive():
            time.sleep(1)
    publisher.disconnect()
    watcher.disconnect()
    return 0 if recognitions == len(SCENARIO) else 1


def _intro(port: int) -> None:
    print("econnect-bridge demo: embedded MQTT broker, engine emulator and the bridge.")
    print(f"Broker on 127.0.0.1:{port}. To watch everything meanwhile, in another terminal:")
    print(f"  mosquitto_sub -h 127.0.0.1 -p {port} -t 'econnect/#' -t 'homeassistant/#' -v")


def _client(port: int) -> mqtt.Client:
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def _watch(port: int, events: list[dict[str, Any]]) -> mqtt.Client:
    """Subscribe to the bridge's event topics and print each event as it arrives."""
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)

    def on_message(_c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            event = json.loads(msg.payload)
        except ValueError:
            return
        events.append(event)
        print(f"<<< {msg.topic}: {describe(event)}")

    client.on_message = on_message
    client.connect("127.0.0.1", port)
    for topic in ("econnect/events", "econnect/persons/+", "econnect/tags/+", "econnect/errors"):
        client.subscribe(topic, qos=1)
    client.loop_start()
    return client


def describe(event: dict[str, Any]) -> str:
    """Summarise an event in one line."""
    kind = event.get("type")
    if kind == "recognition":
        who = ", ".join(event["persons"]) or "nobody known"
        return f"{event['outcome']} on {event['camera']}: {event['face_count']} face(s), {who}"
    if kind in ("person_seen", "tag_seen"):
        person = (event.get("person") or {}).get("name", "?")
        tag = f" [{event['tag']}]" if event.get("tag") else ""
        return f"{person}{tag} seen on {event['camera']}"
    return f"{event.get('code')}: {event.get('message')}"


def _wait_for(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False
