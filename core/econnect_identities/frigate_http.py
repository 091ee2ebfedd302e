"""Requests and replies of Frigate's HTTP API, with no I/O.

The bridge's events mode follows `frigate/events` on MQTT and fetches each tracked object's
pictures over Frigate's HTTP API; it can also write the recognised name back as the event's
sub_label. This module is that API written once, in the style of `protocol.py`: functions that
build an `HttpRequest`, functions that read an `HttpResponse`, and the mapping of a status code
to a `FrigateApiError`. The drivers (the bridge's `frigate_api.py` over requests, and anything
the Home Assistant integration may add over aiohttp) only move bytes.

What Frigate's source (0.18, `frigate/api/media.py`, `event.py`, `auth.py`, `app.py`) makes us
do here, and why:

- `snapshot.jpg` always carries `bbox=0&timestamp=0`: a missing option falls back to the
  camera's `snapshots:` settings, whose `bounding_box` defaults to true, so Frigate would draw
  a coloured box and a filled label on the picture the face engine is about to read.
- `GET /api/events/<id>` has `sub_label` as a string and its score in `data.sub_label_score`
  (on MQTT it is a `[name, score]` list). It answers 404 for a live object that has neither a
  snapshot nor a clip yet, so "not found" there is an answer, not an error.
- `POST /api/events/<id>/sub_label` is validated by pydantic before the event is looked up:
  `subLabel` at most 100 characters, `subLabelScore` with 0 < x <= 1. An empty `subLabel`
  clears the sub_label, so an empty name is refused here rather than sent.
- On the authenticated port (8971) `POST /api/login` answers 200 with an empty body and the
  JWT in a cookie (`frigate_token` unless `auth.cookie_name` says otherwise). Frigate accepts
  the JWT as that cookie or as `Authorization: Bearer`; the Bearer form takes precedence and
  is never refreshed, while a cookie within `auth.refresh_time` of expiry comes back renewed
  in a `Set-Cookie` header. So the cookie is what we send, and any `Set-Cookie` holding a new
  JWT is adopted.

Messages never contain a password, a token or image bytes: bodies quoted in errors are cut
short and anything shaped like a JWT is replaced by `<token>`.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote, urlencode

from econnect_identities.protocol import HttpRequest, HttpResponse
from econnect_identities.tokens import TokenAction, TokenState

__all__ = [
    "CONFIG_PATH",
    "DEFAULT_COOKIE_NAME",
    "LOGIN_PATH",
    "SUB_LABEL_MAX_CHARS",
    "VERSION_PATH",
    "FrigateApiError",
    "FrigateConfigSummary",
    "FrigateEventRecord",
    "FrigateSnapshot",
    "FrigateToken",
    "build_config",
    "build_event",
    "build_event_snapshot",
    "build_latest_frame",
    "build_login",
    "build_set_sub_label",
    "build_version",
    "check_status",
    "error_for_status",
    "parse_cameras",
    "parse_config",
    "parse_event",
    "parse_latest_frame",
    "parse_login",
    "parse_set_sub_label",
    "parse_snapshot",
    "parse_version",
    "protocol_error",
    "redact",
    "sub_label_body",
    "tls_error",
    "token_cookie_header",
    "token_from_set_cookie",
    "truncate_sub_label",
    "unreachable_error",
]

VERSION_PATH: Final = "/api/version"
CONFIG_PATH: Final = "/api/config"
LOGIN_PATH: Final = "/api/login"
#: Frigate's `auth.cookie_name` default.
DEFAULT_COOKIE_NAME: Final = "frigate_token"
#: `EventsSubLabelBody.subLabel` has `max_length=100` (pydantic counts code points).
SUB_LABEL_MAX_CHARS: Final = 100
#: How much of an error body we quote: enough for Frigate's `message`/`detail`, no more.
DETAIL_LIMIT: Final = 200

_JSON: Final[Mapping[str, str]] = {"Accept": "application/json"}
_JPEG: Final[Mapping[str, str]] = {"Accept": "image/jpeg"}
#: Frigate refuses a state-changing request that has an `Origin` header but no
#: `X-CSRF-TOKEN` (`check_csrf` in `api/fastapi_app.py`). We send no Origin, but a proxy in
#: front of Frigate might add one; the header costs nothing and is what Frigate's own UI sends.
_POST_JSON: Final[Mapping[str, str]] = {
    "Accept": "application/json",
    "Content-Type": "application/json",
    "X-CSRF-TOKEN": "1",
}
_JWT_RE: Final = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_COOKIE_RE: Final = re.compile(r"(?:^|[\s,;])([A-Za-z0-9_.-]+)=([A-Za-z0-9_.-]+)")
_TAG_RE: Final = re.compile(r"<[^>]*>")


class FrigateApiError(Exception):
    """Frigate could not be reached, or answered with something other than success.

    `code` is a short stable word for error events and translations; `transient` says whether
    the same call may succeed later unchanged (the caller, not the driver, retries).
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status: int | None = None,
        transient: bool = False,
        detail: str = "",
    ) -> None:
        super().__init__(redact(message))
        #: The HTTP status, or None when no answer came (connection, timeout, TLS).
        self.status = status
        #: A short snake_case word, e.g. `frigate_not_found`.
        self.code = code
        #: True when retrying the same call later may succeed (unreachable, 5xx, 429).
        self.transient = transient
        #: Frigate's own message, cut short and with tokens replaced.
        self.detail = redact(detail)

    def __repr__(self) -> str:
        return (
            f"FrigateApiError(code={self.code!r}, status={self.status!r}, "
            f"transient={self.transient!r}, message={str(self)!r})"
        )


