"""Helpers for end-to-end tests: an MQTT probe that records everything, and a bridge runner."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from econnect_bridge.app import BridgeApp
from econnect_bridge.config import load_config
from tests.support.device_discovery import announced, entries, is_device_config

SAMPLES = (
    Path(__file__).resolve().parents[2] / "bridge" / "econnect_bridge" / "emulator" / "samples"
)


def sample(name: str) -> bytes:
    """Return the bytes of a sample image shipped with the emulator."""
    return (SAMPLES / name).read_bytes()


@dataclass
class Received:
    """One message as a subscriber saw it."""

    topic: str
    payload: bytes
    retain: bool

    def json(self) -> Any:
        """Decode the payload as JSON."""
        return json.loads(self.payload)


@dataclass
class Probe:
    """An MQTT client that subscribes to filters and records every message."""

    host: str
    port: int
    filters: tuple[str, ...] = ("#",)
    messages: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _client: mqtt.Client | None = None

    def start(self) -> Probe:
        client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
        subscribed = threading.Event()

        def on_message(_c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
            with self._lock:
                self.messages.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain)))

        client.on_message = on_message
        client.on_subscribe = lambda *_args: subscribed.set()
        client.connect(self.host, self.port)
        client.subscribe([(f, 1) for f in self.filters])
        client.loop_start()
        assert subscribed.wait(5), "probe could not subscribe"
        self._client = client
        return self

    def publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> None:
        assert self._client is not None
        self._client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def stop(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()

    def on(self, topic: str) -> list[Received]:
        """Return the messages received on exactly `topic`."""
        with self._lock:
            return [m for m in self.messages if m.topic == topic]

    def matching(self, predicate: Callable[[Received], bool]) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if predicate(m)]

    def wait_for(
        self,
        topic: str,
        count: int = 1,
        timeout: float = 10.0,
        where: Callable[[Any], bool] | None = None,
    ) -> list[Received]:
        """Wait until `count` messages on `topic` (matching `where` on their JSON) arrived."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.on(topic) if where is None or where(m.json())]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()


def announced_entities(probe: Probe) -> dict[str, dict[str, Any]]:
    """The entities the device configs the probe saw announce now, by unique id."""
    return announced((m.topic, m.payload) for m in probe.matching(lambda m: True))


def wait_for_entity(
    probe: Probe, unique_id: str, count: int = 1, timeout: float = 10.0
) -> list[dict[str, Any]]:
    """Wait until `count` device configs announced the entity `unique_id`.

    Return the entity's entries (platform, topics, templates), oldest first; fewer than
    `count` if the time ran out.
    """
    deadline = time.monotonic() + timeout
    while True:
        found = [
            entry
            for message in probe.matching(lambda m: is_device_config(m.topic))
            for key, entry in entries(message.payload).items()
            if key == unique_id
        ]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def write_config(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@contextmanager
def running_bridge(config_path: Path, timeout: float = 10.0) -> Iterator[BridgeApp]:
    """Run a bridge in a thread until the block ends; yield it once subscribed."""
    app = BridgeApp(load_config(config_path))
    thread = threading.Thread(target=app.run, name="bridge-under-test", daemon=True)
    thread.start()
    try:
        assert app.wait_ready(timeout), "the bridge did not connect and subscribe in time"
        yield app
    finally:
        app.request_stop()
        thread.join(timeout=15)
        assert not thread.is_alive(), "the bridge did not stop"


def base_config(emulator_url: str, broker_port: int, extra: str = "") -> str:
    """A configuration for tests: Frigate preset on two cameras, short timers."""
    return f"""\
api:
  url: {emulator_url}
  username: bridge
  password: bridge-password
  time_zone: Europe/Paris
mqtt:
  host: 127.0.0.1
  port: {broker_port}
  base_topic: econnect
frigate:
  enabled: true
  cameras: [front_door, garage]
homeassistant:
  tags: [VIP]
  persons: [Jane Doe]
processing:
  workers: 4
  cooldown: 30
  presence_timeout: 2
{extra}"""
