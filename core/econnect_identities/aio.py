"""Asynchronous driver: runs the same protocol flows over an injected `aiohttp` session.

Home Assistant hands us its shared session (inject-websession), so this module never creates
one. Only this file imports aiohttp; importing `econnect_identities` does not pull it in.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ssl
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, TypeVar

import aiohttp

from econnect_identities import protocol
from econnect_identities.errors import (
    EconnectConnectionError,
    EconnectProtocolError,
    EconnectTimeoutError,
    refuses_plain_http,
    scheme_error,
    ssl_failure,
    tls_probe,
)
from econnect_identities.flows import (
    NeedToken,
    Operation,
    Step,
    drive_async,
    operation_flow,
    token_flow,
)
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

T = TypeVar("T")
MAX_RESPONSE_BYTES = 8 * 1024 * 1024
#: `GET /api/v1/renewToken` as an operation, so a refused token goes through the token flow.
RENEW_OPERATION: Operation[str] = Operation(
    "renewToken", protocol.build_renew, protocol.parse_token
)


def build_ssl_context(*, verify_ssl: bool, ca_file: str | None) -> ssl.SSLContext | bool:
    """Return what aiohttp's `ssl=` needs; this reads files, so call it outside the event loop."""
    if not verify_ssl:
        return False
    if ca_file:
        return ssl.create_default_context(cafile=ca_file)
    return True


class AsyncEconnectClient:
    """Talk to one engine from asyncio code (the Home Assistant integration)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        ssl_context: ssl.SSLContext | bool = True,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = protocol.normalise_base_url(base_url)
        self._session = session
        self._state = TokenState(username=username, password=password, static_token=token)
        self._token_lock = asyncio.Lock()
        self._ssl = ssl_context
        self._timeout = aiohttp.ClientTimeout(
            total=timeout + connect_timeout, sock_connect=connect_timeout, sock_read=timeout
        )
        self._clock = clock

    def __repr__(self) -> str:
        return f"AsyncEconnectClient({self.base_url!r}, username={self._state.username!r})"

    @property
    def authentications(self) -> int:
        """Return how many times the client signed in."""
        return self._state.authentications

    @property
    def renewals(self) -> int:
        """Return how many times the client renewed its token ahead of expiry."""
        return self._state.renewals

    async def authenticate(self) -> None:
        """Sign in now if no valid token is held (the config flow's credential check)."""
        await self._token(None)

    async def renew(self) -> None:
        """Trade the held token for a fresh one: the cheapest call that proves the engine answers.

        Any account may renew, so this suits a health check. The token flow decides whether a
        sign-in comes first: only when no valid token is held, or when the engine refuses the
        held one (401), in which case the renewal is retried once with the new token. A refused
        password raises `EconnectAuthenticationError`, and repeated refusals back off.
        """
        token = await self.run(RENEW_OPERATION)
        async with self._token_lock:
            self._state.accept(token, self._clock(), renewed=True)

    async def publish_with_response(
        self,
        image: bytes,
        *,
        detector_name: str,
        time_zone: str,
        detect_time: datetime | None = None,
        options: PublishOptions | None = None,
    ) -> RecognitionResult:
        """Recognise the faces in `image`."""
        request = publish_request(image, detector_name, time_zone, detect_time, options)
        return await self.run(recognition_operation(request))

    async def publish(
        self,
        image: bytes,
        *,
        detector_name: str,
        time_zone: str,
        detect_time: datetime | None = None,
    ) -> None:
        """Hand `image` to the engine without waiting for a result."""
        request = publish_request(image, detector_name, time_zone, detect_time, None)
        await self.run(publish_operation(request))

    async def tags(self) -> tuple[Tag, ...]:
        """Return the roster's tags."""
        return await self.run(tags_operation())

    async def people(self, tag_id: str) -> tuple[Person, ...]:
        """Return the people carrying a tag."""
        return await self.run(people_operation(tag_id))

    async def run(self, operation: Operation[T]) -> T:
        """Drive one operation flow to its parsed result."""
        flow = operation_flow(operation, can_reauthenticate=self._state.can_reauthenticate)
        return await drive_async(flow, self._answer)

    async def _answer(self, step: Step) -> Any:
        if isinstance(step, NeedToken):
            return await self._token(step.stale)
        return await self._send(step)

    async def _token(self, stale: str | None) -> str:
        async with self._token_lock:
            return await drive_async(token_flow(self._state, self._clock(), stale), self._send)

    async def _send(self, request: HttpRequest) -> HttpResponse:
        """Send one request; the only place where aiohttp errors become ours."""
        try:
            async with self._session.request(
                request.method,
                request.url(self.base_url),
                data=request.body,
                headers=dict(request.headers),
                timeout=self._timeout,
                ssl=self._ssl,
            ) as response:
                body = await read_bounded(response, limit=MAX_RESPONSE_BYTES, too_large=_too_large)
                status, headers = response.status, dict(response.headers)
        except aiohttp.ClientConnectorCertificateError as err:
            raise ssl_failure(str(err.certificate_error), self.base_url) from err
        except aiohttp.ClientSSLError as err:
            raise ssl_failure(str(err), self.base_url) from err
        except TimeoutError as err:
            msg = f"The engine at {self.base_url} did not answer in time"
            raise EconnectTimeoutError(msg) from err
        except aiohttp.ClientError as err:
            evidence = await self._https_evidence(err)
            if evidence:
                detail = f"{evidence}: {one_line(err)}"
                raise scheme_error(self.base_url, "https", detail) from err
            msg = f"Cannot reach the engine at {self.base_url}: {err}"
            raise EconnectConnectionError(msg) from err
        if self._is_plain_http and refuses_plain_http(status, body):
            detail = f"HTTP {status}: the server refused a plain HTTP request"
            raise scheme_error(self.base_url, "https", detail)
        return HttpResponse(status, body, headers)

    @property
    def _is_plain_http(self) -> bool:
        return self.base_url.lower().startswith("http://")

    async def _https_evidence(self, err: aiohttp.ClientError) -> str:
        """Say why an http:// call failed because the engine speaks only TLS there, or "".

        A reply that is a TLS record settles it. A connection made and then dropped (what
        most TLS servers do with a plain HTTP request) is checked with one TLS handshake; a
        refused or unreachable engine is not probed.
        """
        if not self._is_plain_http:
            return ""
        if _tls_reply(err):
            return "the plain HTTP request was answered with a TLS record"
        if not _dropped(err):
            return ""
        if await speaks_tls(self.base_url, self._timeout.sock_connect or 5.0):
            return "the plain HTTP request was dropped, and a TLS handshake succeeded"
        return ""


async def speaks_tls(base_url: str, timeout: float) -> bool:
    """Return whether the server at `base_url`'s host and port completes a TLS handshake.

    Only a question about the protocol: nothing is sent after the handshake, so the
    certificate is not verified here (the real calls verify it as configured). The context
    is built without reading any file, so this does not block the event loop.
    """
    host, port, context = tls_probe(base_url)
    try:
        _reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context, server_hostname=host), timeout
        )
    except (OSError, TimeoutError, ValueError):  # ssl.SSLError is an OSError
        return False
    writer.close()
    with contextlib.suppress(OSError):  # the server may reset a connection that sent nothing
        await writer.wait_closed()
    return True