@dataclass(frozen=True, slots=True)
class FrigateSnapshot:
    """An event's snapshot as Frigate served it."""

    image: bytes = field(repr=False)
    #: `X-Frame-Time`: the capture time of the best frame; it changes when Frigate finds a
    #: better one, which tells a poller whether the picture is new.
    frame_time: float | None = None


@dataclass(frozen=True, slots=True)
class FrigateEventRecord:
    """The fields of `GET /api/events/<id>` that a face-recognition companion needs."""

    id: str
    camera: str
    label: str
    #: A string here (on MQTT it is a `[name, score]` list).
    sub_label: str | None
    #: `data.sub_label_score`; absent when the sub_label was written without a score.
    sub_label_score: float | None
    start_time: float
    end_time: float | None
    has_snapshot: bool
    has_clip: bool
    zones: tuple[str, ...] = ()
    top_score: float | None = None

    @property
    def in_progress(self) -> bool:
        """Return whether the object is still tracked (no end time yet)."""
        return self.end_time is None


@dataclass(frozen=True, slots=True)
class FrigateConfigSummary:
    """What the bridge reads from `GET /api/config`."""

    cameras: tuple[str, ...]
    #: Cameras whose `snapshots.enabled` is false: after the event ends there is no stored
    #: snapshot to fetch, and `has_snapshot` never turns true.
    cameras_without_snapshots: tuple[str, ...] = ()
    #: `auth.enabled`, when the config says.
    auth_enabled: bool | None = None
    #: `face_recognition.enabled`: Frigate's own face recognition (0.16+), when it says.
    face_recognition: bool | None = None
    #: Each camera's zone names, for checking `required_zones`.
    zones: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FrigateToken:
    """A session JWT and the cookie name Frigate issued it under; never shown in a repr."""

    value: str = field(repr=False)
    cookie_name: str = DEFAULT_COOKIE_NAME


# --- building requests ---


def _segment(value: str, what: str) -> str:
    """Quote one path segment, so an id or camera name cannot reach another endpoint."""
    if not value or value in (".", ".."):
        msg = f"the {what} must be a non-empty name, not {value!r}"
        raise ValueError(msg)
    return quote(value, safe="")


