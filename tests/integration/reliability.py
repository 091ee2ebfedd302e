"""Shared by the reliability, security and fuzz tests: figures for docs/reliability.md.

Each test asks for the `figures` fixture (import it into the test module), fills the dict it
yields, and the fixture writes it (with the test's outcome and duration) into
`benchmarks/results/reliability/figures.json` (git-ignored; `RELIABILITY_RESULTS` overrides the
folder). `scripts/reliability_report.py` renders docs/reliability.md from that file.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(os.environ.get("RELIABILITY_RESULTS", ROOT / "benchmarks/results/reliability"))
FIGURES = RESULTS / "figures.json"


def save_figures(test_id: str, entry: dict[str, Any]) -> None:
    """Merge one test's figures into the results file (safe across processes)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    lock_path = RESULTS / ".lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            data = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
        except ValueError:
            data = {}
        data[test_id] = entry
        tmp = FIGURES.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))
        tmp.replace(FIGURES)


def acked(info: mqtt.MQTTMessageInfo) -> bool:
    """Whether the broker acknowledged a QoS 1 message, even one queued while disconnected.

    (`is_published()` raises for messages first queued with no connection, even once sent.)
    """
    return bool(info._published)


def passed(data: dict[str, Any]) -> None:
    """Mark the figures as coming from a test that passed every assertion."""
    data["_passed"] = True


class Feed:
    """A QoS 1 publisher that keeps publishing through broker restarts (paho queues)."""

    def __init__(self, host: str, port: int, client_id: str = "reliability-feed") -> None:
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
        )
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(0.1, 0.5)
        self.infos: list[tuple[str, mqtt.MQTTMessageInfo]] = []
        self.client.connect(host, port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes, key: str, *, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        self.infos.append((key, info))

    def acked(self) -> set[str]:
        return {key for key, info in self.infos if acked(info)}

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class PersistentProbe:
    """A subscriber with a persistent session (QoS 1), recording every message."""

    def __init__(
        self,
        host: str,
        port: int,
        filters: tuple[str, ...],
        client_id: str,
        *,
        username: str | None = None,
        password: str | None = None,
        ca_file: Path | None = None,
    ) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
        )
        if username:
            self.client.username_pw_set(username, password)
        if ca_file:
            self.client.tls_set(ca_certs=str(ca_file))
        self.client.reconnect_delay_set(0.1, 0.5)
        filters_qos = [(f, 1) for f in filters]
        subscribed = threading.Event()

        def on_connect(client: mqtt.Client, *_args: Any) -> None:
            client.subscribe(filters_qos)

        def on_message(_c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
            with self._lock:
                self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))

        self.client.on_connect = on_connect
        self.client.on_message = on_message
        self.client.on_subscribe = lambda *_a: subscribed.set()
        self.client.connect(host, port)
        self.client.loop_start()
        assert subscribed.wait(5)

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def on(self, topic: str) -> list[tuple[str, bytes, bool]]:
        with self._lock:
            return [m for m in self.messages if m[0] == topic]

    def on_suffix(self, suffix: str) -> list[tuple[str, bytes, bool]]:
        with self._lock:
            return [m for m in self.messages if m[0].endswith(suffix)]

    def json_on(self, topic: str) -> list[Any]:
        return [json.loads(m[1]) for m in self.on(topic)]

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_until(predicate: Any, timeout: float, step: float = 0.05) -> bool:
    """Poll `predicate` until true or `timeout`; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(step)


def bridge_process(config: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start `python -m econnect_bridge run -c config` with its output in `log`."""
    out = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "econnect_bridge", "run", "-c", str(config)],
        cwd=ROOT,
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def wait_for_bridge(log: Path, timeout: float = 20.0) -> None:
    """Wait until a bridge process logging to `log` is connected, subscribed and settled.

    "Recovered ... retained state(s)" is logged once the first settle time after connecting
    has passed, so its subscriptions are acknowledged and its first states are out.
    """
    assert wait_until(lambda: "retained state(s) from the broker" in log.read_text(), timeout), (
        log.read_text()
    )


def feed_config(
    emulator_url: str, port: int, extra: str = "", *, client_id: str = "reliability-bridge"
) -> str:
    """A bridge fed on `feed/{camera}` with JSON snapshots whose `t` (epoch s) identifies each.

    The event's `detect_time` is that `t`, so a test can tell which snapshot a result is for.
    """
    return f"""\
api:
  url: {emulator_url}
  username: bridge
  password: bridge-password
  time_zone: UTC
mqtt:
  host: 127.0.0.1
  port: {port}
  base_topic: econnect
  client_id: {client_id}
  keepalive: 5
cameras:
  - name: feed
    topic: feed/{{camera}}
    payload: json
    json_time_key: t
processing:
  workers: 4
  cooldown: 0
  allow_double_detection: true
  presence_timeout: 2
{extra}"""


T0 = 1_700_000_000


def feed_payload(image_b64: str, index: int) -> bytes:
    """A JSON snapshot whose detect time `T0 + index` identifies it."""
    return json.dumps({"image": image_b64, "t": T0 + index}).encode()


def index_of(event: dict[str, Any]) -> int:
    """Return the feed index a recognition event is for (from its detect_time)."""
    moment = datetime.fromisoformat(event["detect_time"].replace("Z", "+00:00"))
    return round(moment.timestamp()) - T0
