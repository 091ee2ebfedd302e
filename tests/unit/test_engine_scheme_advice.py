"""A wrong scheme in the engine URL is named as such, for every wording OpenSSL uses."""

from __future__ import annotations

import pytest

from econnect_bridge.doctor import _engine_fix
from econnect_identities.errors import (
    EconnectConnectionError,
    EconnectSchemeError,
    EconnectStrictTLSError,
    EconnectTLSError,
    answered_in_plain_http,
    looks_like_tls,
    refuses_plain_http,
    scheme_error,
    ssl_failure,
    with_scheme,
)

#: What the drivers report when TLS talks to a plain HTTP server, per OpenSSL release.
PLAIN_HTTP_ANSWERS = [
    "HTTPSConnectionPool(host='127.0.0.1', port=6009): Max retries exceeded with url: "
    "/api/v1/authenticate (Caused by SSLError(SSLError(1, '[SSL: WRONG_VERSION_NUMBER] wrong "
    "version number (_ssl.c:1006)')))",
    "Cannot connect to host 127.0.0.1:6009 ssl:default [[SSL: WRONG_VERSION_NUMBER] wrong "
    "version number (_ssl.c:1006)]",
    "[SSL: RECORD_LAYER_FAILURE] record layer failure (_ssl.c:1000)",
    "[SSL: PACKET_LENGTH_TOO_LONG] packet length too long (_ssl.c:1000)",
    "[SSL: UNKNOWN_PROTOCOL] unknown protocol (_ssl.c:600)",
]


@pytest.mark.parametrize("detail", PLAIN_HTTP_ANSWERS)
def test_https_to_a_plain_http_engine(detail: str) -> None:
    err = ssl_failure(detail, "https://engine.local:6009/identities")
    assert isinstance(err, EconnectSchemeError)
    assert not isinstance(err, EconnectTLSError)
    assert err.code == "engine_unreachable"  # the published codes do not change
    assert err.suggested_url == "http://engine.local:6009/identities"
    assert str(err).startswith(
        "Cannot talk to the engine at https://engine.local:6009/identities: the engine speaks "
        "plain HTTP at this address: use http://engine.local:6009/identities instead of "
        "https://engine.local:6009/identities"
    )
    assert "set api.ca_file" not in str(err)
    assert _engine_fix(err) == err.advice
    assert err.advice.startswith("the engine speaks plain HTTP at this address: use http://")


def test_certificate_failures_keep_their_advice() -> None:
    url = "https://engine.local:5009"
    plain = ssl_failure("certificate verify failed: unable to get local issuer certificate", url)
    assert type(plain) is EconnectTLSError
    assert "set api.ca_file" in str(plain)
    strict = ssl_failure("certificate verify failed: Missing Subject Key Identifier", url)
    assert isinstance(strict, EconnectStrictTLSError)


def test_plain_http_words_on_an_http_url_are_not_a_scheme_mistake() -> None:
    # only a TLS handshake can fail this way; over http:// the text means something else
    err = ssl_failure("wrong version number", "http://engine.local:6009")
    assert not isinstance(err, EconnectSchemeError)


def test_http_to_an_https_engine() -> None:
    err = scheme_error("http://engine.local:5009", "https", "connection reset")
    assert isinstance(err, EconnectConnectionError)
    assert str(err).startswith(
        "Cannot talk to the engine at http://engine.local:5009: the engine speaks HTTPS at this "
        "address: use https://engine.local:5009 instead of http://engine.local:5009"
    )
    assert "firewall" not in str(err)
    assert "firewall" not in _engine_fix(err)


def test_recognisers() -> None:
    assert answered_in_plain_http("[SSL: WRONG_VERSION_NUMBER] wrong version number")
    assert not answered_in_plain_http("certificate verify failed: certificate has expired")
    nginx = b"<html><center>The plain HTTP request was sent to HTTPS port</center></html>"
    assert refuses_plain_http(400, nginx)
    assert refuses_plain_http(400, b"Client sent an HTTP request to an HTTPS server.\n")
    assert refuses_plain_http(400, b"You're speaking plain HTTP to an SSL-enabled server port.")
    assert not refuses_plain_http(400, b'{"message": "detectorName is required"}')
    assert not refuses_plain_http(200, nginx)
    assert looks_like_tls(b"\x15\x03\x03\x00\x02\x02\x46")
    assert not looks_like_tls(b"HTTP/1.1 200 OK")
    assert with_scheme("https://h:1/p?q=1", "http") == "http://h:1/p?q=1"
