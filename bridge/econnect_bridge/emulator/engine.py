"""The engine's behaviour without HTTP: log-in, tokens, permissions, recognition, rosters.

Every method takes what the handler read off the wire (body bytes, the Authorization header,
the query) and returns a :class:`Reply`; the handler only moves bytes. Keeping the rules here
means one place answers "which status for which mistake", in the order the vendor's pages imply:
401 (who are you) → 403 (may you) → 400 (what did you send) → 200.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from econnect_bridge.emulator import faces
from econnect_bridge.emulator.gallery import PERMISSIONS, Gallery, Person, User
from econnect_bridge.emulator.jwt import TokenError, mint_token, verify_token
from econnect_bridge.emulator.render import render_identity, render_person, render_tag
from econnect_bridge.emulator.stats import Stats
from econnect_bridge.emulator.validation import BadRequestError, PublishRequest, parse_publish

__all__ = ["FACE_PUBLISHING", "Engine", "Reply"]

FACE_PUBLISHING = "Face Publishing"
READ_ALL = "Read All Identity"
_TAG_READERS = frozenset({READ_ALL, "Mutate All Identity", "Read Tags", "Mutate Tags"})


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, body and content type ("" = no Content-Type header)."""

    status: int
    body: bytes = b""
    content_type: str = ""
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def text(cls, status: int, message: str, *headers: tuple[str, str]) -> Reply:
        """A plain-text answer (the emulator's error body format)."""
        return cls(status, message.encode(), "text/plain; charset=utf-8", headers)

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Reply:
        """A JSON answer."""
        return cls(status, json.dumps(data).encode(), "application/json; charset=utf-8")


