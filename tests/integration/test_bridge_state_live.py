"""The bridge state follows the counters within seconds, not at the 30 s periodic publish."""

from __future__ import annotations

import math
import socket
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from econnect_bridge.metrics import SERIES
from econnect_identities.schemas import validate_payload
from tests.integration.helpers import Probe, base_config, running_bridge, sample, write_config
from tests.support.mosquitto import MosquittoBroker

pytestmark = pytest.mark.integration
STATE = "econnect/bridge/state"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_two_recognitions_reach_the_bridge_state_and_metrics_at_once(
    tmp_path: Path, emulator: Any, mosquitto: MosquittoBroker, probe: Probe
) -> None:
    port = free_port()
    extra = f"health: {{enabled: true, port: {port}}}\n"
    config = write_config(
        tmp_path / "config.yaml", base_config(emulator.url, mosquitto.port, extra)
    )
    with running_bridge(config) as app:
        began = time.monotonic()
        probe.wait_for(STATE)  # the first, periodic publish
        probe.publish("frigate/front_door/person/snapshot", sample("jane.jpg"))
        probe.publish("frigate/garage/person/snapshot", sample("jane.jpg"))
        probe.wait_for("econnect/events", count=2)
        sent = time.monotonic()
        states = probe.wait_for(STATE, timeout=5.0, where=lambda p: p["processed"] == 2)
        took = time.monotonic() - sent
        assert states, "the bridge state never said 'processed: 2'"
        assert took < 3.0, f"the bridge state took {took:.1f} s"
        for message in probe.on(STATE):
            validate_payload("bridge_state", message.json())
        # Rate limited: the periodic and the engine-reachable publishes, plus one a second.
        assert len(probe.on(STATE)) <= 2 + math.ceil(time.monotonic() - began)
        assert app.health_server is not None
        with urllib.request.urlopen(f"{app.health_server.url}/metrics", timeout=5) as reply:
            text = reply.read().decode()
    for series in SERIES:
        assert f"\neconnect_bridge_{series.metric} " in text, series.metric
    assert "\neconnect_bridge_snapshots_processed_total 2\n" in text
    assert "\neconnect_bridge_broker_connected 1\n" in text