def build_event_snapshot(
    event_id: str, *, crop: bool = True, height: int | None = None, quality: int = 95
) -> HttpRequest:
    """Build `GET /api/events/<id>/snapshot.jpg` for a clean picture.

    `bbox=0&timestamp=0` are always sent: a missing option means the camera's `snapshots:`
    setting, and `bounding_box` defaults to true there. `height` is left out when None, so
    Frigate keeps the frame's own size (or `snapshots.height`).
    """
    if height is not None and height < 1:
        msg = f"height must be at least 1 pixel, not {height}"
        raise ValueError(msg)
    if not 1 <= quality <= 100:
        msg = f"quality must be between 1 and 100, not {quality}"
        raise ValueError(msg)
    query: dict[str, int] = {"crop": 1 if crop else 0}
    if height is not None:
        query["height"] = height
    query["quality"] = quality
    query["bbox"] = 0
    query["timestamp"] = 0
    path = f"/api/events/{_segment(event_id, 'event id')}/snapshot.jpg?{urlencode(query)}"
    return HttpRequest("GET", path, dict(_JPEG))


def build_latest_frame(camera: str, *, height: int | None = None) -> HttpRequest:
    """Build `GET /api/<camera>/latest.jpg`, the live frame (no overlays unless asked)."""
    if height is not None and height < 1:
        msg = f"height must be at least 1 pixel, not {height}"
        raise ValueError(msg)
    path = f"/api/{_segment(camera, 'camera name')}/latest.jpg"
    if height is not None:
        path += f"?{urlencode({'height': height})}"
    return HttpRequest("GET", path, dict(_JPEG))


def build_version() -> HttpRequest:
    """Build `GET /api/version` (plain text such as `0.18.0-e3fa701`)."""
    return HttpRequest("GET", VERSION_PATH, {"Accept": "text/plain"})


def build_config() -> HttpRequest:
    """Build `GET /api/config` (any authenticated user; large, credentials redacted)."""
    return HttpRequest("GET", CONFIG_PATH, dict(_JSON))


def build_event(event_id: str) -> HttpRequest:
    """Build `GET /api/events/<id>` (the stored event record)."""
    return HttpRequest("GET", f"/api/events/{_segment(event_id, 'event id')}", dict(_JSON))


def truncate_sub_label(name: str) -> str:
    """Cut a name to Frigate's 100 characters without splitting a character sequence.

    pydantic counts code points; a cut is moved back so that no combining mark, variation
    selector or zero-width joiner is left dangling from its base (an "é" written as e + ◌́
    stays whole, or goes whole). Surrounding whitespace is dropped first.
    """
    text = name.strip()
    if len(text) <= SUB_LABEL_MAX_CHARS:
        return text
    cut = SUB_LABEL_MAX_CHARS
    while cut > 0 and _joins_previous(text[cut]):
        cut -= 1
    while cut > 0 and text[cut - 1] == "\u200d":
        cut -= 1
    return text[:cut].rstrip()


def _joins_previous(char: str) -> bool:
    """Whether `char` belongs to the character before it (so a cut must not fall before it)."""
    return (
        unicodedata.combining(char) != 0
        or unicodedata.category(char) in ("Mn", "Me", "Mc")
        or char == "\u200d"
        or "\ufe00" <= char <= "\ufe0f"
        or "\U0001f3fb" <= char <= "\U0001f3ff"
    )


def sub_label_body(name: str, score: float | None) -> dict[str, Any]:
    """Return the JSON body of a sub_label write, within Frigate's bounds.

    Raises ValueError for an empty name (Frigate would clear the sub_label) and for a score
    outside 0 < x <= 1 (Frigate answers 422): both are the caller's mistake, not Frigate's.
    """
    label = truncate_sub_label(name)
    if not label:
        msg = "the sub_label name is empty: Frigate would clear the sub_label instead"
        raise ValueError(msg)
    body: dict[str, Any] = {"subLabel": label}
    if score is not None:
        value = float(score)
        if not math.isfinite(value) or not 0.0 < value <= 1.0:
            msg = f"the sub_label score must be in 0 < score <= 1, not {score!r}"
            raise ValueError(msg)
        body["subLabelScore"] = value
    return body


