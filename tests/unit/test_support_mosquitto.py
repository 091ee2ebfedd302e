"""The test harness's Mosquitto: starts, carries messages, restarts on its port, checks logins."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from tests.support.mosquitto import MosquittoBroker, MosquittoError, TlsListener

pytestmark = pytest.mark.integration

TIMEOUT = 5.0


class Client:
    """A paho 2.x client that records the CONNACK and the messages it receives."""

    def __init__(self, broker: MosquittoBroker, username: str | None = None, password: str = ""):
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.connected = threading.Event()
        self.reason: ReasonCode | None = None
        self.messages: list[mqtt.MQTTMessage] = []
        self.got_message = threading.Event()
        self.subscribed = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.broker = broker

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        self.reason = reason_code
        if reason_code.is_failure:
            client.disconnect()  # no reconnection attempts: the test only wants the refusal
        self.connected.set()

    def _on_message(self, client, userdata, message) -> None:  # type: ignore[no-untyped-def]
        self.messages.append(message)
        self.got_message.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:  # type: ignore[no-untyped-def]
        self.subscribed.set()

    def connect(self) -> ReasonCode:
        self.client.connect(self.broker.host, self.broker.port, keepalive=10)
        self.client.loop_start()
        assert self.connected.wait(TIMEOUT), "no CONNACK"
        assert self.reason is not None
        return self.reason

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextmanager
def connected(
    broker: MosquittoBroker, username: str | None = None, password: str = ""
) -> Iterator[Client]:
    client = Client(broker, username, password)
    reason = client.connect()
    assert not reason.is_failure, f"connection refused: {reason}"
    try:
        yield client
    finally:
        client.close()


def publish(client: Client, topic: str, payload: bytes, *, retain: bool = False) -> None:
    info = client.client.publish(topic, payload, qos=1, retain=retain)
    info.wait_for_publish(TIMEOUT)
    assert info.is_published()


def receive(client: Client, topic: str) -> list[mqtt.MQTTMessage]:
    client.client.subscribe(topic, qos=1)
    assert client.got_message.wait(TIMEOUT), f"nothing received on {topic}"
    return client.messages


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_broker_starts_on_a_loopback_port_and_logs(mosquitto: MosquittoBroker) -> None:
    assert mosquitto.is_running
    assert mosquitto.pid is not None
    assert mosquitto.host == "127.0.0.1"
    assert accepts_connections(mosquitto.port)
    assert mosquitto.url == f"mqtt://127.0.0.1:{mosquitto.port}"
    assert "mosquitto version" in mosquitto.wait_for_log("running")
    assert f"listener {mosquitto.port} 127.0.0.1" in mosquitto.config_path.read_text()


def test_retained_message_goes_through(mosquitto: MosquittoBroker) -> None:
    with connected(mosquitto) as publisher:
        publish(publisher, "test/retained", b"hello", retain=True)
    with connected(mosquitto) as subscriber:
        (message,) = receive(subscriber, "test/#")
    assert message.topic == "test/retained"
    assert message.payload == b"hello"
    assert message.retain


def test_kill_then_start_comes_back_on_the_same_port(mosquitto: MosquittoBroker) -> None:
    port = mosquitto.port
    first_pid = mosquitto.pid
    mosquitto.kill()
    assert not mosquitto.is_running
    assert mosquitto.pid is None
    assert not accepts_connections(port)

    mosquitto.start()
    assert mosquitto.port == port
    assert mosquitto.pid != first_pid
    with connected(mosquitto) as client:
        publish(client, "after/restart", b"1")
    assert mosquitto.log_text().count("--- test harness: starting") == 2


def test_persistence_keeps_retained_messages_across_a_clean_restart(
    mosquitto_factory: Callable[..., MosquittoBroker],
) -> None:
    broker = mosquitto_factory(persistence=True)
    with connected(broker) as publisher:
        publish(publisher, "kept/retained", b"still here", retain=True)
    broker.restart()
    assert (broker.persistence_path / "mosquitto.db").is_file()
    with connected(broker) as subscriber:
        (message,) = receive(subscriber, "kept/#")
    assert message.payload == b"still here"


def test_password_file_refuses_wrong_credentials(
    mosquitto_factory: Callable[..., MosquittoBroker],
) -> None:
    broker = mosquitto_factory(users={"alice": "s3cret", "bob": "hunter2"}, allow_anonymous=False)
    assert broker.password_path is not None
    assert "alice:" in broker.password_path.read_text()

    for username, password in [("alice", "wrong"), ("mallory", "s3cret"), (None, "")]:
        client = Client(broker, username, password)
        try:
            assert client.connect().is_failure, f"{username} logged in with a wrong password"
        finally:
            client.close()

    with connected(broker, "alice", "s3cret"), connected(broker, "bob", "hunter2"):
        pass


def test_acl_drops_publishes_to_denied_topics(
    mosquitto_factory: Callable[..., MosquittoBroker],
) -> None:
    acl = "user alice\ntopic readwrite allowed/#\ntopic read denied/#\n"
    broker = mosquitto_factory(users={"alice": "pw"}, allow_anonymous=False, acl=acl)
    with connected(broker, "alice", "pw") as subscriber, connected(broker, "alice", "pw") as pub:
        subscriber.client.subscribe([("allowed/#", 1), ("denied/#", 1)])
        assert subscriber.subscribed.wait(TIMEOUT)
        publish(pub, "denied/x", b"no")  # the broker acknowledges, then drops it
        publish(pub, "allowed/x", b"yes")
        assert subscriber.got_message.wait(TIMEOUT)
        assert [m.topic for m in subscriber.messages] == ["allowed/x"]


def test_config_has_every_option(tmp_path: Path) -> None:
    tls = TlsListener(cafile=Path("/ca.pem"), certfile=Path("/c.pem"), keyfile=Path("/k.pem"))
    broker = MosquittoBroker(
        workdir=tmp_path, tls=tls, persistence=True, max_queued_messages=7, extra_config=["# x"]
    )
    text = broker.config_text()
    assert broker.tls_port is not None
    assert broker.tls_port != broker.port
    assert broker.ports == (broker.port, broker.tls_port)
    assert f"listener {broker.tls_port} 127.0.0.1\ncafile /ca.pem\ncertfile /c.pem" in text
    assert "keyfile /k.pem\nrequire_certificate false" in text
    assert f"persistence_location {tmp_path / 'data'}/" in text
    assert "max_queued_messages 7" in text
    assert "allow_anonymous true" in text
    assert text.endswith("# x\n")
    assert not broker.is_running


def test_start_failure_reports_the_log(tmp_path: Path) -> None:
    broker = MosquittoBroker(workdir=tmp_path, extra_config=["no_such_option 1"], startup_timeout=3)
    with pytest.raises(MosquittoError, match="no_such_option"):
        broker.start()
    assert not broker.is_running
