"""Asynchronous driver of Frigate's HTTP API over an injected `aiohttp` session.

What to send and how to read the answer is `frigate_http` (as `aio.py` is built on
`protocol.py`); this module only moves bytes, keeps the session token and turns aiohttp's
failures into `FrigateApiError`. Home Assistant hands in its shared session, so none is made
here, and importing `econnect_identities` does not pull aiohttp in.

Authentication (port 8971) follows the bridge's requests driver: with a user and password the
driver logs in on first use and presents the JWT as Frigate's session cookie, adopts the
renewed cookie Frigate may send back, logs in again shortly before the token's `exp`, and
after a 401 logs in once and retries the call once. Refused passwords back off (`TokenState`),
so Frigate's login rate limit is not hit. No other retries happen here: the caller knows
whether a picture is still worth fetching. Nothing raised contains the password or the token.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable

import aiohttp

from econnect_identities import frigate_http, protocol
from econnect_identities.aio import one_line, read_bounded
from econnect_identities.frigate_http import (
    FrigateApiError,
    FrigateEventRecord,
    FrigateSnapshot,
    FrigateToken,
)
from econnect_identities.protocol import HttpRequest, HttpResponse
from econnect_identities.tokens import TokenState

__all__ = ["MAX_RESPONSE_BYTES", "AsyncFrigateClient"]

#: A snapshot of a 4K camera at quality 95 is a few MB; anything past this is not a picture.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024


class AsyncFrigateClient:
    """Talk to one Frigate instance from asyncio code (one token shared by every caller)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        ssl_context: ssl.SSLContext | bool = True,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Prepare the client; nothing is sent until the first call.

        Raises:
            ValueError: The URL is not http(s), or only one of username and password is given.
        """
        if bool(username) != bool(password):
            msg = "give Frigate's username and password together, or neither"
            raise ValueError(msg)
        self.base_url = protocol.normalise_base_url(base_url)
        self._session = session
        self._state = (
            TokenState(username=username, password=password) if username and password else None
        )
        self._cookie_name: str | None = None
        self._token_lock = asyncio.Lock()
        self._ssl = ssl_context
        self._timeout = aiohttp.ClientTimeout(
            total=timeout + connect_timeout, sock_connect=connect_timeout, sock_read=timeout
        )
        self._clock = clock

    @property
    def session(self) -> aiohttp.ClientSession:
        """The aiohttp session the driver sends through (injected)."""
        return self._session

    def __repr__(self) -> str:
        user = self._state.username if self._state else None
        return f"AsyncFrigateClient({self.base_url!r}, username={user!r})"

    @property
    def logins(self) -> int:
        """Return how many times the client logged in."""
        return self._state.authentications if self._state else 0

    @property
    def renewals(self) -> int:
        """Return how many renewed session cookies Frigate handed back and were adopted."""
        return self._state.renewals if self._state else 0

    # --- the API ---

    async def snapshot(
        self, event_id: str, *, crop: bool = True, height: int | None = None, quality: int = 95
    ) -> bytes | None:
        """Return the event's best picture (no box, no timestamp), None on 404."""
        found = await self.snapshot_frame(event_id, crop=crop, height=height, quality=quality)
        return None if found is None else found.image

    async def snapshot_frame(
        self, event_id: str, *, crop: bool = True, height: int | None = None, quality: int = 95
    ) -> FrigateSnapshot | None:
        """Like `snapshot`, with the best frame's capture time (`X-Frame-Time`)."""
        request = frigate_http.build_event_snapshot(
            event_id, crop=crop, height=height, quality=quality
        )
        return frigate_http.parse_snapshot(await self._call(request))

    async def version(self) -> str:
        """Return Frigate's version, e.g. `0.18.0-e3fa701`."""
        return frigate_http.parse_version(await self._call(frigate_http.build_version()))

    async def cameras(self) -> tuple[str, ...]:
        """Return the names of Frigate's cameras, in Frigate's order."""
        return frigate_http.parse_cameras(await self._call(frigate_http.build_config()))

    async def event(self, event_id: str) -> FrigateEventRecord | None:
        """Return the stored event, None on 404 (unknown, or live with no snapshot or clip)."""
        return frigate_http.parse_event(await self._call(frigate_http.build_event(event_id)))

    async def set_sub_label(self, event_id: str, name: str, score: float | None) -> None:
        """Write `name` (cut to 100 characters) and `score` as the event's sub_label."""
        request = frigate_http.build_set_sub_label(event_id, name, score)
        frigate_http.parse_set_sub_label(await self._call(request))

    async def can_write_sub_labels(self) -> bool:
        """Tell whether this user may write sub_labels, without writing one."""
        request = frigate_http.build_sub_label_probe()
        return frigate_http.parse_sub_label_probe(await self._call(request))

    # --- session ---

    async def _call(self, request: HttpRequest) -> HttpResponse:
        """Send one request with the session token; on 401 log in again once and retry."""
        if self._state is None:
            return await self._send(request)
        token = await self._token(stale=None)
        response = await self._send(_with_token(request, token))
        if response.status != 401:
            await self._adopt_renewal(response, token)
            return response
        fresh = await self._token(stale=token)
        response = await self._send(_with_token(request, fresh))
        if response.status == 401:
            msg = (
                "Frigate refused a fresh session token (401 right after logging in): check "
                "that Home Assistant talks to Frigate's own port 8971, not through a proxy "
                "that drops cookies."
            )
            raise FrigateApiError(msg, code="frigate_auth_failed", status=401)
        await self._adopt_renewal(response, fresh)
        return response

    async def _token(self, stale: FrigateToken | None) -> FrigateToken:
        """Return a token worth sending, logging in when there is none or it is near expiry.

        After a 401 with `stale`, a new login happens only if no other caller has replaced
        that token meanwhile (one login serves every waiting task).
        """
        state = self._state
        assert state is not None
        async with self._token_lock:
            now = self._clock()
            token = frigate_http.reusable_token(state, now, stale, self._cookie_name)
            return token if token is not None else await self._login(state, now)

    async def _login(self, state: TokenState, now: float) -> FrigateToken:
        """Log in (the lock is held); remember the cookie name Frigate used."""
        request = frigate_http.build_login(state.username or "", state.password or "")
        response = await self._send(request)
        try:
            token = frigate_http.parse_login(response, self._cookie_name)
        except FrigateApiError as err:
            if err.code == "frigate_auth_failed":
                state.sign_in_refused(self._clock())
            raise
        state.accept(token.value, now, renewed=False)
        self._cookie_name = token.cookie_name
        return token

    async def _adopt_renewal(self, response: HttpResponse, sent: FrigateToken) -> None:
        """Keep the renewed session cookie Frigate may attach to any authenticated answer."""
        renewed = frigate_http.token_from_set_cookie(response.headers, self._cookie_name)
        state = self._state
        if renewed is None or state is None or renewed.value == sent.value:
            return
        async with self._token_lock:
            if state.token == sent.value:
                state.accept(renewed.value, self._clock(), renewed=True)

    # --- transport ---

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
                allow_redirects=False,
            ) as response:
                body = await read_bounded(response, limit=MAX_RESPONSE_BYTES, too_large=_too_large)
                return HttpResponse(response.status, body, _headers(response))
        except aiohttp.ClientConnectorCertificateError as err:
            raise frigate_http.tls_error(self.base_url, str(err.certificate_error)) from err
        except aiohttp.ClientSSLError as err:
            raise frigate_http.tls_error(self.base_url, one_line(err)) from err
        except TimeoutError as err:
            reason = f"no answer within {self._timeout.sock_read:g} s"
            raise frigate_http.unreachable_error(self.base_url, reason, timed_out=True) from err
        except aiohttp.ClientError as err:
            raise frigate_http.unreachable_error(self.base_url, one_line(err)) from err


def _with_token(request: HttpRequest, token: FrigateToken) -> HttpRequest:
    headers = {**request.headers, **frigate_http.token_cookie_header(token)}
    return HttpRequest(request.method, request.path, headers, request.body)


def _headers(response: aiohttp.ClientResponse) -> dict[str, str]:
    """The reply's headers; repeated `Set-Cookie` lines are kept, one per line.

    A plain `dict()` of aiohttp's multi-dict keeps one value per name, and Frigate (or a
    proxy) may set several cookies in one answer.
    """
    headers = dict(response.headers)
    cookies = response.headers.getall("Set-Cookie", [])
    if cookies:
        headers["Set-Cookie"] = "\n".join(cookies)
    return headers


def _too_large(status: int) -> FrigateApiError:
    msg = f"Frigate's answer is larger than {MAX_RESPONSE_BYTES} bytes"
    return frigate_http.protocol_error(msg, status=status)