def build_set_sub_label(event_id: str, name: str, score: float | None) -> HttpRequest:
    """Build `POST /api/events/<id>/sub_label` (admin role on port 8971)."""
    body = json.dumps(sub_label_body(name, score), ensure_ascii=False).encode("utf-8")
    path = f"/api/events/{_segment(event_id, 'event id')}/sub_label"
    return HttpRequest("POST", path, dict(_POST_JSON), body)


#: An id no Frigate event has: the write-permission probe must never name a real event.
PROBE_EVENT_ID = "0.0-econnect-permission-probe"


def build_sub_label_probe() -> HttpRequest:
    """Build a sub_label write that Frigate refuses whatever the caller may do.

    Its body is invalid (`subLabel` is not a string), so nothing is ever written; Frigate
    checks the caller's role first (401 without a session, 403 without the admin role) and
    the body next (422): a 422 therefore says that the caller may write sub_labels.
    """
    path = f"/api/events/{_segment(PROBE_EVENT_ID, 'event id')}/sub_label"
    return HttpRequest("POST", path, dict(_POST_JSON), b'{"subLabel": 0}')


def parse_sub_label_probe(response: HttpResponse) -> bool:
    """Read the probe's answer: True when the body was judged (writes are permitted)."""
    if response.status in (400, 404, 422):
        return True
    if response.status in (401, 403):
        return False
    check_status(response, operation="the sub_label permission check")
    return True


def build_login(user: str, password: str) -> HttpRequest:
    """Build `POST /api/login`; the request's repr shows neither body nor headers."""
    if not user or not password:
        msg = "a Frigate login needs both a user name and a password"
        raise ValueError(msg)
    body = json.dumps({"user": user, "password": password}).encode("utf-8")
    return HttpRequest("POST", LOGIN_PATH, dict(_POST_JSON), body)


def reusable_token(
    state: TokenState, now: float, stale: FrigateToken | None, cookie_name: str | None
) -> FrigateToken | None:
    """Decide for both drivers: the token to send again, or None when a login is due.

    After a 401 with `stale`, a login is due only if nobody replaced that token meanwhile.

    Raises:
        FrigateApiError: Frigate refused the password lately and logins are held off, so
            that its login rate limit is not hit.
    """
    action = state.decide(now, stale.value if stale is not None else None)
    if action is TokenAction.REUSE and state.token is not None:
        return FrigateToken(state.token, cookie_name or DEFAULT_COOKIE_NAME)
    wait = state.sign_in_wait(now)
    if wait > 0:
        msg = (
            "Frigate refused the user name or password; the next login is held off "
            f"for {wait:.0f} s so that Frigate's login rate limit is not hit."
        )
        raise FrigateApiError(msg, code="frigate_auth_failed", status=401)
    return None


def token_cookie_header(token: FrigateToken) -> dict[str, str]:
    """Return the header that presents a session: the cookie, so that Frigate can renew it."""
    return {"Cookie": f"{token.cookie_name}={token.value}"}


# --- reading replies ---


def _header(response: HttpResponse, name: str) -> str | None:
    wanted = name.lower()
    for key, value in response.headers.items():
        if key.lower() == wanted:
            return value
    return None


def _looks_like_jwt(value: str) -> bool:
    return value.count(".") == 2 and _JWT_RE.fullmatch(value) is not None


