"""Strict-verification advice: one pure function, and every place that reports TLS failures."""

from __future__ import annotations

import ctypes
import ctypes.util
import ssl
from pathlib import Path

import pytest

from econnect_bridge.config import config_from_dict
from econnect_bridge.config.model import MqttConfig
from econnect_bridge.doctor import _connect_fix, _engine_fix
from econnect_bridge.mqtt import describe_connect_error
from econnect_identities.errors import (
    STRICT_FAULTS,
    STRICT_TLS_DOCS,
    EconnectStrictTLSError,
    EconnectTLSError,
    strict_tls_advice,
    tls_error,
)

ROOT = Path(__file__).resolve().parents[2]
#: What requests says, nesting urllib3's and ssl's errors, for a legacy CA on Python 3.13.
REQUESTS_TEXT = (
    "HTTPSConnectionPool(host='127.0.0.1', port=35077): Max retries exceeded with url: "
    "/api/v1/authenticate (Caused by SSLError(SSLCertVerificationError(1, '[SSL: "
    "CERTIFICATE_VERIFY_FAILED] certificate verify failed: Missing Authority Key Identifier "
    "(_ssl.c:1020)')))"
)
NOT_STRICT = [
    "unable to get local issuer certificate",
    "self-signed certificate in certificate chain",
    "certificate has expired",
    "IP address mismatch, certificate is not valid for '127.0.0.1'.",
    "invalid non-CA certificate (has CA markings)",
    "invalid CA certificate",  # also without strict checks: a root marked CA:FALSE
    "key usage does not include certificate signing",
    "",
]


def verification_error(reason: str, code: int = 85) -> ssl.SSLCertVerificationError:
    """Build the error `ssl` raises, with the attributes the handshake sets."""
    err = ssl.SSLCertVerificationError(
        1, f"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {reason} (_ssl.c:1020)"
    )
    err.verify_message = reason
    err.verify_code = code
    return err


def openssl_verify_messages() -> set[str]:
    """Every X509_verify_cert_error_string of the libcrypto that `ssl` runs on."""
    maps = Path("/proc/self/maps")
    loaded = [line.split()[-1] for line in maps.read_text().splitlines() if "libcrypto" in line]
    path = loaded[0] if loaded else ctypes.util.find_library("crypto")
    assert path, "cannot find the libcrypto that the ssl module uses"
    describe = ctypes.CDLL(path).X509_verify_cert_error_string
    describe.restype = ctypes.c_char_p
    describe.argtypes = [ctypes.c_long]
    return {describe(code).decode() for code in range(256)}


def test_reasons_are_openssl_own_words() -> None:
    """A reason that OpenSSL never prints would never match: compare with libcrypto itself."""
    assert ssl.OPENSSL_VERSION_INFO >= (3, 0), ssl.OPENSSL_VERSION
    assert {reason for reason, _fault in STRICT_FAULTS} <= openssl_verify_messages()


@pytest.mark.parametrize(("reason", "fault"), STRICT_FAULTS)
def test_every_strict_reason_gets_its_own_fix(reason: str, fault: str) -> None:
    advice = strict_tls_advice(f"certificate verify failed: {reason}")
    assert advice is not None
    assert f"certificate verify failed: {reason}." in advice
    assert fault in advice
    assert "Python 3.13 and later verify certificates strictly" in advice
    assert STRICT_TLS_DOCS in advice
    assert "verify_ssl" not in advice


@pytest.mark.parametrize("text", NOT_STRICT)
def test_other_failures_get_no_strict_advice(text: str) -> None:
    assert strict_tls_advice(text) is None


def test_found_deep_in_a_requests_message_and_in_any_case() -> None:
    assert strict_tls_advice(REQUESTS_TEXT) == strict_tls_advice("MISSING AUTHORITY KEY IDENTIFIER")
    assert strict_tls_advice(REQUESTS_TEXT) is not None


def test_tls_error_picks_the_class_and_keeps_the_published_code() -> None:
    strict = tls_error(REQUESTS_TEXT)
    assert isinstance(strict, EconnectStrictTLSError)
    assert strict.code == "tls_error"
    assert str(strict).startswith("The engine's TLS certificate was refused: certificate verify")
    assert "api.ca_file" not in str(strict)
    plain = tls_error("certificate verify failed: unable to get local issuer certificate")
    assert type(plain) is EconnectTLSError
    assert "set api.ca_file" in str(plain)


def test_the_docs_anchor_exists() -> None:
    path, anchor = STRICT_TLS_DOCS.split("#")
    assert f'<a id="{anchor}"></a>' in (ROOT / path).read_text(encoding="utf-8")


def _mqtt(**tls: object) -> MqttConfig:
    """The `mqtt` section of a configuration with TLS on."""
    data = {
        "api": {"url": "https://engine.example", "username": "u", "password": "p"},
        "mqtt": {"tls": {"enabled": True, **tls}},
        "cameras": [{"name": "cam", "topic": "cams/{camera}"}],
    }
    return config_from_dict(data).mqtt


def test_mqtt_log_line_for_a_strict_failure() -> None:
    said = describe_connect_error(verification_error("Missing Subject Key Identifier", 86))
    assert said.startswith("the broker's TLS certificate was refused: certificate verify failed")
    assert "subjectKeyIdentifier=hash" in said
    assert STRICT_TLS_DOCS in said
    assert "never falls back to unencrypted MQTT" in said
    assert "set mqtt.tls.ca_file" not in said
    other = describe_connect_error(verification_error("unable to get local issuer certificate"))
    assert "not trusted" in other
    assert "mqtt.tls.ca_file" in other


def test_doctor_broker_fix_for_a_strict_failure() -> None:
    settings = _mqtt()
    fix = _connect_fix(settings, verification_error("CA cert does not include key usage extension"))
    assert "keyUsage=critical,keyCertSign,cRLSign" in fix
    assert STRICT_TLS_DOCS in fix
    plain = _connect_fix(settings, verification_error("unable to get local issuer certificate"))
    assert plain == "set mqtt.tls.ca_file to the CA that signed the broker's certificate"


def test_doctor_engine_fix_for_a_strict_failure() -> None:
    strict = _engine_fix(tls_error("Basic Constraints of CA cert not marked critical"))
    assert STRICT_TLS_DOCS in strict
    assert "api.ca_file" not in strict
    plain = _engine_fix(tls_error("unable to get local issuer certificate"))
    assert plain == "set api.ca_file to the CA that signed the engine's certificate"
