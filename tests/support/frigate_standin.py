"""A Frigate stand-in for tests: real HTTP(S) on loopback, Frigate's payloads, scripted objects.

Frigate itself cannot run in the tests, so this server answers the few endpoints a face
companion uses exactly as Frigate 0.18 does (source read at commit
e3fa70189324e5eb3b1dba756c153f6696f457de: `frigate/api/media.py`, `frigate/api/event.py`,
`frigate/api/auth.py`, `frigate/api/app.py`, `frigate/track/tracked_object.py`,
`frigate/track/object_processing.py`, `frigate/events/maintainer.py`, the nginx
configuration in `docker/main/rootfs/usr/local/nginx/conf/`), and builds the MQTT payloads
Frigate publishes, so a test can play a tracked object from its first frame to its end:

    >>> with FrigateStandin(cameras=("front_door",)) as frigate:  # doctest: +SKIP
    ...     obj = frigate.begin("front_door", frame=jpeg_frame())
    ...     publisher.publish_event(obj.message("new"))
    ...     obj.improve(jpeg_frame(shade=90), score=0.85)
    ...     obj.end()

What it models, and where that comes from:

- `GET /api/events/<id>/snapshot.jpg`: while the object is tracked, its current best frame;
  after it ends, the stored snapshot (only if `has_snapshot`); 404 otherwise. A missing
  `bbox`/`timestamp`/`crop`/`height`/`quality` falls back to the camera's `snapshots:`
  settings (`bounding_box` true, `timestamp` false by default), so a client that forgets
  `bbox=0` gets a coloured box and a filled label drawn on its picture. Drawn first, then
  cropped (`calculate_region(..., 300, multiplier=1.1)`), then resized, then stamped.
- `GET /api/events/<id>`: the stored record (`model_to_dict` of the `Event` row), which
  exists only once the object has a snapshot or a clip.
- `POST /api/events/<id>/sub_label`: the admin role, then pydantic's body checks (422, with
  FastAPI's `detail` list), then the event lookup (404), then 200.
- Authentication like port 8971: nginx asks `/auth` first, so anything but `/api/login` needs
  the JWT (cookie `frigate_token` or Bearer); a cookie within `refresh_time` of its expiry is
  renewed in a `Set-Cookie` on a successful answer; the Bearer form never is. With
  `auth=False` it behaves like port 5000 (no login, every caller is an admin).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import io
import json
import random
import secrets
import socket
import socketserver
import ssl
import statistics
import string
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Self
from urllib.parse import parse_qsl, unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from PIL import Image, ImageDraw

from tests.support.certs import CertFiles

__all__ = [
    "FRIGATE_COMMIT",
    "FRIGATE_VERSION",
    "FrigateMqttPublisher",
    "FrigateStandin",
    "RecordedRequest",
    "SnapshotSettings",
    "StandinObject",
    "calculate_region",
    "jpeg_frame",
]

#: The Frigate source this stand-in follows.
FRIGATE_COMMIT = "e3fa70189324e5eb3b1dba756c153f6696f457de"
#: `/api/version` answers `VERSION` of `frigate/version.py`: "<Makefile VERSION>-<short sha>".
FRIGATE_VERSION = "0.18.0-e3fa701"
#: The colour the stand-in draws boxes in (RGB); Frigate takes it from `model.colormap`.
BOX_COLOUR = (255, 0, 255)
#: nginx's answer when `/auth` refuses (its default error page).
_NGINX_401 = (
    b"<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n"
    b"<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
#: nginx adds the refreshed cookie with `add_header`, which only applies to these statuses.
_ADD_HEADER_STATUSES = frozenset({200, 201, 204, 206, 301, 302, 303, 304, 307, 308})
_ALERT_LABELS = ("car", "person")  # `review.alerts.labels` default


class RecordedRequest(NamedTuple):
    """One request the stand-in received."""

    method: str
    path: str
    query: dict[str, str]


@dataclass(frozen=True)
class SnapshotSettings:
    """A camera's `snapshots:` section (Frigate's defaults)."""

    enabled: bool = True  # Frigate's default is False; a companion needs them on
    bounding_box: bool = True
    timestamp: bool = False
    crop: bool = False
    height: int | None = None
    quality: int = 60


@dataclass
class _User:
    password: str
    role: str


@dataclass
class _Fault:
    prefix: str
    status: int
    remaining: int


def jpeg_frame(
    width: int = 640, height: int = 480, *, shade: int = 120, quality: int = 95
) -> bytes:
    """Return a JPEG with a smooth grey gradient (no saturated colour anywhere).

    The gradient makes a resize or a crop visible, and the lack of colour makes any box the
    server draws (`BOX_COLOUR`) easy to find.
    """
    image = Image.linear_gradient("L").resize((width, height))
    image = image.point(lambda value: shade // 2 + value * (255 - shade) // 510)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def calculate_region(
    shape: tuple[int, int], box: tuple[int, int, int, int], model_size: int, multiplier: float
) -> tuple[int, int, int, int]:
    """Frigate's `util/image.py:calculate_region` (shape is height, width)."""
    xmin, ymin, xmax, ymax = box
    size = int((max(xmax - xmin, ymax - ymin) * multiplier) // 4 * 4)
    size = max(size, model_size)
    x_offset = int((xmax - xmin) / 2.0 + xmin - size / 2.0)
    if x_offset < 0:
        x_offset = 0
    elif x_offset > shape[1] - size:
        x_offset = max(0, shape[1] - size)
    y_offset = int((ymax - ymin) / 2.0 + ymin - size / 2.0)
    if y_offset < 0:
        y_offset = 0
    elif y_offset > shape[0] - size:
        y_offset = max(0, shape[0] - size)
    return (x_offset, y_offset, x_offset + size, y_offset + size)


def _shape(frame: bytes) -> tuple[int, int]:
    """(height, width) of a JPEG, as numpy's `frame.shape[:2]`."""
    with Image.open(io.BytesIO(frame)) as image:
        return image.height, image.width


def _default_box(shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """A standing person in the middle of the frame."""
    height, width = shape
    return (width * 35 // 100, height * 20 // 100, width * 65 // 100, height * 90 // 100)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class StandinObject:
    """One scripted tracked object; every method is thread-safe (the stand-in's lock)."""

    def __init__(
        self,
        owner: FrigateStandin,
        camera: str,
        label: str,
        frame: bytes | None,
        score: float,
        zones: Iterable[str],
        *,
        has_snapshot: bool,
        has_clip: bool,
        box: tuple[int, int, int, int] | None,
        face: tuple[tuple[int, int, int, int], float] | None = None,
    ) -> None:
        self._owner = owner
        self.camera = camera
        self.label = label
        start = owner.frame_time()
        rand_id = "".join(random.choices(string.ascii_lowercase + string.digits, k=6))
        #: Frigate's id: "<frame_time>-<6 random lowercase letters and digits>".
        self.id = f"{start}-{rand_id}"
        self.start_time = start
        self.frame_time = start
        self.end_time: float | None = None
        self.has_snapshot = has_snapshot
        self.has_clip = has_clip
        self.score = score
        self.score_history = [score]
        self.top_score = 0.0
        self.computed_score = 0.0
        self.false_positive = True
        self.current_zones: list[str] = []
        self.entered_zones: list[str] = []
        #: `obj_data["sub_label"]`: a (name, score) pair once set; (None, None) once cleared.
        self.sub_label: tuple[str | None, float | None] | None = None
        self.attributes: dict[str, float] = {}
        self.current_attributes: list[dict[str, Any]] = []
        self.path_data: list[list[Any]] = []
        self.best_frame: bytes | None = None
        self.thumbnail_data: dict[str, Any] | None = None
        self.position_changes = 0  # `register` in track/norfair_tracker.py
        self.shape = (720, 1280)
        self.box = box or _default_box(self.shape)
        if frame is not None:
            self.shape = _shape(frame)
            self.box = box or _default_box(self.shape)
        # `previous` is `to_dict()` from the constructor: still a false positive, no snapshot.
        self.previous = self.to_dict()
        self.score_history = []
        # Frigate saves a snapshot only for an object that moved (`position_changes > 0`).
        self.position_changes = 1 if has_snapshot else 0
        self._set_face(face)
        self._apply(frame, score, zones, box)
        self.false_positive = False

    # --- script ---

    def improve(
        self,
        frame: bytes,
        *,
        score: float | None = None,
        zones: Iterable[str] | None = None,
        box: tuple[int, int, int, int] | None = None,
        face: tuple[tuple[int, int, int, int], float] | None = None,
    ) -> None:
        """Frigate found a better best frame: new snapshot, frame_time and (maybe) score.

        `face` is a detected face attribute (box, score) in this frame.
        """
        with self._owner.lock:
            if self.end_time is not None:
                msg = f"{self.id} has ended; Frigate no longer tracks it"
                raise RuntimeError(msg)
            self.frame_time = self._owner.frame_time(after=self.frame_time)
            self._set_face(face)
            self._apply(frame, self.score if score is None else score, zones, box)

    def end(self) -> None:
        """The object left: `end_time` is set and the best frame is stored (if snapshots)."""
        with self._owner.lock:
            if self.end_time is None:
                self.end_time = self._owner.frame_time(after=self.frame_time)

    def message(self, kind: str) -> dict[str, Any]:
        """Return the `frigate/events` payload of this kind, as JSON would carry it.

        `object_processing.py` sends `{"before": obj.previous, "after": obj.to_dict(),
        "type": ...}`; after a `new` or `update` the `after` becomes the next `before`.
        """
        if kind not in ("new", "update", "end"):
            msg = f"kind must be new, update or end, not {kind!r}"
            raise ValueError(msg)
        with self._owner.lock:
            if kind == "end" and self.end_time is None:
                msg = "call end() before building the end message"
                raise RuntimeError(msg)
            after = self.to_dict()
            message = {"before": self.previous, "after": after, "type": kind}
            if kind != "end":
                self.previous = after
            result: dict[str, Any] = json.loads(json.dumps(message))
            return result

    # --- Frigate's shapes ---

    def _set_face(self, face: tuple[tuple[int, int, int, int], float] | None) -> None:
        """`current_attributes` of this frame, and the top score per attribute label."""
        if face is None:
            self.current_attributes = []
            return
        face_box, face_score = face
        self.current_attributes = [{"label": "face", "score": face_score, "box": list(face_box)}]
        self.attributes["face"] = max(self.attributes.get("face", 0.0), face_score)

    def _apply(
        self,
        frame: bytes | None,
        score: float,
        zones: Iterable[str] | None,
        box: tuple[int, int, int, int] | None,
    ) -> None:
        self.score = score
        self.score_history = [*self.score_history, score][-10:]
        self.computed_score = statistics.median(self.score_history)
        self.top_score = max(self.top_score, self.computed_score)
        if zones is not None:
            self.current_zones = list(zones)
            for zone in self.current_zones:
                if zone not in self.entered_zones:
                    self.entered_zones.append(zone)
        if frame is None:
            return
        self.shape = _shape(frame)
        height, width = self.shape
        self.box = box or _default_box(self.shape)
        self.best_frame = frame
        region = calculate_region(self.shape, self.box, 320, 1.35)
        self.path_data.append(
            [
                [round((self.box[0] + self.box[2]) / 2 / width, 4), round(self.box[3] / height, 4)],
                self.frame_time,
            ]
        )
        self.thumbnail_data = {
            "frame_time": self.frame_time,
            "box": list(self.box),
            "area": self._area(),
            "region": list(region),
            "score": score,
            "attributes": list(self.current_attributes),
            "current_estimated_speed": 0,
            "velocity_angle": 0,
            "path_data": [list(point) for point in self.path_data],
            "recognized_license_plate": None,
            "recognized_license_plate_score": None,
        }

    def _area(self) -> int:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])

    @property
    def max_severity(self) -> str:
        """`TrackedObject.max_severity` with the default review settings."""
        return "alert" if self.label in _ALERT_LABELS else "detection"

    @property
    def has_record(self) -> bool:
        """Whether Frigate's database holds the event (`should_update_db`)."""
        return self.has_snapshot or self.has_clip

    def to_dict(self) -> dict[str, Any]:
        """`TrackedObject.to_dict()`, key for key and in the same order."""
        region = calculate_region(self.shape, self.box, 320, 1.35)
        return {
            "id": self.id,
            "camera": self.camera,
            "frame_time": self.frame_time,
            "snapshot": None if self.thumbnail_data is None else dict(self.thumbnail_data),
            "snapshot_clean": True,
            "label": self.label,
            "sub_label": None if self.sub_label is None else list(self.sub_label),
            "top_score": self.top_score,
            "false_positive": self.false_positive,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "score": self.score,
            "computed_score": self.computed_score,
            "box": list(self.box),
            "area": self._area(),
            "ratio": round((self.box[2] - self.box[0]) / max(1, self.box[3] - self.box[1]), 6),
            "region": list(region),
            "active": True,
            "stationary": False,
            "motionless_count": 0,
            "position_changes": self.position_changes,
            "current_zones": list(self.current_zones),
            "entered_zones": list(self.entered_zones),
            "has_clip": self.has_clip and not self.false_positive,
            "has_snapshot": self.has_snapshot and not self.false_positive,
            "attributes": dict(self.attributes),
            "current_attributes": list(self.current_attributes),
            "pending_loitering": False,
            "max_severity": self.max_severity,
            "current_estimated_speed": 0,
            "average_estimated_speed": 0,
            "velocity_angle": 0,
            "path_data": [list(point) for point in self.path_data],
            "recognized_license_plate": None,
        }

    def record(self) -> dict[str, Any]:
        """`model_to_dict(Event)` as `GET /api/events/<id>` returns it."""
        width, height = self.shape[1], self.shape[0]
        snap = self.thumbnail_data

        def relative(box: list[int]) -> list[float]:
            return [
                box[0] / width,
                box[1] / height,
                (box[2] - box[0]) / width,
                (box[3] - box[1]) / height,
            ]

        data: dict[str, Any] = {
            "box": None if snap is None else relative(snap["box"]),
            "region": None if snap is None else relative(snap["region"]),
            "score": None if snap is None else snap["score"],
            "top_score": self.top_score,
            "attributes": None if snap is None else [],
            "snapshot_clean": True,
            "snapshot_frame_time": None if snap is None else snap["frame_time"],
            "snapshot_area": None if snap is None else snap["area"],
            "snapshot_estimated_speed": None if snap is None else 0,
            "average_estimated_speed": 0,
            "velocity_angle": 0,
            "type": "object",
            "max_severity": self.max_severity,
            "path_data": [list(point) for point in self.path_data],
        }
        name: str | None = None
        if self.sub_label is not None:
            name = self.sub_label[0]
            data["sub_label_score"] = self.sub_label[1]
        return {
            "id": self.id,
            "label": self.label,
            "sub_label": name,
            "camera": self.camera,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "top_score": None,
            "score": None,
            "false_positive": None,
            "zones": list(self.entered_zones),
            "thumbnail": None,
            "has_clip": self.has_clip,
            "has_snapshot": self.has_snapshot,
            "region": None,
            "box": None,
            "area": None,
            "retain_indefinitely": False,
            "ratio": 1.0,
            "plus_id": None,
            "model_hash": None,
            "detector_type": "cpu",
            "model_type": "ssd",
            "data": data,
        }


class FrigateStandin:
    """The stand-in server and its script; start it, then point a client at `url`."""

    def __init__(
        self,
        cameras: Iterable[str] = ("front_door",),
        *,
        auth: bool = False,
        users: Mapping[str, tuple[str, str]] | None = None,
        session_length: int = 86400,
        refresh_time: int = 1800,
        cookie_name: str = "frigate_token",
        snapshots: SnapshotSettings | None = None,
        tls: CertFiles | None = None,
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
        version: str = FRIGATE_VERSION,
        zones: Mapping[str, Iterable[str]] | None = None,
        face_recognition: bool = False,
    ) -> None:
        """Describe the Frigate to stand in for.

        Args:
            cameras: The camera names of its config.
            auth: True for port 8971 (login, JWT, roles); False for port 5000.
            users: name -> (password, role), role `admin` or `viewer`.
            session_length: `auth.session_length` in seconds (a JWT's lifetime).
            refresh_time: `auth.refresh_time`: a cookie this close to expiry is renewed.
            cookie_name: `auth.cookie_name`.
            snapshots: Every camera's `snapshots:` section.
            tls: A certificate and key to serve HTTPS with (tests/support/certs.py).
            clock: Seconds since the epoch; share a fake one with the client to see expiry.
            host: The address to bind.
            port: The port to bind (0: a free one).
            version: What `/api/version` answers.
            zones: Camera name -> its zone names, as its config lists them.
            face_recognition: `face_recognition.enabled` (Frigate's own recogniser).
        """
        self.cameras = tuple(cameras)
        self.auth = auth
        self.users = {name: _User(pw, role) for name, (pw, role) in (users or {}).items()}
        self.session_length = session_length
        self.refresh_time = refresh_time
        self.cookie_name = cookie_name
        self.snapshots = snapshots or SnapshotSettings()
        self.clock = clock
        self.version = version
        self.zones = {camera: tuple(names) for camera, names in (zones or {}).items()}
        self.face_recognition = face_recognition
        self.lock = threading.RLock()
        self.objects: dict[str, StandinObject] = {}
        self.latest: dict[str, bytes] = {}
        #: Every request: (method, path, query).
        self.requests: list[RecordedRequest] = []
        #: The headers of every request, lower-cased names, in the same order.
        self.request_headers: list[dict[str, str]] = []
        #: Every accepted sub_label write: (event id, name or None when cleared, score).
        self.sub_label_writes: list[tuple[str, str | None, float | None]] = []
        #: Every JWT issued (logins and renewals), so a test can look for them in logs.
        self.issued_tokens: list[str] = []
        self.logins = 0
        self.refreshed_cookies = 0
        self._secret = secrets.token_bytes(32)
        self._faults: list[_Fault] = []
        self._last_frame_time = 0.0
        self._tls = tls
        self._host = host
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle ---

    @property
    def url(self) -> str:
        """The base URL, e.g. `http://127.0.0.1:54321` (Frigate's API is under /api)."""
        if self._server is None:
            msg = "the stand-in is not started"
            raise RuntimeError(msg)
        scheme = "https" if self._tls else "http"
        return f"{scheme}://{self._host}:{self._port}"

    def start(self) -> Self:
        """Bind and serve in a background thread."""
        context: ssl.SSLContext | None = None
        if self._tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(self._tls.cert), str(self._tls.key))
        self._server = _Server((self._host, self._port), self, context)
        self._port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="frigate-standin",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close kept-alive connections."""
        if self._server is not None:
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --- script ---

    def frame_time(self, after: float = 0.0) -> float:
        """A new frame time from the clock, strictly later than any before (µs)."""
        with self.lock:
            now = round(max(self.clock(), after + 1e-6, self._last_frame_time + 1e-6), 6)
            self._last_frame_time = now
            return now

    def begin(
        self,
        camera: str,
        label: str = "person",
        frame: bytes | None = None,
        score: float = 0.7,
        zones: Iterable[str] = (),
        *,
        has_snapshot: bool = True,
        has_clip: bool = False,
        box: tuple[int, int, int, int] | None = None,
        face: tuple[tuple[int, int, int, int], float] | None = None,
    ) -> StandinObject:
        """Start tracking an object; `frame` is its first best frame (None: none yet).

        `has_snapshot=False` is an object that never gets a saved snapshot (snapshots off,
        or it never moved): its live best frame is still served while it is tracked, as
        Frigate does, but after its end there is nothing, and without a clip there is no
        event record either. `face` is a detected face attribute (box, score).
        """
        if camera not in self.cameras:
            msg = f"{camera!r} is not one of the stand-in's cameras {self.cameras}"
            raise ValueError(msg)
        with self.lock:
            obj = StandinObject(
                self,
                camera,
                label,
                frame,
                score,
                zones,
                has_snapshot=has_snapshot,
                has_clip=has_clip,
                box=box,
                face=face,
            )
            self.objects[obj.id] = obj
            return obj

    def set_latest(self, camera: str, frame: bytes) -> None:
        """Set the camera's live frame (`/api/<camera>/latest.jpg`)."""
        with self.lock:
            self.latest[camera] = frame

    def fail_next(self, path_prefix: str, status: int, count: int = 1) -> None:
        """Answer the next `count` requests whose path starts with `path_prefix` with `status`.

        Status 0 closes the connection without an answer (a dropped connection).
        """
        with self.lock:
            self._faults.append(_Fault(path_prefix, status, count))

    def revoke_sessions(self) -> None:
        """Rotate the JWT secret (as a restart with a new secret does): every token is void."""
        with self.lock:
            self._secret = secrets.token_bytes(32)

    def face_update(
        self, obj: StandinObject, name: str | None, score: float, *, threshold: float = 0.9
    ) -> dict[str, Any]:
        """Return the `frigate/tracked_object_update` payload of one face recognition attempt.

        As `data_processing/real_time/face.py` sends it (name: the weighted best match, or
        None); at or above `face_recognition.recognition_threshold` Frigate also sets the
        object's sub_label, and so does this.
        """
        with self.lock:
            if name is not None and score >= threshold:
                obj.sub_label = (name, score)
            return {
                "type": "face",
                "name": name,
                "score": score,
                "id": obj.id,
                "camera": obj.camera,
                "timestamp": self.clock(),
            }

    def config(self) -> dict[str, Any]:
        """A minimal `/api/config`: Frigate's keys for what a face companion reads."""
        snap = self.snapshots
        snapshots: dict[str, Any] = {
            "enabled": snap.enabled,
            "timestamp": snap.timestamp,
            "bounding_box": snap.bounding_box,
            "crop": snap.crop,
            "required_zones": [],
            "retain": {"default": 10.0, "objects": {}},
            "quality": snap.quality,
        }
        if snap.height is not None:
            snapshots["height"] = snap.height
        return {
            "mqtt": {
                "enabled": True,
                "host": "mqtt",
                "port": 1883,
                "topic_prefix": "frigate",
                "client_id": "frigate",
                "stats_interval": 60,
                "qos": 0,
            },
            "auth": {
                "enabled": self.auth,
                "reset_admin_password": False,
                "cookie_name": self.cookie_name,
                "cookie_secure": False,
                "session_length": self.session_length,
                "refresh_time": self.refresh_time,
                "trusted_proxies": [],
                "hash_iterations": 600000,
                "roles": {"admin": [], "viewer": []},
                "admin_first_time_login": False,
            },
            "face_recognition": {
                "enabled": self.face_recognition,
                "model_size": "small",
                "unknown_score": 0.8,
                "detection_threshold": 0.7,
                "recognition_threshold": 0.9,
                "min_area": 750,
                "min_faces": 1,
                "save_attempts": 200,
                "blur_confidence_filter": True,
            },
            "cameras": {
                name: {
                    "name": name,
                    "enabled": True,
                    "detect": {"enabled": True, "height": 720, "width": 1280, "fps": 5},
                    "mqtt": {
                        "enabled": True,
                        "timestamp": True,
                        "bounding_box": True,
                        "crop": True,
                        "height": 270,
                        "required_zones": [],
                        "quality": 70,
                    },
                    "snapshots": snapshots,
                    "zones": {
                        zone: {"coordinates": "0,0,1280,0,1280,720,0,720", "objects": []}
                        for zone in self.zones.get(name, ())
                    },
                }
                for name in self.cameras
            },
            "plus": {"enabled": False},
        }

    # --- HTTP: called by the handler ---

    def take_fault(self, path: str) -> int | None:
        """Return the status of an armed fault for this path, using it up, or None."""
        with self.lock:
            for fault in self._faults:
                if fault.remaining > 0 and path.startswith(fault.prefix):
                    fault.remaining -= 1
                    return fault.status
            return None

    def mint(self, user: str, role: str) -> str:
        """`create_encoded_jwt`: HS256 over {sub, role, exp, iat}."""
        now = int(self.clock())
        claims = {"sub": user, "role": role, "exp": now + self.session_length, "iat": now}
        head = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64url(json.dumps(claims).encode())
        signing_input = f"{head}.{body}".encode()
        with self.lock:
            signature = _b64url(hmac.new(self._secret, signing_input, hashlib.sha256).digest())
            token = f"{head}.{body}.{signature}"
            self.issued_tokens.append(token)
        return token

    def verify(self, token: str) -> dict[str, Any] | None:
        """Return the claims of a valid, unexpired token, else None (Frigate's `/auth`)."""
        try:
            head, body, signature = token.split(".")
            with self.lock:
                secret = self._secret
            expected = _b64url(hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest())
            if not hmac.compare_digest(expected, signature):
                return None
            claims: Any = json.loads(_b64url_decode(body))
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(claims, dict) or not {"sub", "role", "exp"} <= claims.keys():
            return None
        if int(claims["exp"]) <= int(self.clock()):
            return None
        return claims

    def set_cookie_header(self, token: str) -> str:
        """`set_jwt_cookie` as Starlette writes it."""
        return (
            f"{self.cookie_name}={token}; HttpOnly; Max-Age={self.session_length}; Path=/; "
            "SameSite=lax"
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], owner: FrigateStandin, context: ssl.SSLContext | None
    ) -> None:
        self.owner = owner
        self.context = context
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        """Bind without the reverse DNS lookup of HTTPServer."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def finish_request(self, request: Any, client_address: Any) -> None:
        """TLS handshake in the connection's own thread, then serve it while tracked."""
        conn = request
        if self.context is not None:
            request.settimeout(10)
            try:
                conn = self.context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        with self._conn_lock:
            self._connections.add(conn)
        try:
            _Handler(conn, client_address, self)
        finally:
            with self._conn_lock:
                self._connections.discard(conn)
            if conn is not request:
                conn.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Client hang-ups are routine in tests."""

    def close_connections(self) -> None:
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Reply(NamedTuple):
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str]


def _json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> _Reply:
    return _Reply(status, json.dumps(payload).encode(), "application/json", headers or {})


def _not_found_json(message: str) -> _Reply:
    return _json_reply(404, {"success": False, "message": message})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read `requests`, not a log."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        owner = self.server.owner
        parts = urlsplit(self.path)
        path = parts.path
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with owner.lock:
            owner.requests.append(RecordedRequest(method, path, query))
            owner.request_headers.append({k.lower(): v for k, v in self.headers.items()})
        fault = owner.take_fault(path)
        if fault == 0:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault is not None:
            self._send(_json_reply(fault, {"success": False, "message": "Injected fault"}))
            return
        self._send(self._route(method, path, query, body))

    def _send(self, reply: _Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    # --- nginx + /auth ---

    def _authenticate(self) -> tuple[str | None, dict[str, str]] | None:
        """Return (role, headers to add on success) or None for a 401."""
        owner = self.server.owner
        if not owner.auth:
            return "admin", {}
        authorization = self.headers.get("Authorization", "")
        token: str | None = None
        source = ""
        if authorization.startswith("Bearer "):
            token, source = authorization.removeprefix("Bearer "), "authorization"
        else:
            for part in self.headers.get("Cookie", "").split(";"):
                name, _, value = part.strip().partition("=")
                if name == owner.cookie_name:
                    token, source = value, "cookie"
        if token is None:
            return None
        claims = owner.verify(token)
        if claims is None:
            return None
        extra: dict[str, str] = {}
        if source == "cookie" and int(claims["exp"]) - owner.refresh_time <= int(owner.clock()):
            user = owner.users.get(str(claims["sub"]))
            if user is None:
                return None
            renewed = owner.mint(str(claims["sub"]), str(claims["role"]))
            with owner.lock:
                owner.refreshed_cookies += 1
            extra["Set-Cookie"] = owner.set_cookie_header(renewed)
        return str(claims["role"]), extra

    def _route(self, method: str, path: str, query: dict[str, str], body: bytes) -> _Reply:
        if path == "/api/login" and method == "POST":
            return self._login(body)
        if not path.startswith("/api/"):
            return _Reply(404, b"Not Found", "text/plain", {})
        auth = self._authenticate()
        if auth is None:
            return _Reply(401, _NGINX_401, "text/html", {})
        role, extra = auth
        reply = self._api(method, path.removeprefix("/api"), query, body, role or "viewer")
        if extra and reply.status in _ADD_HEADER_STATUSES:
            reply.headers.update(extra)
        return reply

    def _login(self, body: bytes) -> _Reply:
        owner = self.server.owner
        if not owner.auth:
            return _json_reply(404, {"message": "Authentication is disabled"})
        errors, payload = _validate_login(body)
        if errors:
            return _json_reply(422, {"detail": errors})
        user = owner.users.get(payload["user"])
        if user is None or not hmac.compare_digest(user.password, payload["password"]):
            return _json_reply(401, {"message": "Login failed"})
        token = owner.mint(payload["user"], user.role)
        with owner.lock:
            owner.logins += 1
        return _Reply(
            200, b"", "text/plain; charset=utf-8", {"Set-Cookie": owner.set_cookie_header(token)}
        )

    # --- FastAPI ---

    def _api(self, method: str, path: str, query: dict[str, str], body: bytes, role: str) -> _Reply:
        owner = self.server.owner
        segments = [unquote(part) for part in path.strip("/").split("/")]
        if method == "POST" and self.headers.get("Origin") and not self.headers.get("X-CSRF-TOKEN"):
            return _json_reply(403, {"success": False, "message": "Missing CSRF header"})
        if method == "GET" and segments == ["version"]:
            return _Reply(200, owner.version.encode(), "text/plain; charset=utf-8", {})
        if method == "GET" and segments == ["config"]:
            return _json_reply(200, owner.config())
        if len(segments) == 3 and segments[0::2] == ["events", "sub_label"]:
            if method != "POST":
                return _json_reply(405, {"detail": "Method Not Allowed"})
            return self._sub_label(segments[1], body, role)
        if method == "GET" and len(segments) == 3 and segments[0::2] == ["events", "snapshot.jpg"]:
            return self._snapshot(segments[1], query)
        if method == "GET" and len(segments) == 2 and segments[0] == "events":
            return self._event(segments[1])
        if method == "GET" and len(segments) == 2 and segments[1] == "latest.jpg":
            return self._latest(segments[0], query)
        return _json_reply(404, {"detail": "Not Found"})

    def _event(self, event_id: str) -> _Reply:
        owner = self.server.owner
        with owner.lock:
            obj = owner.objects.get(event_id)
            if obj is None or not obj.has_record:
                return _json_reply(404, "Event not found")
            return _json_reply(200, obj.record())

    def _sub_label(self, event_id: str, body: bytes, role: str) -> _Reply:
        owner = self.server.owner
        if role != "admin":
            detail = f"Role {role} not authorized. Required: admin"
            return _json_reply(403, {"detail": detail})
        errors, payload = _validate_sub_label(body)
        if errors:
            return _json_reply(422, {"detail": errors})
        with owner.lock:
            obj = owner.objects.get(event_id)
            live = obj is not None and obj.end_time is None
            if obj is None or not (live or obj.has_record):
                return _not_found_json("Event " + event_id + " not found.")
            name: str | None = payload["subLabel"]
            score: float | None = payload.get("subLabelScore")
            if name == "":
                name, score = None, None
            obj.sub_label = (name, score)
            owner.sub_label_writes.append((event_id, name, score))
        shown = name if name is not None else "None"
        return _json_reply(
            200, {"success": True, "message": f"Event {event_id} sub label set to {shown}"}
        )

    def _snapshot(self, event_id: str, query: dict[str, str]) -> _Reply:
        owner = self.server.owner
        errors, params = _validate_ints(query, ("timestamp", "bbox", "crop", "height", "quality"))
        if errors:
            return _json_reply(422, {"detail": errors})
        with owner.lock:
            obj = owner.objects.get(event_id)
            if obj is not None and obj.end_time is not None and obj.has_record:
                if not obj.has_snapshot:
                    return _not_found_json("Snapshot not available")
                complete = True
            elif obj is not None and obj.end_time is None:
                complete = False
            else:
                return _not_found_json("Live frame not available")
            frame, snap = obj.best_frame, obj.thumbnail_data
            label, box = obj.label, obj.box
            score = obj.score
        if frame is None or snap is None:
            return _not_found_json("Live frame not available")
        settings = owner.snapshots

        def option(name: str, default: bool) -> bool:
            value = params.get(name)
            return default if value is None else bool(value)

        image = _render(
            frame,
            frame_time=float(snap["frame_time"]),
            label=label,
            box=box,
            score=float(snap.get("score", score)),
            bounding_box=option("bbox", settings.bounding_box),
            timestamp=option("timestamp", settings.timestamp),
            crop=option("crop", settings.crop),
            height=params.get("height", settings.height),
            quality=params.get("quality", settings.quality),
        )
        if image is None:
            return _Reply(400, b'"Invalid height"', "application/json", {})
        headers = {
            "Cache-Control": "private, max-age=31536000" if complete else "no-store",
            "X-Frame-Time": str(snap["frame_time"]),
        }
        return _Reply(200, image, "image/jpeg", headers)

    def _latest(self, camera: str, query: dict[str, str]) -> _Reply:
        owner = self.server.owner
        if camera not in owner.cameras:
            return _not_found_json("Camera not found")
        errors, params = _validate_ints(query, ("height", "quality", "bbox", "timestamp"))
        if errors:
            return _json_reply(422, {"detail": errors})
        with owner.lock:
            frame = owner.latest.get(camera)
        if frame is None:  # Frigate serves its camera-error picture
            frame = jpeg_frame(320, 240, shade=10)
        height = params.get("height")
        if height is not None and height < 1:
            return _json_reply(400, f"Invalid height / width requested :: {height} / 0")
        image = _render(
            frame,
            frame_time=owner.clock(),
            label="",
            box=None,
            score=0.0,
            bounding_box=False,
            timestamp=bool(params.get("timestamp")),
            crop=False,
            height=height,
            quality=params.get("quality", 70),
        )
        return _Reply(200, image or b"", "image/jpeg", {"Cache-Control": "no-store"})


def _validate_ints(
    query: Mapping[str, str], names: Iterable[str]
) -> tuple[list[Any], dict[str, int]]:
    """FastAPI's query validation of `int | None` parameters."""
    errors: list[Any] = []
    values: dict[str, int] = {}
    for name in names:
        if name not in query:
            continue
        raw = query[name]
        try:
            values[name] = int(raw)
        except ValueError:
            errors.append(
                {
                    "type": "int_parsing",
                    "loc": ["query", name],
                    "msg": "Input should be a valid integer, unable to parse string as an integer",
                    "input": raw,
                }
            )
    return errors, values


