"""The wrong scheme in the engine URL, against real servers on loopback, with both drivers.

`https://` for a plain-HTTP engine fails the TLS handshake with "wrong version number" (or, with
other OpenSSL releases, "record layer failure" / "packet length too long"): no CA file can fix
that. `http://` for an HTTPS engine makes the server reset the connection, answer with a TLS
alert or with 400 "plain HTTP request was sent to HTTPS port". Each must say which scheme the
engine speaks and which URL to use, and never send the user to api.ca_file or the firewall.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from econnect_bridge.client import EconnectClient
from econnect_bridge.config import load_config
from econnect_bridge.doctor import DoctorOptions, check_engine
from econnect_bridge.emulator import Emulator
from econnect_identities.aio import AsyncEconnectClient, build_ssl_context
from econnect_identities.errors import EconnectConnectionError, EconnectSchemeError
from tests.support.certs import CertFiles, make_certs

pytestmark = pytest.mark.integration
USER, PASSWORD = "bridge", "bridge-password"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def plain() -> Iterator[Emulator]:
    """The emulator speaking plain HTTP."""
    with Emulator(host="127.0.0.1", port=0) as emu:
        yield emu


@pytest.fixture(scope="module")
def tls(certs: CertFiles) -> Iterator[Emulator]:
    """The emulator speaking HTTPS with the test CA's certificate."""
    with Emulator(host="127.0.0.1", port=0, certfile=certs.cert, keyfile=certs.key) as emu:
        yield emu


