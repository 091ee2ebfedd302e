"""The broker connection writes small messages at once: Nagle's algorithm is off.

With Nagle on (paho 2.x's default) each small write after the first waits for the broker's
acknowledgement of the previous one, about 10 ms per snapshot against a Mosquitto with its
default settings. Checked on the real socket, plain and TLS-less, after a real connect.
"""

from __future__ import annotations

import socket

from econnect_bridge.config import config_from_dict
from econnect_bridge.mqtt import MqttConnection
from tests.support.mosquitto import MosquittoBroker


def test_the_connection_socket_has_tcp_nodelay(mosquitto: MosquittoBroker) -> None:
    host, port = mosquitto.address
    for protocol in ("5", "3.1.1"):
        config = config_from_dict(
            {
                "api": {"url": "http://127.0.0.1:1", "username": "u", "password": "p"},
                "mqtt": {"host": host, "port": port, "protocol": protocol},
                "cameras": [{"name": "cam", "topic": "cams/{camera}"}],
            }
        )
        connection = MqttConnection(config.mqtt, availability_topic="t/availability")
        connection.start()
        try:
            assert connection.wait_ready(10)
            sock = connection._client.socket()
            assert sock is not None
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0, protocol
        finally:
            connection.stop()
