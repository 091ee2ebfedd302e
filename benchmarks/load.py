"""The load side: a paced MQTT snapshot publisher, a result collector, and the HTTP ceiling.

Snapshots go to `bench/<camera>/<seq>`: the bridge is configured with `bench/{camera}/+`, so the
camera comes from the topic, and the event's `source_topic` carries `seq` back. That matches each
result to the exact publish that caused it without touching the image bytes (raw JPEG, as
Frigate sends them) and without trusting the bridge's clock: both ends are timed here, on one
monotonic clock.

Publishing is open-loop and evenly paced (snapshot `i` is due at `start + i / rate`, cameras
in turn), as cameras are: they do not wait for the bridge. Random (Poisson) arrivals would add
queueing delay that belongs to the traffic, not to the bridge.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
import requests
from paho.mqtt.enums import CallbackAPIVersion
from requests.adapters import HTTPAdapter

from benchmarks.stats import Sample, iso_epoch, seq_from_topic
from econnect_identities.models import PublishOptions, PublishRequest
from econnect_identities.protocol import PUBLISH_WITH_RESPONSE_PATH, publish_body

#: The options the bridge sends with its default configuration (pipeline.publish_options).
BRIDGE_OPTIONS = PublishOptions(
    largest_face_only=True, include_person=True, include_names=True, include_tags=True
)


def _client(name: str, port: int) -> mqtt.Client:
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=name)
    client.max_queued_messages_set(0)  # the publisher must never drop: unbounded
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    return client


@dataclass
class Offered:
    """What the publisher did in one run."""

    sent: dict[int, float] = field(default_factory=dict)  # seq -> monotonic time of publish
    start: float = 0.0
    end: float = 0.0
    behind_ms_max: float = 0.0  # how late the most delayed publish was (publisher saturated)

    @property
    def rate(self) -> float:
        """Snapshots per second actually offered."""
        span = self.end - self.start
        return len(self.sent) / span if span > 0 else 0.0


class Publisher:
    """One MQTT client publishing snapshots on a schedule (from one thread)."""

    def __init__(self, port: int) -> None:
        self._client = _client("bench-load", port)
        self._client.loop_start()
        self._seq = 0

    def close(self) -> None:
        """Disconnect."""
        self._client.disconnect()
        self._client.loop_stop()

    def run(
        self,
        *,
        rate: float,
        cameras: int,
        duration: float,
        images: Sequence[bytes],
        camera_prefix: str = "cam",
        stop: threading.Event | None = None,
        root: str = "bench",
    ) -> Offered:
        """Publish `rate` snapshots/s for `duration` s, cameras in turn, images in turn."""
        offered = Offered()
        count = max(1, int(rate * duration))
        start = time.monotonic() + 0.05
        offered.start = start
        for index in range(count):
            if stop is not None and stop.is_set():
                break
            due = start + index / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                offered.behind_ms_max = max(offered.behind_ms_max, -delay * 1000)
            self._seq += 1
            camera = f"{camera_prefix}{index % cameras:02d}"
            topic = f"{root}/{camera}/{self._seq}"
            offered.sent[self._seq] = time.monotonic()
            self._client.publish(topic, images[index % len(images)], qos=0)
        offered.end = time.monotonic()
        return offered


class Collector:
    """One MQTT client recording every result event with its arrival time (parsed later)."""

    def __init__(self, port: int, topics: Sequence[str]) -> None:
        self._lock = threading.Lock()
        self._records: list[tuple[float, str, bytes]] = []
        subscribed = threading.Event()
        self._client = _client("bench-collector", port)
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *_a: subscribed.set()
        self._client.subscribe([(topic, 1) for topic in topics])
        self._client.loop_start()
        if not subscribed.wait(10):
            raise RuntimeError("the collector could not subscribe")

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        record = (time.monotonic(), msg.topic, bytes(msg.payload))
        with self._lock:
            self._records.append(record)

    def take(self) -> list[tuple[float, str, bytes]]:
        """Return and forget everything received so far."""
        with self._lock:
            records, self._records = self._records, []
        return records

    def close(self) -> None:
        """Disconnect."""
        self._client.disconnect()
        self._client.loop_stop()


@dataclass
class Matched:
    """Results matched to their snapshots, plus what could not be matched."""

    samples: list[Sample] = field(default_factory=list)
    errors: int = 0
    unmatched: int = 0
    seen: dict[str, float] = field(default_factory=dict)  # topic -> first arrival time


def match(records: Sequence[tuple[float, str, bytes]], offered: Offered) -> Matched:
    """Pair each recognition event (bridge or naive) with the publish that caused it."""
    out = Matched()
    wall = time.time() - time.monotonic()  # monotonic -> epoch, for the events' timestamps
    for received, topic, payload in records:
        out.seen.setdefault(topic, received)
        if not topic.endswith("events"):
            continue
        try:
            event = json.loads(payload)
        except ValueError:
            out.unmatched += 1
            continue
        if event.get("type") == "error" or "error" in event:
            out.errors += 1
            continue
        seq = seq_from_topic(str(event.get("source_topic") or ""))
        sent = offered.sent.get(seq) if seq is not None else None
        if sent is None:
            out.unmatched += 1
            continue
        engine = event.get("api_latency_ms")
        taken, built = iso_epoch(event.get("detect_time")), iso_epoch(event.get("processed_time"))
        out.samples.append(
            Sample(
                sent,
                received,
                float(engine) if engine is not None else None,
                inbound_ms=None if taken is None else (taken - sent - wall) * 1000,
                outbound_ms=None if built is None else (received + wall - built) * 1000,
            )
        )
    return out


@dataclass
class CeilingRun:
    """The pooled-HTTP reference: latencies (ms) and completion times of successful calls."""

    latencies_ms: list[float] = field(default_factory=list)
    completed: list[float] = field(default_factory=list)
    errors: int = 0
    start: float = 0.0
    end: float = 0.0


def engine_token(url: str) -> str:
    """Sign in as the sample gallery's `bridge` user."""
    reply = requests.post(
        f"{url}/api/v1/authenticate",
        json={"username": "bridge", "password": "bridge-password"},
        timeout=10,
    )
    reply.raise_for_status()
    return str(reply.json()["token"])