def _json_body(body: bytes) -> tuple[list[Any], Any]:
    try:
        return [], json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        error = {
            "type": "json_invalid",
            "loc": ["body", 0],
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": str(err).split(":")[0]},
        }
        return [error], None


def _validate_login(body: bytes) -> tuple[list[Any], dict[str, str]]:
    """pydantic's checks of `AppPostLoginBody` (user: str, password: str)."""
    errors, payload = _json_body(body)
    if errors:
        return errors, {}
    if not isinstance(payload, dict):
        return [_model_type_error(payload)], {}
    for name in ("user", "password"):
        if name not in payload:
            errors.append(
                {
                    "type": "missing",
                    "loc": ["body", name],
                    "msg": "Field required",
                    "input": payload,
                }
            )
        elif not isinstance(payload[name], str):
            errors.append(_string_type_error(name, payload[name]))
    return errors, payload if not errors else {}


def _model_type_error(payload: Any) -> dict[str, Any]:
    return {
        "type": "model_attributes_type",
        "loc": ["body"],
        "msg": "Input should be a valid dictionary or object to extract fields from",
        "input": payload,
    }


def _string_type_error(name: str, value: Any) -> dict[str, Any]:
    return {
        "type": "string_type",
        "loc": ["body", name],
        "msg": "Input should be a valid string",
        "input": value,
    }


