"""Two 50 MB payloads among ordinary snapshots: memory stays at its level, both protocols.

With MQTT 5 (the default) the bridge announces its Maximum Packet Size (the largest payload a
source accepts, plus room for the topic): the broker drops a larger message for this client,
so the bytes never reach the bridge. With MQTT 3.1.1 there is no such field: paho reads the
message whole, the intake lets go of the bytes at once and the snapshot is an error event
(`too_large`); memory returns to its level afterwards.
"""

from __future__ import annotations

import json
import signal
import time
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
    wait_for_bridge,
    wait_until,
)
from tests.support.mosquitto import MosquittoBroker

HUGE = 50 * 1024 * 1024
ORDINARY = 200


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_oversize_payloads_leave_memory_where_it_was(
    protocol: str,
    tmp_path: Path,
    emulator: Any,
    mosquitto_factory: Callable[..., MosquittoBroker],
    figures: dict[str, Any],
) -> None:
    broker = mosquitto_factory(extra_config=["message_size_limit 0"])
    config = write_config(
        tmp_path / "config.yaml",
        f"""\
api: {{url: {emulator.url}, username: bridge, password: bridge-password}}
mqtt: {{host: 127.0.0.1, port: {broker.port}, protocol: "{protocol}"}}
cameras:
  - {{name: big, topic: "big/{{camera}}/snapshot"}}
homeassistant: {{enabled: false}}
""",
    )
    image = sample("jane.jpg")
    probe = PersistentProbe(
        broker.host, broker.port, ("econnect/errors", "econnect/bridge/state"), "big-probe"
    )
    feed = Feed(broker.host, broker.port, "big-feed")
    log = tmp_path / "bridge.log"
    bridge = bridge_process(config, log)
    try:
        wait_for_bridge(log)
        for index in range(20):  # warm up: imports, pools, buffers
            feed.publish(f"big/cam{index % 4}/snapshot", image, f"warm{index}")
        time.sleep(2.0)
        before = _kib(bridge.pid, "VmRSS")
        for index in range(ORDINARY):
            if index in (50, 150):
                feed.publish(f"big/cam{index % 4}/snapshot", image + bytes(HUGE), f"huge{index}")
            feed.publish(f"big/cam{index % 4}/snapshot", image, str(index))
            time.sleep(0.01)
        assert wait_until(lambda: len(feed.acked()) == ORDINARY + 22, 60)
        time.sleep(4.0)
        after, peak = _kib(bridge.pid, "VmRSS"), _kib(bridge.pid, "VmHWM")
        bridge.send_signal(signal.SIGTERM)
        bridge.wait(20)
    finally:
        if bridge.poll() is None:
            bridge.kill()
        feed.stop()
    time.sleep(0.5)
    probe.stop()
    state = probe.json_on("econnect/bridge/state")[-1]
    codes = [json.loads(m[1])["code"] for m in probe.on("econnect/errors")]
    figure = {
        "protocol": protocol,
        "rss_kib_before": before,
        "rss_kib_after": after,
        "rss_kib_peak": peak,
        "received": state["received"],
        "too_large_events": codes.count("too_large"),
    }
    print(json.dumps(figure))
    figures.update(figure)
    assert after - before < 8_000, figure  # back to its level: no 50 MB kept anywhere
    if protocol == "5":
        assert state["received"] == ORDINARY + 20, figure  # the broker kept them from us
        assert peak - before < 40_000, figure  # never read: no 50 MB peak either
    else:
        assert figure["too_large_events"] == 2, figure
        assert state["received"] == ORDINARY + 22, figure
    passed(figures)
