"""Read the bridge's own retained states back at start, so a restart neither blanks nor lies.

Without this, a restart loses what the bridge knew: it republished blank states (the camera's
*Last person* went back to unknown), and a presence ON retained just before the stop stayed ON
until the person came back, because the timer that would have turned it OFF died with the old
process. The bridge owns its state topics, so the broker already keeps everything needed: the
app subscribes to `recovery_filters(topics)` right after connecting, collects the retained
messages that arrive within a short settle time, and hands them once, before the first
announce, to `Delivery.restore`, which parses them here and lets `StateBook.restore` reconcile
them with the clocks (what timed out meanwhile turns OFF at once, the rest expires on time).

The app's side, in order::

    for topic_filter in recovery_filters(topics):      # before connecting, not shared
        mqtt.subscribe(topic_filter, collect, shared=False)
    # collect(message): keep (message.topic, message.payload) if message.retain, and only
    # until the hand-over: the bridge's own live publishes arrive here too (not retained),
    # and a reconnect delivers the retained ones again; both must be dropped.
    delivery.restore(collected)                         # once, after the settle time,
    delivery.initial(cameras)                           # then the first announce as today

Only parsing lives here, and it is defensive: anyone allowed to publish under the base topic
can retain anything there, and an older or newer bridge may have written the payload. A
payload that is not exactly a state this bridge could have written (wrong shape, wrong type,
a name that does not match its topic, another schema version) is skipped and counted, never
raised, and never half used. Payload contents are personal data, so only topics are logged.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from econnect_bridge.states import (
    KIND_HERE_STATE,
    CameraState,
    SubjectKind,
    SubjectState,
    Topics,
)
from econnect_identities.events import SCHEMA_VERSION
from econnect_identities.models import Outcome
from econnect_identities.naming import may_slug, slugify, tag_key

_LOGGER = logging.getLogger("econnect_bridge.recovery")

#: A state payload is well under 2 KiB; anything much larger is not one of ours.
MAX_STATE_BYTES: Final = 16 * 1024

_UTC_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z")
_OUTCOMES: Final[dict[str, Outcome]] = {
    "known": "known",
    "unknown": "unknown",
    "no_face": "no_face",
}
_FLAGS: Final = {"ON": True, "OFF": False}
_KIND_BY_LEVEL: Final[dict[str, str]] = {"cameras": "camera", "persons": "person", "tags": "tag"}

SubjectKey = tuple[SubjectKind, str]


def recovery_filters(topics: Topics) -> tuple[str, ...]:
    """The topic filters to subscribe to at start: every state topic the state book publishes.

    Exactly the retained states the bridge owns (cameras, persons, tags), not the bridge's
    health (it restarts from zero with the process) and not events (never retained, never
    replayed).
    """
    return tuple(f"{topics.base}/{level}/+/state" for level in _KIND_BY_LEVEL)


@dataclass(frozen=True, slots=True)
class Recovered:
    """The states read back from the broker, before reconciling them with the clocks.

    `cameras` is keyed by camera slug (the topic level; the payload carries no other name),
    `subjects` by (kind, slug), the slug being the topic level too: a person or tag whose name
    collided with another's had a suffixed slug (`econnect_identities.naming.SubjectSlugs`),
    which the state book recalls so that the name gets it again. `ignored` counts the
    messages that were skipped. A camera slug may be a suffixed one
    (`econnect_identities.naming.CameraSlugs`): the state book hands them to the camera
    registry, which gives a name its suffixed slug again if it had it.
    """

    cameras: Mapping[str, CameraState] = field(default_factory=dict)
    subjects: Mapping[SubjectKey, SubjectState] = field(default_factory=dict)
    ignored: int = 0

    def __len__(self) -> int:
        """How many states were recovered."""
        return len(self.cameras) + len(self.subjects)


class _MalformedError(ValueError):
    """A retained message that is not a state this bridge could have written."""


def recover(messages: Iterable[tuple[str, bytes]], topics: Topics) -> Recovered:
    """Parse the retained (topic, payload) pairs collected at start; skip and count the rest."""
    cameras: dict[str, CameraState] = {}
    subjects: dict[SubjectKey, SubjectState] = {}
    ignored = 0
    for topic, payload in messages:
        if topics.kind_of(topic) == KIND_HERE_STATE:
            continue  # rebuilt from the person and camera states, never read back
        try:
            state = _parse(topic, payload, topics)
        except (ValueError, TypeError, RecursionError) as err:  # JSON and Unicode errors too
            ignored += 1
            _LOGGER.debug("Ignoring the retained message on %r: %s", topic, err)
            continue
        if isinstance(state, CameraState):
            cameras[state.camera] = state
        else:
            subjects[(state.kind, _topic_levels(topic, topics)[1])] = state
    return Recovered(cameras=cameras, subjects=subjects, ignored=ignored)


def _parse(topic: str, payload: bytes, topics: Topics) -> CameraState | SubjectState:
    """Turn one retained message into the state it describes, or raise ValueError."""
    level, slug = _topic_levels(topic, topics)
    if not payload:
        raise _MalformedError("empty payload")
    if len(payload) > MAX_STATE_BYTES:
        raise _MalformedError(f"larger than {MAX_STATE_BYTES} bytes")
    fields = _Fields(json.loads(payload.decode("utf-8")))
    if fields.raw("schema_version") != SCHEMA_VERSION:
        raise _MalformedError("another schema version")
    if level == "cameras":
        return _camera(slug, fields)
    if level == "persons":
        return _person(slug, fields)
    return _tag(slug, fields)


def _topic_levels(topic: str, topics: Topics) -> tuple[str, str]:
    """Return (`cameras`|`persons`|`tags`, slug) of a state topic; raise for any other."""
    prefix = topics.base + "/"
    levels = topic[len(prefix) :].split("/") if topic.startswith(prefix) else []
    if len(levels) != 3 or levels[0] not in _KIND_BY_LEVEL or levels[2] != "state":
        raise _MalformedError("not a state topic of this bridge")
    if not _is_slug(levels[1]):
        raise _MalformedError("the name level is not a slug")
    return levels[0], levels[1]


def _is_slug(text: str) -> bool:
    return bool(text) and slugify(text) == text


def _camera(slug: str, fields: _Fields) -> CameraState:
    if fields.name("camera") != slug:
        raise _MalformedError("the payload names another camera than its topic")
    return CameraState(
        camera=slug,
        time=fields.time("time"),
        outcome=fields.outcome("outcome"),
        face_count=fields.count("face_count"),
        last_person=fields.text("last_person"),
        person_id=fields.text("person_id"),
        tags=fields.texts("tags"),
        confidence=fields.score("confidence"),
        quality=fields.score("quality"),
        last_seen=fields.optional_time("last_seen"),
        known_person=fields.flag("known_person"),
        unknown_face=fields.flag("unknown_face"),
        tag_presence=fields.flags("tag_presence"),
        unknown_last_seen=fields.optional_time("unknown_last_seen", required=False),
        tag_last_seen=fields.times("tag_last_seen"),
        frigate_event_id=fields.optional_text("frigate_event_id"),
        unknown_count=fields.optional_count("unknown_count"),
    )


def _person(slug: str, fields: _Fields) -> SubjectState:
    name = fields.name("person")
    if not may_slug(name, slug):
        raise _MalformedError("the payload names another person than its topic")
    return SubjectState(
        "person",
        name,
        presence=fields.flag("presence"),
        person_id=fields.text("person_id"),
        last_camera=fields.slug("last_camera"),
        last_camera_name=fields.optional_text("last_camera_name"),
        last_seen=fields.optional_time("last_seen"),
        confidence=fields.score("confidence"),
        tags=fields.optional_texts("tags"),
    )


def _tag(slug: str, fields: _Fields) -> SubjectState:
    name = fields.name("tag")
    if not may_slug(tag_key(name), slug):
        raise _MalformedError("the payload names another tag than its topic")
    return SubjectState(
        "tag",
        name,
        presence=fields.flag("presence"),
        last_camera=fields.slug("last_camera"),
        last_camera_name=fields.optional_text("last_camera_name"),
        last_person=fields.text("last_person"),
        last_seen=fields.optional_time("last_seen"),
    )


class _Fields:
    """Typed reads of one JSON object, following the payload schema; a surprise raises."""

    def __init__(self, data: object) -> None:
        if not isinstance(data, dict):
            raise _MalformedError("not a JSON object")
        self._data: dict[str, object] = data

    def raw(self, key: str, *, required: bool = True) -> object:
        """The value of `key`; a missing key is an error unless not `required` (then None)."""
        if key not in self._data:
            if required:
                raise _MalformedError(f"no {key!r}")
            return None
        return self._data[key]

    def text(self, key: str) -> str | None:
        """A string or null."""
        value = self.raw(key)
        if value is not None and not isinstance(value, str):
            raise _MalformedError(f"{key!r} is not a string")
        return value

    def optional_text(self, key: str) -> str | None:
        """A string or null, or absent (states retained before the key existed)."""
        value = self.raw(key, required=False)
        if value is not None and not isinstance(value, str):
            raise _MalformedError(f"{key!r} is not a string")
        return value

    def name(self, key: str) -> str:
        """A non-empty string."""
        value = self.text(key)
        if not value:
            raise _MalformedError(f"{key!r} is empty")
        return value

    def slug(self, key: str) -> str | None:
        """A slug or null."""
        value = self.text(key)
        if value is not None and not _is_slug(value):
            raise _MalformedError(f"{key!r} is not a slug")
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        """A list of strings."""
        value = self.raw(key)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise _MalformedError(f"{key!r} is not a list of strings")
        return tuple(value)

    def optional_texts(self, key: str) -> tuple[str, ...]:
        """A list of strings, or absent (states retained before the key existed): empty."""
        return self.texts(key) if key in self._data else ()

    def optional_count(self, key: str) -> int:
        """A count, or absent (states retained before the key existed): 0."""
        return self.count(key) if key in self._data else 0

    def count(self, key: str) -> int:
        """A non-negative integer (not a boolean)."""
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _MalformedError(f"{key!r} is not a count")
        return value

    def score(self, key: str) -> float | None:
        """A number between 0 and 1, or null."""
        value = self.raw(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise _MalformedError(f"{key!r} is not a score")
        return float(value)

    def flag(self, key: str) -> bool:
        """`ON` or `OFF`."""
        value = self.raw(key)
        if not isinstance(value, str) or value not in _FLAGS:
            raise _MalformedError(f"{key!r} is not ON or OFF")
        return _FLAGS[value]

    def flags(self, key: str) -> dict[str, bool]:
        """An object of slug → `ON`/`OFF`."""
        value = self.raw(key)
        if not isinstance(value, dict):
            raise _MalformedError(f"{key!r} is not an object")
        inner = _Fields(value)
        return {_slug_key(tag, key): inner.flag(tag) for tag in value}

    def outcome(self, key: str) -> Outcome | None:
        """A result's outcome, or null before the first result."""
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, str) or value not in _OUTCOMES:
            raise _MalformedError(f"{key!r} is not an outcome")
        return _OUTCOMES[value]

    def time(self, key: str) -> datetime:
        """A UTC time in the payloads' ISO 8601 form with a `Z`."""
        value = self.optional_time(key)
        if value is None:
            raise _MalformedError(f"{key!r} is null")
        return value

    def optional_time(self, key: str, *, required: bool = True) -> datetime | None:
        """A UTC time or null (None too when the key is missing and not `required`)."""
        value = self.raw(key, required=required)
        if value is None:
            return None
        if not isinstance(value, str) or not _UTC_TIME.fullmatch(value):
            raise _MalformedError(f"{key!r} is not a UTC time")
        return datetime.fromisoformat(value)

    def times(self, key: str) -> dict[str, datetime]:
        """An optional object of slug → UTC time (missing: empty)."""
        value = self.raw(key, required=False)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise _MalformedError(f"{key!r} is not an object")
        inner = _Fields(value)
        return {_slug_key(tag, key): inner.time(tag) for tag in value}


def _slug_key(name: str, key: str) -> str:
    if not _is_slug(name):
        raise _MalformedError(f"{key!r} has a key that is not a slug")
    return name