def _validate_sub_label(body: bytes) -> tuple[list[Any], dict[str, Any]]:
    """pydantic's checks of `EventsSubLabelBody` (frigate/api/defs/request/events_body.py)."""
    errors, payload = _json_body(body)
    if errors:
        return errors, {}
    if not isinstance(payload, dict):
        return [_model_type_error(payload)], {}
    label = payload.get("subLabel")
    if "subLabel" not in payload:
        errors.append(
            {
                "type": "missing",
                "loc": ["body", "subLabel"],
                "msg": "Field required",
                "input": payload,
            }
        )
    elif not isinstance(label, str):
        errors.append(_string_type_error("subLabel", label))
    elif len(label) > 100:
        errors.append(
            {
                "type": "string_too_long",
                "loc": ["body", "subLabel"],
                "msg": "String should have at most 100 characters",
                "input": label,
                "ctx": {"max_length": 100},
            }
        )
    score = payload.get("subLabelScore")
    if score is not None:
        if isinstance(score, bool) or not isinstance(score, int | float):
            errors.append(
                {
                    "type": "float_type",
                    "loc": ["body", "subLabelScore"],
                    "msg": "Input should be a valid number",
                    "input": score,
                }
            )
        elif not score > 0:
            errors.append(
                {
                    "type": "greater_than",
                    "loc": ["body", "subLabelScore"],
                    "msg": "Input should be greater than 0",
                    "input": score,
                    "ctx": {"gt": 0.0},
                }
            )
        elif score > 1:
            errors.append(
                {
                    "type": "less_than_equal",
                    "loc": ["body", "subLabelScore"],
                    "msg": "Input should be less than or equal to 1",
                    "input": score,
                    "ctx": {"le": 1.0},
                }
            )
    camera = payload.get("camera")
    if camera is not None and not isinstance(camera, str):
        errors.append(_string_type_error("camera", camera))
    if errors:
        return errors, {}
    result = dict(payload)
    if score is not None:
        result["subLabelScore"] = float(score)
    return [], result


