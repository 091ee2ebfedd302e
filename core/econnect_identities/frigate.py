"""Frigate's MQTT messages, read tolerantly: tracked-object events and its own face results.

`frigate/events` carries `{"type": "new"|"update"|"end", "before": {...}, "after": {...}}` for
each tracked object; what Frigate's code sends (`to_dict` of a tracked object) differs from the
example in its docs, and grows between releases, so only the keys a face companion needs are
read, unknown keys are ignored, and a wrong shape is named in a `FrigateMessageError`.
`frigate/tracked_object_update` carries, among other types, Frigate's own face recognition
result (`type: face`) for an event id. Both the bridge and the Home Assistant integration read
Frigate through this module; it does no I/O.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

__all__ = [
    "EVENT_KINDS",
    "FaceUpdate",
    "FrigateMessageError",
    "FrigateObject",
    "FrigateRef",
    "event_link",
    "parse_event",
    "parse_face_update",
    "parse_sub_label",
]

EVENT_KINDS: Final = frozenset({"new", "update", "end"})
#: Names Frigate's face recognition uses for "a face, but nobody it knows".
_NOT_A_NAME: Final = frozenset({"", "unknown", "none"})


class FrigateMessageError(ValueError):
    """A Frigate message that cannot be read; the text names the key, never the payload."""

    code = "bad_frigate_event"


@dataclass(frozen=True, slots=True)
class FrigateObject:
    """One tracked object as a `frigate/events` message describes it (its `after` part).

    `snapshot_time` is the frame time of the object's best snapshot: it changes when Frigate
    finds a better picture, which is when another fetch is worth its cost.
    """

    kind: str
    event_id: str
    camera: str
    label: str
    score: float | None = None
    current_zones: tuple[str, ...] = ()
    entered_zones: tuple[str, ...] = ()
    has_snapshot: bool = False
    snapshot_time: float | None = None
    start_time: float | None = None
    end_time: float | None = None
    sub_label: str | None = None
    sub_label_score: float | None = None
    false_positive: bool = False

    @property
    def ended(self) -> bool:
        """Whether Frigate stopped tracking the object (nothing follows an `end`)."""
        return self.kind == "end" or self.end_time is not None


@dataclass(frozen=True, slots=True)
class FaceUpdate:
    """Frigate's own face recognition result for one tracked object (after each attempt)."""

    event_id: str
    camera: str
    name: str | None
    score: float | None


@dataclass(frozen=True, slots=True)
class FrigateRef:
    """What a published event says of the Frigate object it came from.

    Automations use `event_id` to fetch Frigate's own clip or snapshot; `url` opens the
    object in Frigate's UI when the bridge knows Frigate's address.
    """

    event_id: str
    camera: str
    label: str
    score: float | None
    zones: tuple[str, ...]
    url: str | None = None
    correction: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON-ready `frigate` block of an event."""
        return {
            "event_id": self.event_id,
            "camera": self.camera,
            "label": self.label,
            "score": None if self.score is None else round(self.score, 4),
            "zones": list(self.zones),
            "url": self.url,
            "correction": self.correction,
        }


def event_link(frigate_url: str | None, event_id: str) -> str | None:
    """Return the link that opens a tracked object in Frigate's UI (its Explore view)."""
    if not frigate_url:
        return None
    return f"{frigate_url.rstrip('/')}/explore?event_id={quote(event_id, safe='')}"


def parse_event(payload: bytes | str) -> FrigateObject:
    """Read one `frigate/events` message.

    Raises:
        FrigateMessageError: Not JSON, not an object, an unknown `type`, or an `after`
            without `id`, `camera` or `label`.
    """
    message = _json_object(payload, "frigate/events")
    kind = message.get("type")
    if kind not in EVENT_KINDS:
        msg = f"'type' is {_brief(kind)}, expected one of new, update, end"
        raise FrigateMessageError(msg)
    after = message.get("after")
    if not isinstance(after, Mapping):
        msg = "'after' is missing or not an object"
        raise FrigateMessageError(msg)
    sub_label, sub_label_score = parse_sub_label(after.get("sub_label"))
    snapshot = after.get("snapshot")
    frame_time = snapshot.get("frame_time") if isinstance(snapshot, Mapping) else None
    return FrigateObject(
        kind=str(kind),
        event_id=_required_text(after, "id"),
        camera=_required_text(after, "camera"),
        label=_required_text(after, "label"),
        score=_number(after.get("top_score")) or _number(after.get("score")),
        current_zones=_names(after.get("current_zones")),
        entered_zones=_names(after.get("entered_zones")),
        has_snapshot=after.get("has_snapshot") is True,
        snapshot_time=_number(frame_time),
        start_time=_number(after.get("start_time")),
        end_time=_number(after.get("end_time")),
        sub_label=sub_label,
        sub_label_score=sub_label_score,
        false_positive=after.get("false_positive") is True,
    )


def parse_face_update(payload: bytes | str) -> FaceUpdate | None:
    """Read a `frigate/tracked_object_update` message; None unless it is a face result.

    The topic also carries `description`, `lpr` and `classification` updates, which a face
    companion ignores. A face update whose name is empty or "unknown" has no name.

    Raises:
        FrigateMessageError: Not a JSON object, or a face update without `id`.
    """
    message = _json_object(payload, "frigate/tracked_object_update")
    if message.get("type") != "face":
        return None
    name = message.get("name")
    named = isinstance(name, str) and name.strip().lower() not in _NOT_A_NAME
    return FaceUpdate(
        event_id=_required_text(message, "id"),
        camera=str(message.get("camera") or ""),
        name=name.strip() if named and isinstance(name, str) else None,
        score=_number(message.get("score")),
    )


def parse_sub_label(value: object) -> tuple[str | None, float | None]:
    """Return (name, score) of a sub_label in either of Frigate's shapes.

    On MQTT it is a list `["John Smith", 0.79]`, and `[null, null]` once cleared on a live
    object (a truthy value with no name); in `GET /api/events/<id>` it is a string.
    """
    if isinstance(value, str):
        return (value.strip() or None), None
    if isinstance(value, list | tuple) and value:
        name = value[0] if isinstance(value[0], str) and value[0].strip() else None
        score = _number(value[1]) if len(value) > 1 else None
        return (None if name is None else name.strip()), (None if name is None else score)
    return None, None


def _json_object(payload: bytes | str, topic: str) -> Mapping[str, Any]:
    try:
        message = json.loads(payload)
    except (ValueError, RecursionError) as err:
        msg = f"a {topic} message is not JSON ({type(err).__name__})"
        raise FrigateMessageError(msg) from None
    if not isinstance(message, Mapping):
        msg = f"a {topic} message is {type(message).__name__}, not a JSON object"
        raise FrigateMessageError(msg)
    return message


def _required_text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        msg = f"'{key}' is {_brief(value)}, expected a non-empty string"
        raise FrigateMessageError(msg)
    return value.strip()


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _names(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        return ()
    return tuple(dict.fromkeys(item for item in value if isinstance(item, str) and item))


def _brief(value: object) -> str:
    if value is None:
        return "missing"
    if isinstance(value, str):
        return repr(value[:40])
    return type(value).__name__
