"""Three bridges share one feed through `$share/<group>/...`; one is killed -9 mid-stream."""

from __future__ import annotations

import base64
import json
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.integration.helpers import sample, write_config
from tests.integration.reliability import (
    Feed,
    PersistentProbe,
    bridge_process,
    feed_config,
    feed_payload,
    index_of,
    passed,
    wait_until,
)
from tests.support.mosquitto import MosquittoBroker

pytestmark = pytest.mark.integration
INSTANCES = 3
CAMERAS = 24


@pytest.mark.slow
def test_three_bridges_share_the_feed_and_survive_losing_one(
    tmp_path: Path,
    emulator: Any,
    mosquitto: MosquittoBroker,
    figures: dict[str, Any],
) -> None:
    """Each snapshot is processed by exactly one instance; kill -9 one, the others carry on."""
    probe = PersistentProbe(
        mosquitto.host, mosquitto.port, ("+/events", "+/errors", "+/bridge/availability"), "p"
    )
    feed = Feed(mosquitto.host, mosquitto.port, "shared-feed")
    image = base64.b64encode(sample("jane.jpg")).decode()
    bridges = []
    for n in range(INSTANCES):
        text = feed_config(emulator.url, mosquitto.port, client_id=f"bridge-{n}").replace(
            "  base_topic: econnect\n",
            f"  base_topic: bridge{n}\n  shared_group: econnect\n",
        )
        config = write_config(
            tmp_path / f"config{n}.yaml", text + "homeassistant:\n  enabled: false\n"
        )
        bridges.append(bridge_process(config, tmp_path / f"bridge{n}.log"))
    sent = 0

    def publish_for(seconds: float) -> None:
        nonlocal sent
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            feed.publish(f"feed/cam{sent % CAMERAS}", feed_payload(image, sent), str(sent))
            sent += 1
            time.sleep(0.05)

    try:
        assert wait_until(lambda: len(probe.on_suffix("/bridge/availability")) >= INSTANCES, 15), [
            p.read_text() for p in tmp_path.glob("bridge*.log")
        ]
        time.sleep(1.5)
        publish_for(2.0)
        killed_at = sent
        bridges[1].send_signal(signal.SIGKILL)
        bridges[1].wait(5)
        publish_for(3.0)
        assert wait_until(lambda: len(feed.acked()) == sent, 10)
        wait_until(lambda: len(probe.on_suffix("/events")) >= sent - 3, 10)
        time.sleep(1.5)
        for index in (0, 2):
            bridges[index].send_signal(signal.SIGTERM)
            assert bridges[index].wait(15) == 0
    finally:
        for bridge in bridges:
            if bridge.poll() is None:
                bridge.kill()
    feed.stop()
    probe.stop()
    by_instance: Counter[str] = Counter()
    per_index: Counter[int] = Counter()
    for topic, payload, _retain in probe.on_suffix("/events"):
        by_instance[topic.split("/")[0]] += 1
        per_index[index_of(json.loads(payload))] += 1
    missing = sorted(set(range(sent)) - set(per_index))
    after_kill = [i for i in missing if i >= killed_at]
    figure = {
        "instances": INSTANCES,
        "snapshots": sent,
        "processed_per_instance": dict(sorted(by_instance.items())),
        "processed_twice": sum(1 for c in per_index.values() if c > 1),
        "missing": len(missing),
        "missing_ids": missing,
        "killed_instance": "bridge1",
        "killed_after_snapshot": killed_at,
        "missing_after_kill": len(after_kill),
        "error_events": len(probe.on_suffix("/errors")),
    }
    figures.update(figure)
    assert figure["processed_twice"] == 0, figure
    assert all(by_instance[f"bridge{n}"] > 0 for n in range(INSTANCES)), figure
    # Only what the killed instance had already received (and acknowledged) can be missing.
    assert len(missing) <= 3, figure
    passed(figures)