def _dropped(err: aiohttp.ClientError) -> bool:
    """Whether the server accepted the connection, then closed or reset it without an answer."""
    if isinstance(err, aiohttp.ServerDisconnectedError):
        return True
    if isinstance(err, aiohttp.ClientConnectorError):
        return False  # refused, unreachable, no such host: nothing answered
    return isinstance(err, aiohttp.ClientOSError) and err.errno in (
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EPIPE,
    )


#: How aiohttp's parser quotes the first bytes of a TLS record where a status line should be.
_TLS_RECORD_REPRS: Final = (r"b'\x15\x03", r"b'\x16\x03")


def _tls_reply(err: aiohttp.ClientError) -> bool:
    """Whether the "status line" the server sent was a TLS record (an alert, typically)."""
    if not isinstance(err, aiohttp.ClientResponseError):
        return False
    return any(quoted in str(err.message) for quoted in _TLS_RECORD_REPRS)


def one_line(err: Exception) -> str:
    """The first line of an error's text (aiohttp's parser errors span several)."""
    text = str(err)
    return text.splitlines()[0][:300] if text.strip() else type(err).__name__


async def read_bounded(
    response: aiohttp.ClientResponse, *, limit: int, too_large: Callable[[int], Exception]
) -> bytes:
    """Read a body, raising `too_large(status)` once it passes `limit` bytes (both drivers)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(65536):
        size += len(chunk)
        if size > limit:
            raise too_large(response.status)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(status: int) -> EconnectProtocolError:
    msg = f"The engine's answer is larger than {MAX_RESPONSE_BYTES} bytes"
    return EconnectProtocolError(msg, status=status)