def one_reply_server(reply: Callable[[bytes], bytes]) -> Iterator[str]:
    """A TCP server on loopback answering each request with `reply(request)`; yields its URL."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _addr = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn, contextlib.suppress(OSError):
                conn.settimeout(2)
                conn.sendall(reply(conn.recv(65536)))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(2)
    server.close()


@pytest.fixture
def alerting() -> Iterator[str]:
    """Answers a plain HTTP request with a TLS alert record, as some TLS stacks do."""
    yield from one_reply_server(lambda _request: b"\x15\x03\x03\x00\x02\x02\x46")


@pytest.fixture
def nginx_like() -> Iterator[str]:
    """Answers a plain HTTP request as nginx does on its TLS port."""
    body = b"<html><center>The plain HTTP request was sent to HTTPS port</center></html>"
    head = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\nConnection: close\r\n"
    reply = head + b"Content-Length: %d\r\n\r\n" % len(body) + body
    yield from one_reply_server(lambda _request: reply)


def swap(url: str, scheme: str) -> str:
    return scheme + "://" + url.split("://", 1)[1]


def sign_in_sync(url: str, ca_file: Path | None = None) -> EconnectConnectionError:
    client = EconnectClient(
        url, username=USER, password=PASSWORD, ca_file=str(ca_file) if ca_file else None
    )
    with client, pytest.raises(EconnectConnectionError) as caught:
        client.authenticate()
    return caught.value


def sign_in_async(url: str, ca_file: Path | None = None) -> EconnectConnectionError:
    async def attempt() -> EconnectConnectionError:
        context = build_ssl_context(verify_ssl=True, ca_file=str(ca_file) if ca_file else None)
        async with aiohttp.ClientSession() as session:
            client = AsyncEconnectClient(
                session, url, username=USER, password=PASSWORD, ssl_context=context
            )
            with pytest.raises(EconnectConnectionError) as caught:
                await client.authenticate()
            return caught.value

    return asyncio.run(attempt())


DRIVERS = pytest.mark.parametrize("sign_in", [sign_in_sync, sign_in_async], ids=["sync", "aio"])


def assert_plain_http_advice(err: EconnectConnectionError, plain_url: str) -> None:
    assert isinstance(err, EconnectSchemeError), err
    text = str(err)
    assert f"the engine speaks plain HTTP at this address: use {plain_url} " in text
    assert "TLS certificate verification failed" not in text
    assert "set api.ca_file" not in text
    assert err.suggested_url == plain_url


def assert_https_advice(err: EconnectConnectionError, https_url: str) -> None:
    assert isinstance(err, EconnectSchemeError), err
    text = str(err)
    assert f"the engine speaks HTTPS at this address: use {https_url} " in text
    assert "proxy, firewall" not in text
    assert err.suggested_url == https_url


@DRIVERS
def test_https_for_a_plain_http_engine(
    sign_in: Callable[..., EconnectConnectionError], plain: Emulator, certs: CertFiles
) -> None:
    wrong = swap(plain.url, "https")
    assert_plain_http_advice(sign_in(wrong), plain.url)
    # with a CA file, as a user following the old advice would have set it: the same advice
    assert_plain_http_advice(sign_in(wrong, certs.ca), plain.url)


@DRIVERS
def test_http_for_an_https_engine(
    sign_in: Callable[..., EconnectConnectionError], tls: Emulator
) -> None:
    assert_https_advice(sign_in(swap(tls.url, "http")), tls.url)


@DRIVERS
def test_http_answered_with_a_tls_alert(
    sign_in: Callable[..., EconnectConnectionError], alerting: str
) -> None:
    assert_https_advice(sign_in(alerting), swap(alerting, "https"))


@DRIVERS
def test_http_answered_with_400_plain_http_to_https_port(
    sign_in: Callable[..., EconnectConnectionError], nginx_like: str
) -> None:
    assert_https_advice(sign_in(nginx_like), swap(nginx_like, "https"))


@DRIVERS
def test_an_engine_that_is_down_is_not_a_scheme_mistake(
    sign_in: Callable[..., EconnectConnectionError],
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # closed when the block ends: connections are refused
    err = sign_in(f"http://127.0.0.1:{port}")
    assert not isinstance(err, EconnectSchemeError)
    assert "Cannot reach the engine" in str(err)


def test_the_right_schemes_still_work(plain: Emulator, tls: Emulator, certs: CertFiles) -> None:
    with EconnectClient(plain.url, username=USER, password=PASSWORD) as client:
        client.authenticate()
    with EconnectClient(tls.url, username=USER, password=PASSWORD, ca_file=str(certs.ca)) as c:
        c.authenticate()

    async def both() -> None:
        context = build_ssl_context(verify_ssl=True, ca_file=str(certs.ca))
        async with aiohttp.ClientSession() as session:
            for url in (plain.url, tls.url):
                client = AsyncEconnectClient(
                    session, url, username=USER, password=PASSWORD, ssl_context=context
                )
                await client.authenticate()

    asyncio.run(both())


def doctor_sign_in(tmp_path: Path, url: str, ca_file: Path | None = None) -> tuple[str, str]:
    path = tmp_path / "config.yaml"
    ca = f"  ca_file: {ca_file}\n" if ca_file else ""
    path.write_text(
        f"api:\n  url: {url}\n  username: {USER}\n  password: {PASSWORD}\n  time_zone: UTC\n"
        f"{ca}mqtt:\n  host: 127.0.0.1\n"
        "cameras:\n  - name: porch\n    topic: cameras/porch/snapshot\n"
    )
    found = check_engine(load_config(path), DoctorOptions(publish_test_image=False))
    sign_in = next(f for f in found if f.check == "sign in")
    assert sign_in.status == "fail", sign_in
    assert sign_in.fix is not None
    return sign_in.detail, sign_in.fix


def test_doctor_gives_the_same_advice(tmp_path: Path, plain: Emulator, tls: Emulator) -> None:
    detail, fix = doctor_sign_in(tmp_path, swap(plain.url, "https"))
    advice = f"the engine speaks plain HTTP at this address: use {plain.url} "
    assert advice in detail
    assert fix.startswith(advice)
    assert "api.ca_file" not in fix

    detail, fix = doctor_sign_in(tmp_path, swap(tls.url, "http"))
    advice = f"the engine speaks HTTPS at this address: use {tls.url} "
    assert advice in detail
    assert fix.startswith(advice)
    assert "firewall" not in fix
