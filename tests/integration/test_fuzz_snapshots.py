"""Thousands of hostile payloads on the snapshot topics: no crash, all accounted, memory flat.

Configuration fuzzing lives in tests/unit/test_config_fuzz.py (hypothesis).
"""

from __future__ import annotations

import base64
import json
import random
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.helpers import sample, write_config
from tests.integration.reliability import (
    Feed,
    PersistentProbe,
    bridge_process,
    passed,
    wait_until,
)
from tests.support.mosquitto import MosquittoBroker

pytestmark = pytest.mark.integration
SEED = 20261122
COUNT = 3000
LIMIT = 200_000
ODD_CAMERAS = [
    "plain",
    "Front Door",
    "José",
    "🚗",
    "a$b%c",
    "..",
    "' OR 1=1 --",
    "<img src=x>",
    "semi;colon=1",
    "x" * 200,
    "$SYS",
    "back\\slash",
]


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _payloads(rng: random.Random) -> list[tuple[str, bytes]]:
    jpeg, png = sample("jane.jpg"), sample("bob.png")
    b64 = base64.b64encode(jpeg).decode()
    makers: list[tuple[str, Callable[[], bytes]]] = [
        ("random_bytes", lambda: rng.randbytes(rng.randint(1, 4000))),
        ("truncated_jpeg", lambda: jpeg[: rng.randint(3, len(jpeg) - 1)]),
        ("truncated_png", lambda: png[: rng.randint(8, len(png) - 1)]),
        ("corrupted_jpeg", lambda: _corrupt(rng, jpeg)),
        ("corrupted_png", lambda: _corrupt(rng, png)),
        ("empty", lambda: b""),
        ("json_wrong_types", lambda: json.dumps({"image": rng.choice(_WRONG)}).encode()),
        (
            "json_invalid_base64",
            lambda: json.dumps({"image": "!!" + b64[: rng.randint(0, 64)]}).encode(),
        ),
        (
            "json_base64_not_image",
            lambda: json.dumps({"image": base64.b64encode(rng.randbytes(64)).decode()}).encode(),
        ),
        ("json_not_object", lambda: rng.choice([b"[]", b"42", b'"x"', b"null", b"{", b"{]"])),
        ("json_deeply_nested", lambda: b'{"a":' * 20_000),
        ("data_uri_garbage", lambda: b"data:image/jpeg;base64," + rng.randbytes(50)),
        ("huge_over_limit", lambda: b"\xff\xd8\xff" + b"\0" * (LIMIT + rng.randint(1, 100_000))),
        ("valid_jpeg", lambda: jpeg),
    ]
    out = []
    for index in range(COUNT):
        kind, make = makers[index % len(makers)] if index < len(makers) else rng.choice(makers)
        out.append((kind, make()))
    return out


_WRONG: list[Any] = [123, None, True, [], {"nested": 1}, 1.5, ["a"], ""]


def _corrupt(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 40)):
        buf[rng.randrange(8, len(buf))] = rng.randrange(256)
    return bytes(buf)