def token_from_set_cookie(
    headers: Mapping[str, str], cookie_name: str | None = None
) -> FrigateToken | None:
    """Find the session JWT in `Set-Cookie` headers, or None.

    `headers` may hold several cookies in one value (separated by commas or new lines, as
    HTTP libraries join repeated headers). The cookie named `cookie_name` wins; without a
    name, `frigate_token` is preferred and any other cookie whose value is a JWT is taken,
    which covers a custom `auth.cookie_name`.
    """
    found: list[FrigateToken] = []
    for key, value in headers.items():
        if key.lower() != "set-cookie":
            continue
        for line in value.splitlines():
            found.extend(
                FrigateToken(match.group(2), match.group(1))
                for match in _COOKIE_RE.finditer(line)
                if _looks_like_jwt(match.group(2))
            )
    if not found:
        return None
    for preferred in (cookie_name, DEFAULT_COOKIE_NAME):
        for token in found:
            if token.cookie_name == preferred:
                return token
    return None if cookie_name else found[0]


def redact(text: str) -> str:
    """Replace anything shaped like a JWT with `<token>`."""
    return _JWT_RE.sub("<token>", text)


def _detail(body: bytes) -> str:
    """Frigate's own message from an error body, short and printable.

    Frigate answers `{"success": false, "message": ...}`, `{"detail": ...}` (FastAPI's
    HTTPException), `{"detail": [{"loc": [...], "msg": ...}]}` (a 422), a bare JSON string
    ("Event not found"), or, from nginx in front of it, an HTML page.
    """
    text = body[: DETAIL_LIMIT * 8].decode("utf-8", errors="replace")
    try:
        payload: Any = json.loads(text)
    except ValueError:
        payload = _TAG_RE.sub(" ", text)
    message = _message_of(payload)
    cleaned = " ".join("".join(ch if ch.isprintable() else " " for ch in message).split())
    return redact(cleaned)[:DETAIL_LIMIT]


def _message_of(payload: Any) -> str:
    if isinstance(payload, str):
        return payload
    if isinstance(payload, dict):
        for key in ("message", "detail"):
            value = payload.get(key)
            if isinstance(value, str):
                return value
            if isinstance(value, list):
                return "; ".join(_validation_item(item) for item in value[:3])
    return "" if payload is None else json.dumps(payload)[:DETAIL_LIMIT]