def _render(
    frame: bytes,
    *,
    frame_time: float,
    label: str,
    box: tuple[int, int, int, int] | None,
    score: float,
    bounding_box: bool,
    timestamp: bool,
    crop: bool,
    height: int | None,
    quality: int | None,
) -> bytes | None:
    """`get_snapshot_bytes`: draw the box, crop, resize, stamp, encode (None: bad height)."""
    with Image.open(io.BytesIO(frame)) as opened:
        image = opened.convert("RGB")
    if bounding_box and box is not None:
        _draw_box_with_label(image, box, label, score)
    if crop and box is not None:
        region = calculate_region((image.height, image.width), box, 300, 1.1)
        image = image.crop(region)
    if height:
        if height < 1:
            return None
        width = int(height * image.width / image.height)
        if width < 1:
            return None
        image = image.resize((width, height), Image.Resampling.BOX)
    if timestamp:
        text = datetime.fromtimestamp(frame_time).strftime("%m/%d/%Y %H:%M:%S")
        draw = ImageDraw.Draw(image)
        left, top, right, bottom = draw.textbbox((10, 10), text)
        draw.rectangle((left - 2, top - 2, right + 2, bottom + 2), fill=(0, 0, 0))
        draw.text((10, 10), text, fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality if quality is not None else 75)
    return buffer.getvalue()


