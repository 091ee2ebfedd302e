"""The one error tree of the eConnect protocol, so callers catch what they can act on.

```
EconnectError
├── EconnectConnectionError          cannot reach the engine
│   ├── EconnectTimeoutError         connect or read timeout
│   ├── EconnectSchemeError          http:// for an HTTPS engine or the reverse (says which)
│   └── EconnectTLSError             certificate not trusted (says how to set ca_file)
│       └── EconnectStrictTLSError   CA trusted, but strict checks refuse (says what to re-issue)
└── EconnectResponseError            the engine answered, but not with success (.status)
    ├── EconnectBadRequestError      400, with the server's message
    ├── EconnectAuthenticationError  401 after one re-authentication
    ├── EconnectPermissionError      403: names the "Face Publishing" permission
    ├── EconnectServerError          5xx
    └── EconnectProtocolError        a reply that is not what the contract says
```

Every message is written for the person reading the log: what happened and what to do.
Messages never contain a password, a token or image bytes.
"""

from __future__ import annotations

import ssl
from typing import Final, Literal
from urllib.parse import urlsplit, urlunsplit

FACE_PUBLISHING = "Face Publishing"

#: The section of docs/security.md with the openssl commands for certificates that strict
#: verification accepts; every strictness message points there.
STRICT_TLS_DOCS: Final = "docs/security.md#strict-tls"


class EconnectError(Exception):
    """Root of every error raised by the eConnect client."""

    #: A short stable identifier, used as the `code` of error events and HA translation keys.
    code = "engine_error"


class EconnectConnectionError(EconnectError):
    """The engine could not be reached (DNS, refused, reset, TLS)."""

    code = "engine_unreachable"


class EconnectTimeoutError(EconnectConnectionError):
    """The engine did not answer within the configured timeout."""

    code = "engine_timeout"


class EconnectSchemeError(EconnectConnectionError):
    """The engine URL names the wrong scheme: https:// for a plain-HTTP engine or the reverse.

    Its own class because neither the CA file nor the network is the problem: the URL is.
    The code stays `engine_unreachable`, so error events and translations keep their codes.
    """

    def __init__(self, message: str, *, suggested_url: str, advice: str) -> None:
        super().__init__(message)
        #: The engine URL with the scheme the engine really speaks.
        self.suggested_url = suggested_url
        #: What to change, in one sentence (the doctor prints it as the fix).
        self.advice = advice


class EconnectTLSError(EconnectConnectionError):
    """The engine's certificate failed verification."""

    code = "tls_error"


class EconnectStrictTLSError(EconnectTLSError):
    """The CA is trusted, but a certificate lacks what strict (RFC 5280) verification requires.

    Its own class because the fix is different: the CA is already trusted, the certificates
    must be re-issued. The code stays `tls_error`, so error events keep their published codes.
    """


