"""The one error tree of the eConnect protocol, so callers catch what they can act on.

```
EconnectError
├── EconnectConnectionError          cannot reach the engine
│   ├── EconnectTimeoutError         connect or read timeout
│   └── EconnectTLSError             certificate not trusted (says how to set ca_file)
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

FACE_PUBLISHING = "Face Publishing"


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


class EconnectTLSError(EconnectConnectionError):
    """The engine's certificate failed verification."""

    code = "tls_error"


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


def tls_hint(detail: str) -> str:
    """Explain a certificate failure and how to trust a private CA."""
    return (
        f"TLS certificate verification failed ({detail}). If the engine uses a private or "
        "self-signed certificate, set api.ca_file to the CA's PEM file; set api.verify_ssl: false "
        "only if you accept that anyone on the network could impersonate the engine."
    )