def _draw_box_with_label(
    image: Image.Image, box: tuple[int, int, int, int], label: str, score: float
) -> None:
    """`draw_box_with_label`: the box (2 px), and its label on a filled box above it."""
    draw = ImageDraw.Draw(image)
    x_min, y_min, x_max, y_max = box
    draw.rectangle((x_min, y_min, x_max, y_max), outline=BOX_COLOUR, width=2)
    area = (x_max - x_min) * (y_max - y_min)
    text = f"{label}: {score:.0%} {area}"
    left, top, right, bottom = draw.textbbox((0, 0), text)
    line_height = bottom - top + 6
    text_y = y_min - (line_height + 8)
    if text_y < 0:
        text_y = y_max if y_max + line_height <= image.height else 0
    draw.rectangle((x_min, text_y, x_min + right - left + 2, text_y + line_height), fill=BOX_COLOUR)
    draw.text((x_min, text_y + 2), text, fill=(0, 0, 0))


class FrigateMqttPublisher:
    """Publishes what Frigate would on a broker: `frigate/events`, face updates, snapshots.

    Like Frigate's MQTT client (`comms/mqtt.py`): client id `frigate`, last will `offline`
    on `frigate/available` (retained), `online` published on connect, QoS 0 by default.
    """

    def __init__(
        self, host: str, port: int, *, topic_prefix: str = "frigate", qos: int = 0
    ) -> None:
        self.topic_prefix = topic_prefix
        self.qos = qos
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"{topic_prefix}-standin"
        )
        self._client.will_set(f"{topic_prefix}/available", "offline", qos=1, retain=True)
        self._host, self._port = host, port

    def start(self) -> Self:
        """Connect, then publish `online` (retained) as Frigate does."""
        connected = threading.Event()
        self._client.on_connect = lambda *_args: connected.set()
        self._client.connect(self._host, self._port)
        self._client.loop_start()
        if not connected.wait(10):
            msg = f"the Frigate publisher could not connect to {self._host}:{self._port}"
            raise RuntimeError(msg)
        self.publish("available", "online", retain=True)
        return self

    def stop(self, *, clean: bool = True) -> None:
        """Disconnect; `clean` publishes `stopped` first (0.18's normal shutdown)."""
        if clean:
            self.publish("available", "stopped", retain=True)
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> None:
        """Publish under the prefix and wait until it is sent."""
        info = self._client.publish(f"{self.topic_prefix}/{topic}", payload, self.qos, retain)
        info.wait_for_publish(10)

    def publish_event(self, message: Mapping[str, Any]) -> None:
        """`frigate/events` (not retained)."""
        self.publish("events", json.dumps(message))

    def publish_tracked_object_update(self, payload: Mapping[str, Any]) -> None:
        """`frigate/tracked_object_update` (not retained)."""
        self.publish("tracked_object_update", json.dumps(payload))

    def publish_snapshot(self, camera: str, label: str, jpeg: bytes) -> None:
        """`frigate/<camera>/<label>/snapshot` (retained, raw JPEG)."""
        self.publish(f"{camera}/{label}/snapshot", jpeg, retain=True)


def fixture_dir() -> Path:
    """Where Frigate's own example payloads are kept (tests/fixtures/frigate)."""
    return Path(__file__).resolve().parents[1] / "fixtures" / "frigate"
