"""Synchronous driver: runs the protocol flows over one pooled `urllib3` connection pool.

Many worker threads share one client. The pool is sized for them and blocks beyond that, and a
lock around the token flow makes one renewal serve every thread that needed it. A bare urllib3
pool rather than a `requests.Session`: one request per snapshot, and the session's machinery
cost more CPU than the rest of the call (see docs/performance.md).
"""

from __future__ import annotations

import http.client
import logging
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import urllib3

from econnect_bridge.http_session import (
    BodyDeadlineError,
    BodyTooLargeError,
    EngineConnections,
    one_line_error,
    read_limited,
    verify_setting,
)
from econnect_identities import protocol
from econnect_identities.errors import (
    EconnectConnectionError,
    EconnectProtocolError,
    EconnectTimeoutError,
    looks_like_tls,
    refuses_plain_http,
    scheme_error,
    ssl_failure,
    tls_probe,
)
from econnect_identities.flows import NeedToken, Operation, Step, drive, operation_flow, token_flow
from econnect_identities.models import Person, PublishOptions, RecognitionResult, Tag
from econnect_identities.operations import (
    people_operation,
    publish_operation,
    publish_request,
    recognition_operation,
    tags_operation,
)
from econnect_identities.protocol import HttpRequest, HttpResponse
from econnect_identities.tokens import TokenState

_LOGGER = logging.getLogger(__name__)
T = TypeVar("T")

#: A reply larger than this is not a recognition result: stop reading and fail clearly.
MAX_RESPONSE_BYTES = 8 * 1024 * 1024