class _DeniedError(Exception):
    """Carries the 401/403 reply out of the permission checks."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def _unauthorized(message: str) -> _DeniedError:
    return _DeniedError(Reply.text(401, message, ("WWW-Authenticate", "Bearer")))


class Engine:
    """The emulated Identities engine for one gallery."""

    def __init__(
        self, gallery: Gallery, stats: Stats, *, token_lifetime: float | None = None
    ) -> None:
        self.gallery = gallery
        self.stats = stats
        self.token_lifetime = token_lifetime or gallery.settings.token_lifetime_seconds
        self._secret = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._users = {u.username: u for u in gallery.users}
        self._seen: dict[tuple[str, str], float] = {}
        self._cache = faces.AnalysisCache()
        self._refs = [(p.person_id, p.colour) for p in gallery.people]

    # -- users and tokens ---------------------------------------------------------------

    def authenticate(self, body: bytes) -> Reply:
        """``POST /api/v1/authenticate``: password → token."""
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return Reply.text(400, "The request body is not valid JSON")
        if not isinstance(data, dict) or not all(
            isinstance(data.get(k), str) for k in ("username", "password")
        ):
            return Reply.text(400, "username and password are required")
        with self._lock:
            user = self._users.get(data["username"])
        if user is None or not secrets.compare_digest(user.password, data["password"]):
            self.stats.count("authentication_failures")
            return Reply.text(401, "Invalid username or password")
        self.stats.count("authentications")
        return self._token_reply(user.username)

    def renew(self, authorization: str | None) -> Reply:
        """``GET /api/v1/renewToken``: a still-valid token → a fresh one."""
        try:
            user = self._caller(authorization)
        except _DeniedError as denied:
            return denied.reply
        self.stats.count("renewals")
        return self._token_reply(user.username)

    def _token_reply(self, username: str) -> Reply:
        token = mint_token(username, self._secret, self.token_lifetime)
        return Reply.json({"username": username, "token": token})

    def _caller(self, authorization: str | None) -> User:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("Missing bearer token")
        try:
            claims = verify_token(token.strip(), self._secret)
        except TokenError:
            raise _unauthorized("Invalid or expired token") from None
        with self._lock:
            user = self._users.get(claims["unique_name"])
        if user is None:
            raise _unauthorized("Invalid or expired token")
        return user

    def _require(self, authorization: str | None, needs: frozenset[str], name: str) -> User:
        user = self._caller(authorization)
        if not user.permissions & needs:
            raise _DeniedError(Reply.text(403, f"User lacks the {name} permission"))
        return user

    def set_user(
        self, username: str, password: str | None = None, permissions: list[str] | None = None
    ) -> None:
        """Change a user's password and/or permissions, or add a user (password required).

        Raises:
            ValueError: unknown permission names, or a new user without a password.
        """
        if permissions is not None and set(permissions) - PERMISSIONS:
            unknown = sorted(set(permissions) - PERMISSIONS)
            raise ValueError(f"unknown permissions {unknown}; known: {sorted(PERMISSIONS)}")
        with self._lock:
            user = self._users.get(username)
            if user is None:
                if password is None:
                    raise ValueError(f"new user {username!r} needs a password")
                user = User(username, password, frozenset())
            if password is not None:
                user = replace(user, password=password)
            if permissions is not None:
                user = replace(user, permissions=frozenset(permissions))
            self._users[username] = user

    def reset(self) -> None:
        """Users back to the gallery's, duplicate window and image cache forgotten."""
        with self._lock:
            self._users = {u.username: u for u in self.gallery.users}
            self._seen.clear()
        self._cache.clear()

    # -- recognition --------------------------------------------------------------------

    def publish(self, body: bytes, authorization: str | None, endpoint: str) -> Reply:
        """Both publish endpoints; ``endpoint`` is ``publish`` or ``publishWithResponse``."""
        try:
            user = self._require(authorization, frozenset({FACE_PUBLISHING}), FACE_PUBLISHING)
            request = parse_publish(body)
        except _DeniedError as denied:
            return denied.reply
        except BadRequestError as err:
            return Reply.text(400, str(err))
        with_response = endpoint == "publishWithResponse"
        digest = hashlib.sha256(request.image).hexdigest()
        allow_double = with_response and request.options["allowDoubleDetection"]
        if not allow_double and self._is_duplicate(request.detector_name, digest):
            self.stats.count("duplicates_suppressed")
            return Reply.json({"detectedFaces": []}) if with_response else Reply(200)
        found = self._cache.analyse(request.image, digest).faces
        if with_response and request.options["largestFaceOnly"]:
            found = found[:1]
        matches = [(face, *self._match(face)) for face in found]
        rendered = [self._render_face(*match, request, user) for match in matches]
        self.stats.record_detection(
            endpoint, request.detector_name, [p.person_id if p else None for _, p, _ in matches]
        )
        return Reply.json({"detectedFaces": rendered}) if with_response else Reply(200)

    def _is_duplicate(self, detector: str, digest: str) -> bool:
        window = self.gallery.settings.duplicate_window_seconds
        if window <= 0:
            return False
        now = time.monotonic()
        with self._lock:
            last = self._seen.get((detector, digest))
            if last is not None and now - last < window:
                return True
            self._seen = {k: t for k, t in self._seen.items() if now - t < window}
            self._seen[(detector, digest)] = now
            return False

    def _match(self, face: faces.FoundFace) -> tuple[Person | None, float]:
        person_id, distance = faces.nearest(face.colour, self._refs)
        if person_id is None or distance >= self.gallery.settings.match_threshold:
            return None, distance
        return self.gallery.person(person_id), distance

    def _render_face(
        self,
        face: faces.FoundFace,
        person: Person | None,
        distance: float,
        request: PublishRequest,
        user: User,
    ) -> dict[str, Any]:
        box = face.box
        out: dict[str, Any] = {
            "faceId": faces.face_id_for_person(person.person_id)
            if person
            else faces.face_id_for_unknown(face.colour),
            "detectId": str(uuid.uuid4()),
            "confidence": faces.match_confidence(distance, self.gallery.settings.match_threshold)
            if person
            else faces.UNKNOWN_CONFIDENCE,
            "faceQuality": faces.face_quality(box),
            "boundingBox": {"x": box.x, "y": box.y, "width": box.width, "height": box.height},
        }
        if person is not None and request.options["includePerson"]:
            out["person"] = render_person(person, self.gallery, request.options, user.permissions)
        return out

    # -- rosters ------------------------------------------------------------------------

    def tags(self, authorization: str | None, query: Mapping[str, str]) -> Reply:
        """``GET /api/v1/Tags`` (optional exact ``tagName`` filter)."""
        try:
            self._require(authorization, _TAG_READERS, "Read Tags")
        except _DeniedError as denied:
            return denied.reply
        name = query.get("tagname")
        return Reply.json(
            [render_tag(t) for t in self.gallery.tags if name is None or t.name == name]
        )

    def people(
        self, authorization: str | None, query: Mapping[str, str], person_id: str | None = None
    ) -> Reply:
        """``GET /api/v1/people?tagId=`` (or ``entityFieldName=``) and ``/people/{id}``."""
        try:
            self._require(authorization, frozenset({READ_ALL}), READ_ALL)
        except _DeniedError as denied:
            return denied.reply
        if person_id is not None:
            person = self.gallery.person(person_id)
            if person is None:
                return Reply.text(404, "Person not found")
            return Reply.json(render_identity(person, self.gallery))
        chosen = [p for p in self.gallery.people if _wanted(p, query)]
        return Reply.json([render_identity(p, self.gallery) for p in chosen])


def _wanted(person: Person, query: Mapping[str, str]) -> bool:
    tag_id = query.get("tagid")
    if tag_id is not None and not any(t.tag_id.lower() == tag_id.lower() for t in person.tags):
        return False
    field = query.get("entityfieldname")
    if field is None:
        return True
    value = query.get("entityfieldstringvalue")
    return any(
        f.name == field and (value is None or f.string_value == value) for f in person.entity_fields
    )
