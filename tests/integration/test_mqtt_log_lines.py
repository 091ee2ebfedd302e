"""While the broker is away, the log says so once per change, in the bridge's words.

paho reports a missing broker at ERROR on every loop turn ("Client is not connected. Socket:
None", "failed to receive on socket"); the bridge already says it once, with the fix. A real
Mosquitto is stopped and started under a connected bridge connection.
"""

from __future__ import annotations

import logging
import time

import pytest

from econnect_bridge.config import config_from_dict
from econnect_bridge.mqtt import MqttConnection
from tests.support.mosquitto import MosquittoBroker


def _wait(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_broker_outage_is_one_bridge_line_each_way_and_no_paho_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with MosquittoBroker(start=True) as broker:
        host, port = broker.address
        connection = MqttConnection(
            config_from_dict(
                {
                    "api": {"url": "http://127.0.0.1:1", "username": "u", "password": "p"},
                    "mqtt": {"host": host, "port": port},
                    "cameras": [{"name": "cam", "topic": "cams/{camera}"}],
                }
            ).mqtt,
            availability_topic="t/availability",
            client_id="log-test",
        )
        caplog.set_level(logging.DEBUG, logger="econnect_bridge")
        connection.start()
        try:
            assert connection.wait_ready(10)
            broker.stop()
            # paho retries about once a second: several failed attempts while it is down
            assert _wait(lambda: connection.connect_failures >= 3, 20)
            broker.start()
            assert _wait(connection.connected.is_set, 40)
        finally:
            connection.stop()
    paho = [r for r in caplog.records if r.name == "econnect_bridge.mqtt.paho"]
    assert paho, "paho's own lines are kept, at DEBUG"
    assert [r.getMessage() for r in paho if r.levelno >= logging.WARNING] == []
    bridge = [r for r in caplog.records if r.name == "econnect_bridge.mqtt"]
    lost = [r for r in bridge if r.getMessage().startswith("Disconnected from MQTT broker")]
    refused = [r for r in bridge if r.getMessage().startswith("Cannot connect to the MQTT broker")]
    assert len(lost) == 1
    assert len(refused) == 1
    assert "connection refused" in refused[0].getMessage()
    connected = [r for r in bridge if r.getMessage().startswith("Connected to MQTT broker")]
    assert len(connected) == 2