class EconnectClient:
    """Talk to one eConnect Identities engine from any number of threads."""

    def __init__(
        self,
        base_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        verify_ssl: bool = True,
        ca_file: str | None = None,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        pool_size: int = 10,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = protocol.normalise_base_url(base_url)
        self._state = TokenState(username=username, password=password, static_token=token)
        self._token_lock = threading.Lock()
        self._timeout = (connect_timeout, timeout)
        self._urllib3_timeout = urllib3.Timeout(connect=connect_timeout, read=timeout)
        self._clock = clock
        # Proxies read once, TLS as configured, a blocking pool: see http_session.
        self._verify = verify_setting(verify_ssl=verify_ssl, ca_file=ca_file)
        self._pool = EngineConnections(self.base_url, pool_size=pool_size, verify=self._verify)
        if not verify_ssl:
            _LOGGER.warning(
                "TLS verification of %s is OFF (api.verify_ssl: false): anyone on the network "
                "could impersonate the engine. Prefer api.ca_file.",
                self.base_url,
            )

    def __repr__(self) -> str:
        return f"EconnectClient({self.base_url!r}, username={self._state.username!r})"

    def __enter__(self) -> EconnectClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self._pool.close()

    @property
    def authentications(self) -> int:
        """Return how many times the client signed in (for health figures and tests)."""
        return self._state.authentications

    @property
    def renewals(self) -> int:
        """Return how many times the client renewed its token ahead of expiry."""
        return self._state.renewals

    def authenticate(self) -> None:
        """Make sure a valid token is held, signing in now if needed (fails fast on bad creds)."""
        self._token(stale=None)

    def publish_with_response(
        self,
        image: bytes,
        *,
        detector_name: str,
        time_zone: str,
        detect_time: datetime | None = None,
        options: PublishOptions | None = None,
    ) -> RecognitionResult:
        """Recognise the faces in `image` and return what the engine found."""
        request = publish_request(image, detector_name, time_zone, detect_time, options)
        return self.run(recognition_operation(request))

    def publish(
        self,
        image: bytes,
        *,
        detector_name: str,
        time_zone: str,
        detect_time: datetime | None = None,
    ) -> None:
        """Hand `image` to the engine without waiting for a result (fire-and-forget)."""
        request = publish_request(image, detector_name, time_zone, detect_time, None)
        self.run(publish_operation(request))

    def tags(self) -> tuple[Tag, ...]:
        """Return the roster's tags (needs a tag-read permission)."""
        return self.run(tags_operation())

    def people(self, tag_id: str) -> tuple[Person, ...]:
        """Return the people carrying a tag (needs "Read All Identity")."""
        return self.run(people_operation(tag_id))

    def run(self, operation: Operation[T]) -> T:
        """Drive one operation flow to its parsed result."""
        flow = operation_flow(operation, can_reauthenticate=self._state.can_reauthenticate)
        return drive(flow, self._answer)

    def _answer(self, step: Step) -> Any:
        if isinstance(step, NeedToken):
            return self._token(step.stale)
        return self._send(step)

    def _token(self, stale: str | None) -> str:
        with self._token_lock:
            return drive(token_flow(self._state, self._clock(), stale), self._send)

    def _send(self, request: HttpRequest) -> HttpResponse:
        """Send one request; the only place where transport errors become ours."""
        try:
            status, body, headers = self._exchange(request)
        except BodyTooLargeError as err:
            msg = f"The engine's answer is larger than {err.limit} bytes"
            raise EconnectProtocolError(msg, status=err.status) from err
        except urllib3.exceptions.SSLError as err:
            raise ssl_failure(one_line_error(err), self.base_url) from err
        except (BodyDeadlineError, urllib3.exceptions.TimeoutError) as err:
            if isinstance(err, urllib3.exceptions.NewConnectionError):  # refused, not slow
                raise self._unreachable(err) from err
            msg = f"The engine at {self.base_url} did not answer within {self._timeout[1]:g} s"
            raise EconnectTimeoutError(msg) from err
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise self._unreachable(err) from err
        if self._is_plain_http and refuses_plain_http(status, body):
            detail = f"HTTP {status}: the server refused a plain HTTP request"
            raise scheme_error(self.base_url, "https", detail)
        return HttpResponse(status, body, headers)

    def _exchange(self, request: HttpRequest) -> tuple[int, bytes, dict[str, str]]:
        """One request and its whole answer, read within the call's time and size limits.

        A half-read answer (too large, too slow, broken) leaves the connection unusable, so
        it is closed before it goes back to the pool.
        """
        response = self._pool.open(
            request.method,
            request.url(self.base_url),
            body=request.body,
            headers=dict(request.headers),
            timeout=self._urllib3_timeout,
        )
        try:
            deadline = time.monotonic() + sum(self._timeout)
            body = read_limited(response, limit=MAX_RESPONSE_BYTES, deadline=deadline)
        except BaseException:
            response.close()
            raise
        finally:
            response.release_conn()
        return response.status, body, dict(response.headers)

    def _unreachable(self, err: Exception) -> Exception:
        """The error for an engine that could not be reached (or speaks only TLS there)."""
        evidence = self._https_evidence(err)
        if evidence:
            return scheme_error(self.base_url, "https", f"{evidence}: {one_line_error(err)}")
        msg = f"Cannot reach the engine at {self.base_url}: {one_line_error(err)}"
        return EconnectConnectionError(msg)

    @property
    def _is_plain_http(self) -> bool:
        return self.base_url.lower().startswith("http://")

    def _https_evidence(self, err: Exception) -> str:
        """Say why an http:// call failed because the engine speaks only TLS there, or "".

        A reply that is a TLS record settles it. A connection made and then dropped (what
        most TLS servers do with a plain HTTP request) is checked with one TLS handshake; a
        refused or unreachable engine is not probed, nor one behind a proxy.
        """
        if not self._is_plain_http:
            return ""
        if _tls_reply(err):
            return "the plain HTTP request was answered with a TLS record"
        if self._pool.proxied or not _dropped(err):
            return ""
        if speaks_tls(self.base_url, self._timeout[0]):
            return "the plain HTTP request was dropped, and a TLS handshake succeeded"
        return ""


def speaks_tls(base_url: str, timeout: float) -> bool:
    """Return whether the server at `base_url`'s host and port completes a TLS handshake.

    Only a question about the protocol: nothing is sent after the handshake, so the
    certificate is not verified here (the real calls verify it as configured).
    """
    host, port, context = tls_probe(base_url)
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host),
        ):
            return True
    except (OSError, ValueError):  # ssl.SSLError is an OSError
        return False


def _causes(err: BaseException) -> list[BaseException]:
    """The error and what it wraps: urllib3 nests the cause a few levels deep."""
    found: list[BaseException] = []
    pending: list[BaseException] = [err]
    while pending and len(found) < 12:
        current = pending.pop()
        found.append(current)
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
        if current.__cause__ is not None:
            pending.append(current.__cause__)
    return found


def _dropped(err: BaseException) -> bool:
    """Whether the server accepted the connection, then closed or reset it without an answer."""
    kinds = (
        urllib3.exceptions.ProtocolError,
        ConnectionResetError,
        ConnectionAbortedError,
        http.client.BadStatusLine,
    )
    return any(isinstance(cause, kinds) for cause in _causes(err))


def _tls_reply(err: BaseException) -> bool:
    """Whether the "status line" the server sent was a TLS record (an alert, typically)."""
    return any(
        isinstance(cause, http.client.BadStatusLine)
        and bool(cause.args)
        and looks_like_tls(str(cause.args[0]).encode("latin-1", "replace"))
        for cause in _causes(err)
    )