class EconnectResponseError(EconnectError):
    """The engine answered with a status that is not success."""

    code = "engine_refused"

    def __init__(self, message: str, *, status: int, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


class EconnectBadRequestError(EconnectResponseError):
    """400: the engine refused the request as invalid."""

    code = "bad_request"


class EconnectAuthenticationError(EconnectResponseError):
    """401 even after authenticating again: wrong credentials or a revoked token."""

    code = "auth_failed"


class EconnectPermissionError(EconnectResponseError):
    """403: the account lacks a permission (Face Publishing for the publish endpoints)."""

    code = "permission_denied"


class EconnectServerError(EconnectResponseError):
    """5xx: the engine failed; worth retrying later."""

    code = "server_error"


class EconnectProtocolError(EconnectResponseError):
    """The engine answered success with a body that does not follow the contract."""

    code = "bad_response"


#: OpenSSL's words for each check that strict verification (X509_V_FLAG_X509_STRICT, which
#: Python 3.13 sets in `ssl.create_default_context`) adds, and what each means for the person
#: who made the certificates, with the openssl setting that fixes it.
STRICT_FAULTS: Final[tuple[tuple[str, str], ...]] = (
    (
        "Missing Authority Key Identifier",
        "the server's certificate (or an intermediate CA's) has no Authority Key Identifier with "
        "a key id (authorityKeyIdentifier=keyid:always); a CA without a Subject Key Identifier "
        "cannot give its certificates one",
    ),
    (
        "Missing Subject Key Identifier",
        "the CA certificate has no Subject Key Identifier (subjectKeyIdentifier=hash)",
    ),
    (
        "Basic Constraints of CA cert not marked critical",
        "the CA certificate's Basic Constraints are not marked critical "
        "(basicConstraints=critical,CA:TRUE)",
    ),
    (
        "CA cert does not include key usage extension",
        "the CA certificate has no Key Usage extension (keyUsage=critical,keyCertSign,cRLSign)",
    ),
    (
        "Empty Subject Alternative Name extension",
        "the server's certificate has an empty Subject Alternative Name "
        "(subjectAltName=DNS:<host name>,IP:<address>)",
    ),
    (
        "Subject empty and Subject Alt Name extension not critical",
        "a certificate has an empty subject and a Subject Alternative Name not marked critical",
    ),
    (
        "Authority Key Identifier marked critical",
        "a certificate marks its Authority Key Identifier critical, which RFC 5280 forbids",
    ),
    (
        "Subject Key Identifier marked critical",
        "a certificate marks its Subject Key Identifier critical, which RFC 5280 forbids",
    ),
    (
        "Path length invalid for non-CA cert",
        "the server's certificate sets a path length although it is not a CA "
        "(basicConstraints=critical,CA:FALSE)",
    ),
    (
        "Path length given without key usage keyCertSign",
        "the CA certificate sets a path length but its Key Usage lacks keyCertSign",
    ),
    (
        "Key usage keyCertSign invalid for non-CA cert",
        "the server's certificate has keyCertSign in its Key Usage although it is not a CA",
    ),
    ("Issuer name empty", "a certificate has an empty issuer name"),
    ("Subject name empty", "a certificate (the CA's, or one without a SAN) has an empty subject"),
    (
        "Using cert extension requires at least X509v3",
        "a certificate is X.509 version 1 but carries extensions",
    ),
    (
        "Certificate public key has explicit ECC parameters",
        "a certificate's EC key has explicit curve parameters instead of a named curve",
    ),
    (
        "cert info signature and signature algorithm mismatch",
        "a certificate names two different signature algorithms",
    ),
)


def strict_tls_advice(text: str) -> str | None:
    """Explain a certificate refused by strict verification, or return None for other failures.

    Python 3.13 refuses certificates that 3.11 and curl accept, although the CA is trusted:
    advice to set the CA file would send the user in circles, so this names the missing
    extension and the re-issue recipe. It never suggests turning verification off.

    Args:
        text: An SSL error's text (however deeply a library nested it) or
            `ssl.SSLCertVerificationError.verify_message`.

    Returns:
        One paragraph for the log, starting with OpenSSL's reason; None when the failure is
        not one of the checks strict verification adds (an untrusted CA, an expired
        certificate, a wrong host name).
    """
    lowered = text.lower()
    for reason, fault in STRICT_FAULTS:
        if reason.lower() in lowered:
            return (
                f"certificate verify failed: {reason}. Python 3.13 and later verify certificates "
                f"strictly (RFC 5280, VERIFY_X509_STRICT), and {fault}. Python 3.11 and curl "
                "accept such certificates, but verification is never relaxed to accept them. "
                "Fix: re-issue the certificate(s) named above with the openssl commands in "
                f"{STRICT_TLS_DOCS}"
            )
    return None


def tls_error(detail: str) -> EconnectTLSError:
    """Return the error for an engine certificate that failed verification, with its fix.

    Reached through `ssl_failure`, the one place both drivers turn an SSL failure into
    ours, so the requests and aiohttp paths give the same advice.

    Args:
        detail: The transport's description of the failure.

    Returns:
        An `EconnectStrictTLSError` naming what to re-issue when strict checks refused the
        certificate, else an `EconnectTLSError` saying how to trust a private CA.
    """
    advice = strict_tls_advice(detail)
    if advice is None:
        return EconnectTLSError(tls_hint(detail))
    return EconnectStrictTLSError(f"The engine's TLS certificate was refused: {advice}")


def tls_hint(detail: str) -> str:
    """Explain a certificate failure and how to trust a private CA."""
    return (
        f"TLS certificate verification failed ({detail}). If the engine uses a private or "
        "self-signed certificate, set api.ca_file to the CA's PEM file; set api.verify_ssl: false "
        "only if you accept that anyone on the network could impersonate the engine."
    )


#: What OpenSSL says when the answer to its TLS handshake is not TLS at all, as when a plain
#: HTTP server answers the ClientHello with "HTTP/1.1 400": OpenSSL 1.1 and 3.0 say "wrong
#: version number", later releases "record layer failure" or "packet length too long",
#: older ones "unknown protocol".
PLAIN_HTTP_FAULTS: Final[tuple[str, ...]] = (
    "wrong version number",
    "wrong_version_number",
    "record layer failure",
    "record_layer_failure",
    "packet length too long",
    "packet_length_too_long",
    "unknown protocol",
)

#: What HTTPS servers answer (with 400) to a plain HTTP request sent to their TLS port:
#: nginx, Apache, Go's net/http, and the shorter wording other servers use.
HTTPS_ONLY_REPLIES: Final[tuple[str, ...]] = (
    "plain http request was sent to https port",
    "speaking plain http to an ssl-enabled server port",
    "client sent an http request to an https server",
    "http request to an https server",
)


def answered_in_plain_http(text: str) -> bool:
    """Return whether an SSL error's text says the other end answered in plain HTTP."""
    lowered = text.lower()
    return any(fault in lowered for fault in PLAIN_HTTP_FAULTS)


def refuses_plain_http(status: int, body: bytes) -> bool:
    """Return whether a reply is an HTTPS server refusing a plain HTTP request (400 + text)."""
    if status != 400:
        return False
    lowered = body[:4096].decode("utf-8", "replace").lower()
    return any(reply in lowered for reply in HTTPS_ONLY_REPLIES)


def looks_like_tls(data: bytes) -> bool:
    """Return whether bytes read as an HTTP reply are a TLS record (an alert or a handshake).

    A TLS server that receives plain HTTP often answers with an alert record: content type
    21 (or 22), then the protocol version 3.x.
    """
    return len(data) >= 3 and data[0] in (0x15, 0x16) and data[1] == 0x03


def with_scheme(base_url: str, scheme: Literal["http", "https"]) -> str:
    """Return `base_url` with another scheme; the host, port and path stay."""
    parts = urlsplit(base_url)
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, parts.fragment))


