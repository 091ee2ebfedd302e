"""kill -9 with snapshots waiting: each one the broker accepted still gets its outcome.

QoS 1 snapshots are acknowledged to the broker only when their outcome (result or error event)
is out, so the ones waiting in the bridge when it dies stay with the broker (the bridge's
persistent session) and are delivered again to the next process. Each snapshot comes from a
camera of its own, so none is superseded: every accepted snapshot must end as a recognition
event or an error event, across the crash. Processing a snapshot twice is allowed (its result
was out, its acknowledgement not yet) and counted.
"""

from __future__ import annotations

import base64
import json
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.integration.helpers import sample, write_config
from tests.integration.reliability import (
    Feed,
    PersistentProbe,
    bridge_process,
    feed_config,
    feed_payload,
    index_of,
    passed,
    wait_for_bridge,
    wait_until,
)
from tests.support.mosquitto import MosquittoBroker

SNAPSHOTS = 120
EVERY = 0.05  # s between snapshots: faster than two workers at 250 ms, so a queue builds up
KILL_AFTER = 60  # snapshots sent before kill -9


def test_kill_9_with_snapshots_waiting_loses_none(
    tmp_path: Path,
    emulator: Any,
    mosquitto_factory: Callable[..., MosquittoBroker],
    figures: dict[str, Any],
) -> None:
    broker = mosquitto_factory(max_queued_messages=10_000)  # the probe must miss nothing
    emulator.faults.update(latency_ms=250)
    extra = "homeassistant: {enabled: false}\n"
    text = feed_config(emulator.url, broker.port, extra, client_id="crash-bridge")
    config = write_config(tmp_path / "config.yaml", text.replace("workers: 4", "workers: 2"))
    image = base64.b64encode(sample("jane.jpg")).decode()
    probe = PersistentProbe(
        broker.host, broker.port, ("econnect/events", "econnect/errors"), "crash-probe"
    )
    feed = Feed(broker.host, broker.port, "crash-feed")
    log = tmp_path / "bridge.log"
    bridge = bridge_process(config, log)
    try:
        wait_for_bridge(log)
        for index in range(KILL_AFTER):
            feed.publish(f"feed/cam{index}", feed_payload(image, index), str(index))
            time.sleep(EVERY)
        assert wait_until(lambda: len(feed.acked()) == KILL_AFTER, 10)
        done_before = len(probe.on("econnect/events")) + len(probe.on("econnect/errors"))
        bridge.send_signal(signal.SIGKILL)
        bridge.wait(10)
        for index in range(KILL_AFTER, SNAPSHOTS):  # the broker keeps them for the session
            feed.publish(f"feed/cam{index}", feed_payload(image, index), str(index))
        assert wait_until(lambda: len(feed.acked()) == SNAPSHOTS, 10)
        bridge = bridge_process(config, log)

        def outcomes() -> Counter[int]:
            events = [json.loads(m[1]) for m in probe.on("econnect/events")]
            return Counter(index_of(e) for e in events)

        wait_until(lambda: set(outcomes()) >= set(range(SNAPSHOTS)), 90)
        bridge.send_signal(signal.SIGTERM)
        bridge.wait(20)
    finally:
        if bridge.poll() is None:
            bridge.kill()
        feed.stop()
    time.sleep(0.5)
    probe.stop()
    seen = outcomes()
    errors = [json.loads(m[1]) for m in probe.on("econnect/errors")]
    figure = {
        "snapshots_accepted_by_broker": len(feed.acked()),
        "sent_before_kill": KILL_AFTER,
        "outcomes_before_kill": done_before,
        "waiting_in_bridge_at_kill": KILL_AFTER - done_before,
        "with_a_result": len(seen),
        "error_events": len(errors),
        "processed_twice": sum(1 for n in seen.values() if n > 1),
        "missing": sorted(set(range(SNAPSHOTS)) - set(seen)),
    }
    print(json.dumps(figure, indent=2))
    figures.update(figure)
    assert figure["waiting_in_bridge_at_kill"] > 5, figure  # the crash had something to lose
    assert figure["missing"] == [], figure
    assert errors == [], errors
    passed(figures)
