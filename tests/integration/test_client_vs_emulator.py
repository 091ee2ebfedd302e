"""The engine client against the emulator over real HTTP(S): codes, tokens, threads, TLS."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from econnect_bridge.client import EconnectClient
from econnect_identities.errors import (
    EconnectAuthenticationError,
    EconnectBadRequestError,
    EconnectConnectionError,
    EconnectPermissionError,
    EconnectProtocolError,
    EconnectServerError,
    EconnectTimeoutError,
    EconnectTLSError,
)
from econnect_identities.models import PublishOptions
from tests.integration.helpers import sample
from tests.support.certs import make_certs

pytestmark = pytest.mark.integration
PASSWORDS = {
    "bridge": "bridge-password",
    "publisher-only": "publisher-password",
    "no-publish": "no-publish-password",
    "names-only": "names-password",
}
EVERYTHING = PublishOptions(
    largest_face_only=True,
    include_person=True,
    include_names=True,
    include_addresses=True,
    include_tags=True,
    include_fields=True,
)


def client_for(
    emulator: Any, user: str = "bridge", password: str | None = None, **kw: Any
) -> EconnectClient:
    password = password or PASSWORDS[user]
    return EconnectClient(emulator.url, username=user, password=password, **kw)


@pytest.fixture
def client(emulator: Any) -> Iterator[EconnectClient]:
    with client_for(emulator) as made:
        yield made


def recognise(client: EconnectClient, image: str, options: PublishOptions = EVERYTHING) -> Any:
    return client.publish_with_response(
        sample(image), detector_name="FrontDoorCam", time_zone="Europe/Paris", options=options
    )


def test_known_face_with_every_section(client: EconnectClient) -> None:
    result = recognise(client, "jane.jpg")
    [face] = result.faces
    assert face.person is not None
    assert face.person.display_name == "Jane Doe"
    assert set(face.person.tag_names) >= {"VIP", "Family"}
    assert {f.name for f in face.person.fields} >= {"LoyaltyTier"}
    assert face.person.addresses
    assert 0.8 <= face.confidence <= 1.0
    assert client.authentications == 1


def test_cloud_prefix_is_kept(emulator: Any) -> None:
    with EconnectClient(
        emulator.url + "/identities/", username="bridge", password="bridge-password"
    ) as c:
        assert recognise(c, "bob.png").outcome == "known"


@pytest.mark.parametrize(
    ("user", "sections"),
    [
        ("bridge", {"aliases", "addresses", "tags", "fields"}),
        ("names-only", {"aliases"}),
        ("publisher-only", set()),
    ],
)
def test_include_sections_follow_the_permission_table(
    emulator: Any, user: str, sections: set[str]
) -> None:
    with client_for(emulator, user) as c:
        person = recognise(c, "jane.jpg").faces[0].person
    assert person is not None
    present = {
        name
        for name, value in (
            ("aliases", person.aliases),
            ("addresses", person.addresses),
            ("tags", person.tags),
            ("fields", person.fields),
        )
        if value
    }
    assert present == sections
    assert person.person_id


def test_fire_and_forget_publish(client: EconnectClient, emulator: Any) -> None:
    client.publish(sample("jane.jpg"), detector_name="d", time_zone="UTC")
    assert (
        emulator.stats()["endpoints"]["publish"] >= 1 if "endpoints" in emulator.stats() else True
    )


def test_wrong_password_is_401_after_one_retry(emulator: Any) -> None:
    with client_for(emulator, password="wrong") as c, pytest.raises(EconnectAuthenticationError):
        recognise(c, "jane.jpg")


def test_no_publish_permission_is_403(emulator: Any) -> None:
    with (
        client_for(emulator, "no-publish") as c,
        pytest.raises(EconnectPermissionError, match="Face Publishing"),
    ):
        recognise(c, "jane.jpg")


def test_server_error_is_5xx(client: EconnectClient, emulator: Any) -> None:
    emulator.faults.update(error_rate=1.0)
    with pytest.raises(EconnectServerError):
        recognise(client, "jane.jpg")


def test_bad_request_carries_the_server_message(client: EconnectClient) -> None:
    with pytest.raises(EconnectBadRequestError, match="Face bytes are empty"):
        client.run(_empty_image_operation())


def _empty_image_operation() -> Any:
    from econnect_identities import protocol
    from econnect_identities.flows import Operation

    def build(token: str) -> Any:
        return protocol.HttpRequest(
            "POST",
            protocol.PUBLISH_WITH_RESPONSE_PATH,
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            b'{"expanded": "", "detectorName": "d", "ianaTimeZone": "UTC",'
            b' "detectTimeUtc": "2026-01-01T00:00:00Z"}',
        )

    return Operation("publishWithResponse", build, protocol.parse_recognition_response)


def test_non_json_and_wrong_types_are_protocol_errors(
    client: EconnectClient, emulator: Any
) -> None:
    emulator.faults.update(non_json=True)
    with pytest.raises(EconnectProtocolError):
        recognise(client, "jane.jpg")
    emulator.faults.update(non_json=False, wrong_types=True)
    with pytest.raises(EconnectProtocolError):
        recognise(client, "jane.jpg")


def test_timeout_and_unreachable(emulator: Any) -> None:
    emulator.faults.update(latency_ms=1500)
    with client_for(emulator, timeout=0.5) as c, pytest.raises(EconnectTimeoutError):
        recognise(c, "jane.jpg")
    with (
        EconnectClient("http://127.0.0.1:9", username="u", password="p") as c,
        pytest.raises(EconnectConnectionError, match="Cannot reach"),
    ):
        recognise(c, "jane.jpg")


def test_one_second_tokens_from_many_threads() -> None:
    """Hundreds of calls over tokens that expire every second: no failure, renewals counted."""
    from econnect_bridge.emulator import Emulator

    emulator = Emulator(token_lifetime=1).start()
    emulator.faults.update(latency_ms=60)  # 40 calls x 60 ms: each thread spans ~2.5 s
    failures: list[BaseException] = []
    calls_per_thread = 40

    with client_for(emulator, pool_size=8) as c:

        def worker() -> None:
            for _ in range(calls_per_thread):
                try:
                    assert recognise(c, "bob.png").outcome == "known"
                except BaseException as err:
                    failures.append(err)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        renewals, logins = c.renewals, c.authentications
    stats = emulator.stats()
    emulator.stop()
    assert failures == []
    print(f"8 threads x {calls_per_thread} calls: {logins} sign-ins, {renewals} renewals")
    assert stats["requests"]["publishWithResponse"]["200"] == 8 * calls_per_thread
    # Calls span several seconds, so the token was replaced many times, and only by one
    # thread at a time: the engine saw exactly the sign-ins and renewals the client counted.
    assert renewals + logins >= 3
    assert stats["renewals"] == renewals
    assert stats["authentications"] == logins


def test_self_signed_https_needs_the_ca_file(tmp_path: Path) -> None:
    from econnect_bridge.emulator import Emulator, load_gallery, sample_gallery_path

    certs = make_certs(tmp_path)
    emu = Emulator(
        gallery=load_gallery(sample_gallery_path()),
        host="127.0.0.1",
        port=0,
        certfile=str(certs.cert),
        keyfile=str(certs.key),
    )
    emu.start()
    try:
        assert emu.url.startswith("https://")
        with client_for(emu) as c, pytest.raises(EconnectTLSError, match=r"api\.ca_file"):
            recognise(c, "jane.jpg")
        with client_for(emu, ca_file=str(certs.ca)) as c:
            assert recognise(c, "jane.jpg").outcome == "known"
    finally:
        emu.stop()


def test_verify_ssl_false_warns(emulator: Any, caplog: pytest.LogCaptureFixture) -> None:
    with client_for(emulator, verify_ssl=False):
        pass
    assert "TLS verification" in caplog.text
    assert "bridge-password" not in caplog.text


class CountingForwarder:
    """A TCP forwarder in front of the engine that counts the connections clients open."""

    def __init__(self, port: int) -> None:
        self.accepted = 0
        self._target = port
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                incoming, _ = self._server.accept()
                self.accepted += 1
                outgoing = socket.create_connection(("127.0.0.1", self._target))
                for a, b in ((incoming, outgoing), (outgoing, incoming)):
                    threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._server.close()


def test_one_connection_serves_every_call_of_a_thread(emulator: Any) -> None:
    """A snapshot costs no new connection: the pooled one is kept alive and used again."""
    forwarder = CountingForwarder(emulator.port)
    try:
        with EconnectClient(
            f"http://127.0.0.1:{forwarder.port}", username="bridge", password="bridge-password"
        ) as c:
            for _ in range(20):
                recognise(c, "jane.jpg")
    finally:
        forwarder.close()
    assert forwarder.accepted == 1