def scheme_advice(base_url: str, speaks: Literal["http", "https"]) -> str:
    """Say which scheme the engine at `base_url` really speaks and which URL to use."""
    better = with_scheme(base_url, speaks)
    if speaks == "http":
        return (
            f"the engine speaks plain HTTP at this address: use {better} instead of "
            f"{base_url} (the engine URL, api.url). No certificate is involved, so a CA file "
            "or api.verify_ssl changes nothing"
        )
    return (
        f"the engine speaks HTTPS at this address: use {better} instead of {base_url} "
        "(the engine URL, api.url); with a private CA, also set api.ca_file"
    )


def scheme_error(
    base_url: str, speaks: Literal["http", "https"], detail: str
) -> EconnectSchemeError:
    """Return the error for an engine URL with the wrong scheme, naming the right URL."""
    advice = scheme_advice(base_url, speaks)
    message = f"Cannot talk to the engine at {base_url}: {advice}. ({detail})"
    return EconnectSchemeError(message, suggested_url=with_scheme(base_url, speaks), advice=advice)


def ssl_failure(detail: str, base_url: str) -> EconnectConnectionError:
    """Return the error for any SSL failure of a call to `base_url`, with its fix.

    The one place both drivers turn an SSL failure into ours. A handshake that a plain HTTP
    server answered is a wrong scheme, not a certificate problem: advice to set the CA file
    would change nothing. Everything else goes to `tls_error`.

    Args:
        detail: The transport's description of the failure.
        base_url: The engine URL the call used.

    Returns:
        An `EconnectSchemeError` naming the http:// URL, or what `tls_error` returns.
    """
    if base_url.lower().startswith("https://") and answered_in_plain_http(detail):
        return scheme_error(base_url, "http", detail)
    return tls_error(detail)


def tls_probe(base_url: str) -> tuple[str, int, ssl.SSLContext]:
    """Where and how to ask whether the server at `base_url` speaks TLS (both drivers ask).

    Host and port of the URL (80 when none is given: the question comes up for http://), and a
    context that verifies nothing: it is a question about the protocol, not about trust, and
    nothing is sent after the handshake. Building it reads no file, so an event loop may too.
    """
    parts = urlsplit(base_url)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return parts.hostname or "", parts.port or 80, context