def ceiling(url: str, images: Sequence[bytes], *, concurrency: int, duration: float) -> CeilingRun:
    """Send the same images to the engine from `concurrency` threads on one pooled session.

    The request bodies are encoded once, before timing: this is what the engine allows, with
    no client cost that could be avoided, so the bridge is compared with the best possible.
    """
    token = engine_token(url)
    bodies = [
        publish_body(
            PublishRequest(image, detector_name=f"cam{i:02d}", time_zone="UTC", options=opts),
            with_response=True,
        )
        for i, image in enumerate(images)
        for opts in (BRIDGE_OPTIONS,)
    ]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=concurrency, pool_block=True)
    session.mount("http://", adapter)
    target = url + PUBLISH_WITH_RESPONSE_PATH
    run = CeilingRun()
    lock = threading.Lock()
    run.start = time.monotonic()
    deadline = run.start + duration

    def worker(offset: int) -> None:
        index = offset
        while time.monotonic() < deadline:
            body = bodies[index % len(bodies)]
            index += 1
            started = time.monotonic()
            try:
                reply = session.post(target, data=body, headers=headers, timeout=10)
                ok = reply.status_code == 200 and reply.content.startswith(b"{")
            except requests.RequestException:
                ok = False
            done = time.monotonic()
            with lock:
                if ok:
                    run.latencies_ms.append((done - started) * 1000)
                    run.completed.append(done)
                else:
                    run.errors += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(duration + 15)
    run.end = time.monotonic()
    session.close()
    return run
