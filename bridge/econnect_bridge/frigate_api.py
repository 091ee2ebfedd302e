"""Synchronous driver of Frigate's HTTP API over one pooled `requests.Session`.

The bridge's worker threads share one `FrigateApi`: the session's connection pool is sized for
them, and the session token lives under a lock so that one login serves every thread that
needed it. What to send and how to read the answer is `econnect_identities.frigate_http`; this
module only moves bytes, keeps the token and turns transport failures into `FrigateApiError`.

Authentication (port 8971): with a user and password the driver logs in on first use and
presents the JWT as Frigate's session cookie. Frigate renews a cookie that is close to expiry
by answering with a new `Set-Cookie`, which is adopted; a token that nobody renewed is
replaced by a fresh login shortly before its `exp` (read without verifying, as
`econnect_identities.tokens` does for the engine). A 401 on a call means the session ended
early (secret rotated, password changed, Frigate restarted with a new secret): the driver
logs in again once and retries that call once. Refused passwords are not retried at once:
Frigate may rate-limit login failures, and the back-off of `TokenState` applies.

No other retries happen here: the caller knows whether a picture is still worth fetching.
Nothing logged or raised contains the password or the token.
"""

from __future__ import annotations

import http.cookiejar
import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import requests

from econnect_bridge.http_session import (
    BodyTooLargeError,
    one_line_error,
    pooled_session,
    read_body,
    verify_setting,
)
from econnect_identities import frigate_http, protocol
from econnect_identities.frigate_http import (
    FrigateApiError,
    FrigateConfigSummary,
    FrigateEventRecord,
    FrigateSnapshot,
    FrigateToken,
)
from econnect_identities.protocol import HttpRequest, HttpResponse
from econnect_identities.tokens import TokenState

__all__ = ["MAX_RESPONSE_BYTES", "FrigateApi"]

_LOGGER = logging.getLogger(__name__)
T = TypeVar("T")

#: A snapshot of a 4K camera at quality 95 is a few MB; anything past this is not a picture.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
#: Connections kept per host: one per worker thread is plenty.
POOL_SIZE = 10


