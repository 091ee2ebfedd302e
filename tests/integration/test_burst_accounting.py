"""A 10,000-payload burst: every payload the broker accepted is accounted for.

The broker runs with Mosquitto's defaults (per-client queue 1,000, 20 QoS 1 messages in flight),
as users run it. The bridge runs in its own process, and so does the subscriber that counts what
the bridge published, so neither measures the test's own process. Every payload the broker
acknowledged to the feed must reach the bridge, and each must end as a published result, a
published error event, or a counted supersede (latest wins): nothing dropped on the way out.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.integration.helpers import sample, write_config
from tests.integration.reliability import Feed, bridge_process, passed, wait_for_bridge, wait_until
from tests.support.mosquitto import MosquittoBroker

ROOT = Path(__file__).resolve().parents[2]
COUNT = 10_000
CAMERAS = 8
LIMIT = 200_000
SEED = 1313
RATE = 2000.0  # payloads per second


def _payloads(rng: random.Random) -> list[tuple[str, bytes]]:
    """Mostly real snapshots, and every kind of refusal, in a seeded order."""
    images = [sample(name) for name in ("jane.jpg", "carol.jpg", "group.jpg", "bob.png")]
    kinds: list[tuple[str, Callable[[], bytes]]] = [
        ("image", lambda: rng.choice(images)),
        ("random_bytes", lambda: os.urandom(rng.randrange(16, 4000))),
        ("bad_json", lambda: b'{"image": "' + b"x" * rng.randrange(0, 50)),
        ("bad_base64", lambda: b'{"image": "not base64!!"}'),
        ("empty", lambda: b""),
        ("too_large", lambda: images[0] + bytes(LIMIT)),
    ]
    weights = [60, 12, 12, 10, 5, 1]
    return [(kind, make()) for kind, make in rng.choices(kinds, weights, k=COUNT)]


def _start_counter(broker: MosquittoBroker, out: Path) -> subprocess.Popen[bytes]:
    counter = subprocess.Popen(
        [sys.executable, "-m", "tests.support.count_probe", broker.host, str(broker.port),
         str(out), "econnect/events", "econnect/errors", "econnect/bridge/state"],
        cwd=ROOT,
    )  # fmt: skip
    assert wait_until(lambda: Path(f"{out}.ready").exists(), 15), "the counter did not subscribe"
    return counter


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(20)


def test_a_burst_of_10000_payloads_is_accounted_for_to_the_last_one(
    tmp_path: Path,
    emulator: Any,
    mosquitto_factory: Callable[..., MosquittoBroker],
    figures: dict[str, Any],
) -> None:
    """10,000 payloads at 2,000/s, 40 % refusable: each a result, an error or a supersede."""
    broker = mosquitto_factory()  # Mosquitto's defaults
    config = write_config(
        tmp_path / "config.yaml",
        f"""\
api: {{url: {emulator.url}, username: bridge, password: bridge-password}}
mqtt: {{host: 127.0.0.1, port: {broker.port}}}
cameras:
  - {{name: burst, topic: "burst/{{camera}}/snapshot"}}
processing: {{workers: 4, max_image_bytes: {LIMIT}}}
homeassistant: {{enabled: false}}
""",
    )
    payloads = _payloads(random.Random(SEED))
    counts_file = tmp_path / "counts.json"
    counter = _start_counter(broker, counts_file)
    log = tmp_path / "bridge.log"
    bridge = bridge_process(config, log)
    feed = Feed(broker.host, broker.port, "burst-feed")
    try:
        wait_for_bridge(log)
        started = time.monotonic()
        for index, (_kind, payload) in enumerate(payloads):
            feed.publish(f"burst/cam{index % CAMERAS}/snapshot", payload, str(index))
            ahead = started + (index + 1) / RATE - time.monotonic()
            if index % 50 == 49 and ahead > 0:
                time.sleep(ahead)
        assert wait_until(lambda: len(feed.acked()) == COUNT, 120), "the broker did not ack"
        published_in = time.monotonic() - started
        time.sleep(3.0)  # let the last results out
        bridge_code = _stop(bridge)
    finally:
        if bridge.poll() is None:
            bridge.kill()
        feed.stop()
    time.sleep(1.0)
    _stop(counter)
    seen = json.loads(counts_file.read_text())
    counts, state = seen["counts"], json.loads(seen["last"]["econnect/bridge/state"])
    received, processed = state["received"], state["processed"]
    errors, superseded = state["errors"], state["dropped"]
    figure = {
        "seed": SEED,
        "payloads": COUNT,
        "acked_by_broker": len(feed.acked()),
        "rate_per_s": RATE,
        "published_in_s": round(published_in, 2),
        "received_by_bridge": received,
        "processed": processed,
        "error_events": errors,
        "superseded": superseded,
        "unaccounted": received - processed - errors - superseded,
        "events_published": counts.get("econnect/events", 0),
        "error_events_published": counts.get("econnect/errors", 0),
        "outgoing_dropped": state["mqtt_dropped"],
        "bridge_exit_code": bridge_code,
    }
    print(json.dumps(figure, indent=2))  # the figures, with pytest -s
    figures.update(figure)
    assert figure["acked_by_broker"] == COUNT
    assert received == COUNT, figure  # nothing the broker accepted was dropped before the bridge
    assert figure["unaccounted"] == 0, figure
    assert figure["events_published"] == processed, figure
    assert figure["error_events_published"] == errors, figure
    assert figure["outgoing_dropped"] == 0, figure
    assert bridge_code == 0
    passed(figures)