@pytest.mark.slow
def test_thousands_of_hostile_payloads(
    tmp_path: Path,
    emulator: Any,
    mosquitto_factory: Callable[..., MosquittoBroker],
    figures: dict[str, Any],
) -> None:
    """3000 generated payloads (seeded) on `{camera}` topics with odd camera names."""
    rng = random.Random(SEED)
    # The recording subscriber runs in this (busy) process: let Mosquitto queue all it gets.
    mosquitto = mosquitto_factory(max_queued_messages=100_000)
    config = write_config(
        tmp_path / "config.yaml",
        f"""\
api:
  url: {emulator.url}
  username: bridge
  password: bridge-password
mqtt:
  host: 127.0.0.1
  port: {mosquitto.port}
  protocol: "3.1.1"  # every payload reaches the bridge (MQTT 5 lets the broker drop oversize)
cameras:
  - name: fuzz
    topic: fuzz/{{camera}}/snapshot
processing:
  workers: 4
  max_image_bytes: {LIMIT}
homeassistant:
  enabled: false
""",
    )
    payloads = _payloads(rng)
    probe = PersistentProbe(
        mosquitto.host,
        mosquitto.port,
        ("econnect/events", "econnect/errors", "econnect/bridge/#"),
        "fuzz-probe",
    )
    feed = Feed(mosquitto.host, mosquitto.port, "fuzz-feed")
    log = tmp_path / "bridge.log"
    bridge = bridge_process(config, log)  # its own process: the emulator's CPU is not its GIL
    try:
        assert wait_until(lambda: probe.on("econnect/bridge/availability"), 15), log.read_text()
        time.sleep(1.2)
        warm = 300

        def seen() -> int:
            return len(probe.on("econnect/events")) + len(probe.on("econnect/errors"))

        def settle(timeout: float) -> None:
            last, since, deadline = -1, time.monotonic(), time.monotonic() + timeout
            while time.monotonic() < deadline:
                now = seen()
                if now != last:
                    last, since = now, time.monotonic()
                elif time.monotonic() - since > 2.0:
                    return
                time.sleep(0.1)

        for index, (_kind, payload) in enumerate(payloads[:warm]):
            feed.publish(
                f"fuzz/{ODD_CAMERAS[index % len(ODD_CAMERAS)]}/snapshot", payload, str(index)
            )
        settle(30)
        rss_before = _rss_kib(bridge.pid)
        started = time.monotonic()
        for index, (_kind, payload) in enumerate(payloads[warm:], start=warm):
            feed.publish(
                f"fuzz/{ODD_CAMERAS[index % len(ODD_CAMERAS)]}/snapshot", payload, str(index)
            )
            if index % 50 == 0:
                time.sleep(0.05)  # ~1000 payloads/s
        assert wait_until(lambda: len(feed.acked()) == COUNT, 60)
        settle(60)
        elapsed = time.monotonic() - started
        rss_after = _rss_kib(bridge.pid)
        alive = bridge.poll() is None
        bridge.send_signal(signal.SIGTERM)
        code = bridge.wait(15)
    finally:
        if bridge.poll() is None:
            bridge.kill()
    time.sleep(0.5)
    feed.stop()
    probe.stop()
    final = probe.json_on("econnect/bridge/state")[-1]
    processed, errors, dropped = final["processed"], final["errors"], final["dropped"]
    events = probe.on("econnect/events")
    error_codes = Counter(json.loads(m[1])["code"] for m in probe.on("econnect/errors"))
    kinds = Counter(kind for kind, _ in payloads)
    figure = {
        "seed": SEED,
        "payloads": COUNT,
        "by_kind": dict(sorted(kinds.items())),
        "acked_by_broker": len(feed.acked()),
        "processed_by_engine": processed,
        "error_events": errors,
        "superseded_latest_wins": dropped,
        "unaccounted": COUNT - processed - errors - dropped,
        "error_codes": dict(sorted(error_codes.items())),
        "recognition_events_seen": len(events),
        "error_events_seen": sum(error_codes.values()),
        "seconds": round(elapsed, 1),
        "rss_kib_before": rss_before,
        "rss_kib_after": rss_after,
        "rss_growth_kib": rss_after - rss_before,
        "bridge_alive_after": alive,
        "bridge_outgoing_dropped": final["mqtt_dropped"],
        "exit_code_on_sigterm": code,
    }
    figures.update(figure)
    assert alive
    assert code == 0
    assert figure["unaccounted"] == 0, figure
    assert figure["bridge_outgoing_dropped"] == 0
    assert sum(error_codes.values()) == errors
    assert len(events) == processed
    assert error_codes["too_large"] >= 1
    assert error_codes["bad_json"] >= 1  # the deeply nested JSON among them
    assert figure["rss_growth_kib"] < 40_000, figure  # flat: no per-message leak
    passed(figures)