class FrigateApi:
    """Talk to one Frigate instance from any number of threads."""

    def __init__(
        self,
        *,
        url: str,
        username: str | None = None,
        password: str | None = None,
        verify_ssl: bool = True,
        ca_file: str | None = None,
        timeout: float = 10.0,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Prepare the session; nothing is sent until the first call.

        Args:
            url: Frigate's base URL, e.g. `http://frigate:5000` or `https://frigate:8971`
                (a path prefix such as `/frigate` behind a proxy is kept).
            username: A Frigate user (port 8971); give it with `password`, or neither.
            password: That user's password; never logged or shown.
            verify_ssl: Verify Frigate's certificate (keep it on; prefer `ca_file`).
            ca_file: PEM file of the private CA that signed Frigate's certificate.
            timeout: Seconds to wait for a connection and, separately, for each read.
            session: A session to use instead of a new one (tests, a shared pool); the
                driver still owns it and closes it in `close()`.
            clock: Seconds since the epoch, for the token's expiry (injectable in tests).
        """
        if bool(username) != bool(password):
            msg = "give Frigate's username and password together, or neither"
            raise ValueError(msg)
        self.base_url = protocol.normalise_base_url(url)
        self._state = (
            TokenState(username=username, password=password) if username and password else None
        )
        self._cookie_name: str | None = None
        self._token_lock = threading.Lock()
        self._timeout = (timeout, timeout)
        self._clock = clock
        self._session = pooled_session(self.base_url, pool_size=POOL_SIZE, session=session)
        # The session token is ours to keep (under the lock), not the shared cookie jar's:
        # block every cookie so that no thread's reply changes what another thread sends.
        self._session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        self._verify = verify_setting(verify_ssl=verify_ssl, ca_file=ca_file)
        if not verify_ssl:
            _LOGGER.warning(
                "TLS verification of Frigate at %s is OFF (verify_ssl: false): anyone on the "
                "network could impersonate Frigate. Prefer ca_file.",
                self.base_url,
            )

    def __repr__(self) -> str:
        user = self._state.username if self._state else None
        return f"FrigateApi({self.base_url!r}, username={user!r})"

    def __enter__(self) -> FrigateApi:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    @property
    def logins(self) -> int:
        """Return how many times the driver logged in (for health figures and tests)."""
        return self._state.authentications if self._state else 0

    @property
    def renewals(self) -> int:
        """Return how many renewed session cookies Frigate handed back and were adopted."""
        return self._state.renewals if self._state else 0

    # --- the API ---

    def snapshot(
        self, event_id: str, *, crop: bool = True, height: int | None = None, quality: int = 95
    ) -> bytes | None:
        """Return the event's best picture (clean: no box, no timestamp), None on 404.

        404 means there is no best frame yet, the event ended without a stored snapshot, or
        Frigate does not know the id.
        """
        found = self.snapshot_frame(event_id, crop=crop, height=height, quality=quality)
        return None if found is None else found.image

    def snapshot_frame(
        self, event_id: str, *, crop: bool = True, height: int | None = None, quality: int = 95
    ) -> FrigateSnapshot | None:
        """Like `snapshot`, with the best frame's capture time (`X-Frame-Time`)."""
        request = frigate_http.build_event_snapshot(
            event_id, crop=crop, height=height, quality=quality
        )
        return frigate_http.parse_snapshot(self._call(request))

    def latest(self, camera: str, *, height: int | None = None) -> bytes:
        """Return the camera's live frame."""
        request = frigate_http.build_latest_frame(camera, height=height)
        return frigate_http.parse_latest_frame(self._call(request))

    def version(self) -> str:
        """Return Frigate's version, e.g. `0.18.0-e3fa701`."""
        return frigate_http.parse_version(self._call(frigate_http.build_version()))

    def cameras(self) -> tuple[str, ...]:
        """Return the names of Frigate's cameras."""
        return frigate_http.parse_cameras(self._call(frigate_http.build_config()))

    def event(self, event_id: str) -> FrigateEventRecord | None:
        """Return the stored event, None on 404 (unknown, or live with no snapshot or clip)."""
        return frigate_http.parse_event(self._call(frigate_http.build_event(event_id)))

    def set_sub_label(self, event_id: str, name: str, score: float | None) -> None:
        """Write `name` (cut to 100 characters) and `score` as the event's sub_label."""
        request = frigate_http.build_set_sub_label(event_id, name, score)
        frigate_http.parse_set_sub_label(self._call(request))

    def config(self) -> FrigateConfigSummary:
        """Return what the bridge reads of Frigate's config (cameras, zones, face recognition)."""
        return frigate_http.parse_config(self._call(frigate_http.build_config()))

    def can_write_sub_labels(self) -> bool:
        """Tell whether this user may write sub_labels, without writing one."""
        return frigate_http.parse_sub_label_probe(self._call(frigate_http.build_sub_label_probe()))

    # --- session ---

    def _call(self, request: HttpRequest) -> HttpResponse:
        """Send one API request with the session token; on 401 log in again once and retry."""
        if self._state is None:
            return self._send(request)
        token = self._token(stale=None)
        response = self._send(self._with_token(request, token))
        if response.status != 401:
            self._adopt_renewal(response, token)
            return response
        _LOGGER.debug("Frigate refused the session for %s; logging in again", request.path)
        fresh = self._token(stale=token)
        response = self._send(self._with_token(request, fresh))
        if response.status == 401:
            msg = (
                "Frigate refused a fresh session token (401 right after logging in): check "
                "that the bridge talks to Frigate's own port 8971, not through a proxy that "
                "drops cookies."
            )
            raise FrigateApiError(msg, code="frigate_auth_failed", status=401)
        self._adopt_renewal(response, fresh)
        return response

    @staticmethod
    def _with_token(request: HttpRequest, token: FrigateToken) -> HttpRequest:
        headers = {**request.headers, **frigate_http.token_cookie_header(token)}
        return HttpRequest(request.method, request.path, headers, request.body)

    def _token(self, stale: FrigateToken | None) -> FrigateToken:
        """Return a token worth sending, logging in when there is none or it is near expiry.

        After a 401 with `stale`, a new login happens only if no other thread has replaced
        that token meanwhile.
        """
        state = self._state
        assert state is not None
        with self._token_lock:
            now = self._clock()
            token = frigate_http.reusable_token(state, now, stale, self._cookie_name)
            return token if token is not None else self._login(state, now)

    def _login(self, state: TokenState, now: float) -> FrigateToken:
        """Log in (the lock is held); remember the cookie name Frigate used."""
        request = frigate_http.build_login(state.username or "", state.password or "")
        response = self._send(request)
        try:
            token = frigate_http.parse_login(response, self._cookie_name)
        except FrigateApiError as err:
            if err.code == "frigate_auth_failed":
                state.sign_in_refused(self._clock())
            raise
        state.accept(token.value, now, renewed=False)
        self._cookie_name = token.cookie_name
        _LOGGER.debug("Logged in to Frigate at %s as %s", self.base_url, state.username)
        return token

    def _adopt_renewal(self, response: HttpResponse, sent: FrigateToken) -> None:
        """Keep the renewed session cookie Frigate may attach to any authenticated answer."""
        renewed = frigate_http.token_from_set_cookie(response.headers, self._cookie_name)
        state = self._state
        if renewed is None or state is None or renewed.value == sent.value:
            return
        with self._token_lock:
            if state.token == sent.value:
                state.accept(renewed.value, self._clock(), renewed=True)
                _LOGGER.debug("Frigate renewed the session cookie")

    # --- transport ---

    def _send(self, request: HttpRequest) -> HttpResponse:
        """Send one request; the only place where transport errors become ours."""
        url = request.url(self.base_url)
        started = time.monotonic()
        try:
            with self._session.request(
                request.method,
                url,
                data=request.body,
                headers=dict(request.headers),
                timeout=self._timeout,
                verify=self._verify,
                stream=True,
                allow_redirects=False,
            ) as response:
                deadline = started + sum(self._timeout)
                body = read_body(response, limit=MAX_RESPONSE_BYTES, deadline=deadline)
                status = response.status_code
                headers = dict(response.headers)
        except BodyTooLargeError as err:
            msg = f"Frigate's answer is larger than {err.limit} bytes"
            raise frigate_http.protocol_error(msg, status=err.status) from err
        except requests.exceptions.SSLError as err:
            raise frigate_http.tls_error(self.base_url, one_line_error(err)) from err
        except requests.exceptions.Timeout as err:
            reason = f"no answer within {self._timeout[1]:g} s"
            raise frigate_http.unreachable_error(self.base_url, reason, timed_out=True) from err
        except requests.exceptions.RequestException as err:
            raise frigate_http.unreachable_error(self.base_url, one_line_error(err)) from err
        _LOGGER.debug(
            "Frigate %s %s -> %s (%d bytes, %.0f ms)",
            request.method,
            request.path,
            status,
            len(body),
            (time.monotonic() - started) * 1000,
        )
        return HttpResponse(status, body, headers)