def _validation_item(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    loc = item.get("loc")
    where = ".".join(str(part) for part in loc) if isinstance(loc, list) else ""
    message = str(item.get("msg", ""))
    return f"{where}: {message}" if where else message


def error_for_status(status: int, body: bytes, *, operation: str) -> FrigateApiError:
    """Return the error for a non-2xx answer; 5xx and 429 are transient, other 4xx are not."""
    detail = _detail(body)
    suffix = f": {detail}" if detail else ""
    if status == 401:
        msg = (
            f"Frigate wants a login for {operation} (401). On port 8971 give a Frigate user "
            "and password; port 5000 inside a trusted network needs none."
        )
        return FrigateApiError(msg, code="frigate_auth_failed", status=status, detail=detail)
    if status == 403:
        msg = (
            f"Frigate refused {operation} for this user (403){suffix}. Writing a sub_label "
            "needs the admin role; a viewer may only read the cameras its role lists."
        )
        return FrigateApiError(msg, code="frigate_forbidden", status=status, detail=detail)
    if status == 404:
        msg = f"Frigate has no such item for {operation} (404){suffix}"
        return FrigateApiError(msg, code="frigate_not_found", status=status, detail=detail)
    if status in (400, 422):
        msg = f"Frigate refused the {operation} request as invalid ({status}){suffix}"
        return FrigateApiError(msg, code="frigate_bad_request", status=status, detail=detail)
    if status == 429:
        msg = f"Frigate asks to slow down for {operation} (429){suffix}"
        return FrigateApiError(
            msg, code="frigate_rate_limited", status=status, transient=True, detail=detail
        )
    if status >= 500:
        msg = f"Frigate failed while handling {operation} ({status}){suffix}"
        return FrigateApiError(
            msg, code="frigate_server_error", status=status, transient=True, detail=detail
        )
    msg = f"Unexpected answer from Frigate to {operation} ({status}){suffix}"
    return FrigateApiError(msg, code="frigate_unexpected_status", status=status, detail=detail)


def check_status(response: HttpResponse, *, operation: str) -> None:
    """Raise the error matching a non-2xx status; return quietly on success."""
    if not 200 <= response.status < 300:
        raise error_for_status(response.status, response.body, operation=operation)


def unreachable_error(base_url: str, reason: str, *, timed_out: bool = False) -> FrigateApiError:
    """Return the (transient) error for a connection failure or a timeout."""
    what = "did not answer in time" if timed_out else "cannot be reached"
    msg = f"Frigate at {base_url} {what}: {reason}"
    return FrigateApiError(msg, code="frigate_unreachable", transient=True)


def tls_error(base_url: str, reason: str) -> FrigateApiError:
    """Return the error for a certificate that failed verification (retrying will not help)."""
    msg = (
        f"Frigate's certificate at {base_url} is not trusted: {reason}. For a private CA "
        "give its PEM file as ca_file."
    )
    return FrigateApiError(msg, code="frigate_tls_error")


def protocol_error(message: str, *, status: int | None = None) -> FrigateApiError:
    """Return the error for a 2xx reply that is not what Frigate's API sends."""
    return FrigateApiError(message, code="frigate_bad_reply", status=status)


def _json(response: HttpResponse, operation: str) -> Any:
    try:
        return json.loads(response.body)
    except (ValueError, UnicodeDecodeError) as err:
        msg = f"Frigate's answer to {operation} is not JSON: {_detail(response.body)!r}"
        raise protocol_error(msg, status=response.status) from err


def _image(response: HttpResponse, operation: str) -> bytes:
    body = response.body
    if not body.startswith(b"\xff\xd8"):
        kind = _header(response, "Content-Type") or "no content type"
        msg = f"Frigate's answer to {operation} is not a JPEG ({kind}, {len(body)} bytes)"
        raise protocol_error(msg, status=response.status)
    return body


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def parse_snapshot(response: HttpResponse) -> FrigateSnapshot | None:
    """Read `snapshot.jpg`; None on 404 (no best frame yet, no stored snapshot, no event)."""
    if response.status == 404:
        return None
    operation = "the event snapshot"
    check_status(response, operation=operation)
    frame_time: float | None = None
    raw_time = _header(response, "X-Frame-Time")
    if raw_time:
        try:
            frame_time = _number(float(raw_time))
        except ValueError:
            frame_time = None
    return FrigateSnapshot(_image(response, operation), frame_time)


def parse_latest_frame(response: HttpResponse) -> bytes:
    """Read `latest.jpg` (404: Frigate has no camera of that name)."""
    operation = "the camera's latest frame"
    check_status(response, operation=operation)
    return _image(response, operation)


def parse_version(response: HttpResponse) -> str:
    """Read `/api/version`, plain text (a JSON string is accepted too)."""
    check_status(response, operation="the version")
    text = response.body.decode("utf-8", errors="replace").strip().strip('"')
    if not text or len(text) > 64 or not text[0].isdigit():
        msg = f"Frigate's version answer is not a version: {_detail(response.body)!r}"
        raise protocol_error(msg, status=response.status)
    return text


def parse_config(response: HttpResponse) -> FrigateConfigSummary:
    """Read the camera names (and which have snapshots off) from `/api/config`."""
    payload = _json(response, "the config") if response.status < 300 else None
    check_status(response, operation="the config")
    cameras = payload.get("cameras") if isinstance(payload, dict) else None
    if not isinstance(cameras, dict):
        msg = "Frigate's config has no `cameras` mapping"
        raise protocol_error(msg, status=response.status)
    names = tuple(str(name) for name in cameras)
    without = tuple(
        str(name)
        for name, camera in cameras.items()
        if isinstance(camera, dict)
        and isinstance(camera.get("snapshots"), dict)
        and camera["snapshots"].get("enabled") is False
    )
    return FrigateConfigSummary(
        names,
        without,
        _enabled(payload, "auth"),
        _enabled(payload, "face_recognition"),
        {
            str(name): tuple(str(zone) for zone in camera.get("zones") or {})
            for name, camera in cameras.items()
            if isinstance(camera, dict) and isinstance(camera.get("zones") or {}, dict)
        },
    )


def _enabled(payload: object, section: str) -> bool | None:
    """Read `<section>.enabled` of Frigate's config, None when it does not say."""
    part = payload.get(section) if isinstance(payload, dict) else None
    enabled = part.get("enabled") if isinstance(part, dict) else None
    return enabled if isinstance(enabled, bool) else None


def parse_cameras(response: HttpResponse) -> tuple[str, ...]:
    """Read the camera names from `/api/config`, in Frigate's order."""
    return parse_config(response).cameras


def parse_event(response: HttpResponse) -> FrigateEventRecord | None:
    """Read `GET /api/events/<id>`; None on 404 (unknown, or live without snapshot or clip)."""
    if response.status == 404:
        return None
    operation = "the event"
    check_status(response, operation=operation)
    payload = _json(response, operation)
    if not isinstance(payload, dict):
        msg = "Frigate's event record is not an object"
        raise protocol_error(msg, status=response.status)
    event_id, camera, label = payload.get("id"), payload.get("camera"), payload.get("label")
    start = _number(payload.get("start_time"))
    if not (isinstance(event_id, str) and isinstance(camera, str) and isinstance(label, str)):
        msg = "Frigate's event record lacks id, camera or label"
        raise protocol_error(msg, status=response.status)
    if start is None:
        msg = "Frigate's event record lacks start_time"
        raise protocol_error(msg, status=response.status)
    raw_data = payload.get("data")
    data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
    sub_label = payload.get("sub_label")
    zones = payload.get("zones")
    return FrigateEventRecord(
        id=event_id,
        camera=camera,
        label=label,
        sub_label=sub_label if isinstance(sub_label, str) and sub_label else None,
        sub_label_score=_number(data.get("sub_label_score")),
        start_time=start,
        end_time=_number(payload.get("end_time")),
        has_snapshot=payload.get("has_snapshot") is True,
        has_clip=payload.get("has_clip") is True,
        zones=tuple(str(zone) for zone in zones) if isinstance(zones, list) else (),
        top_score=_number(data.get("top_score")),
    )


def parse_set_sub_label(response: HttpResponse) -> None:
    """Check a sub_label write (`{"success": true, "message": ...}`); 404: unknown event."""
    operation = "writing the sub_label"
    check_status(response, operation=operation)
    payload = _json(response, operation)
    if isinstance(payload, dict) and payload.get("success") is False:
        msg = f"Frigate did not write the sub_label: {_detail(response.body)}"
        raise protocol_error(msg, status=response.status)


def parse_login(response: HttpResponse, cookie_name: str | None = None) -> FrigateToken:
    """Read the session JWT that `POST /api/login` sets as a cookie.

    401 is a refused user or password; 404 means Frigate's authentication is disabled (the
    port needs no login); 429 is the login-failure rate limit.
    """
    if response.status == 404:
        msg = (
            "Frigate's authentication is disabled (404 on /api/login): remove the user and "
            "password, or point the bridge at the authenticated port 8971."
        )
        raise FrigateApiError(msg, code="frigate_not_found", status=404)
    if response.status == 401:
        msg = "Frigate refused the user name or password (401 on /api/login)."
        raise FrigateApiError(msg, code="frigate_auth_failed", status=401)
    check_status(response, operation="the login")
    token = token_from_set_cookie(response.headers, cookie_name)
    if token is None:
        msg = "Frigate accepted the login but set no session cookie holding a JWT"
        raise protocol_error(msg, status=response.status)
    return token
