"""Validation of a gallery's YAML into :class:`~econnect_bridge.emulator.gallery.Gallery` objects.

Kept apart from the model so that the model reads as the documentation of the format and this
module as the list of rules. Every error carries the file and the key path of the culprit.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from econnect_bridge.emulator import faces
from econnect_bridge.emulator.gallery import (
    PERMISSIONS,
    Address,
    Alias,
    EntityField,
    Gallery,
    GalleryError,
    Person,
    PersonTag,
    Settings,
    Tag,
    User,
)

__all__ = ["as_timestamp", "parse"]

T = TypeVar("T")
_NO_EXPIRY = "00:00:00"


class _Reader:
    """Reads typed values out of a YAML mapping, failing with ``file: key.path: problem``."""

    def __init__(self, file: Path, where: str, value: Any) -> None:
        self.file, self.where = file, where
        if not isinstance(value, Mapping):
            self.fail(f"expected a mapping, found {type(value).__name__}")
        self.data: Mapping[str, Any] = value

    def fail(self, problem: str) -> NoReturn:
        raise GalleryError(f"{self.file.name}: {self.where or '(top level)'}: {problem}")

    def child(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def string(self, key: str, *, required: bool = True) -> str | None:
        value = self.data.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{key!r} must be a non-empty string, found {value!r}")
        return value

    def req(self, key: str) -> str:
        value = self.string(key)
        assert value is not None
        return value

    def number(self, key: str, default: float, minimum: float) -> float:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            self.fail(f"{key!r} must be a number >= {minimum}, found {value!r}")
        return float(value)

    def timestamp(self, key: str) -> str | None:
        try:
            return as_timestamp(self.data.get(key))
        except TypeError:
            self.fail(f"{key!r} must be a timestamp like 2026-01-15T12:00:00Z")

    def items(self, key: str, build: Callable[[_Reader], T]) -> tuple[T, ...]:
        value = self.data.get(key) or []
        if not isinstance(value, list):
            self.fail(f"{key!r} must be a list")
        return tuple(
            build(_Reader(self.file, f"{self.child(key)}[{i}]", item))
            for i, item in enumerate(value)
        )


def as_timestamp(value: Any) -> str | None:
    """YAML turns unquoted timestamps into datetimes; the API speaks ``...Z`` strings."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dt.datetime):
        utc = value.astimezone(dt.UTC) if value.tzinfo else value
        return utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return f"{value.isoformat()}T00:00:00Z"
    raise TypeError("expected a timestamp")


def _uuid(reader: _Reader, key: str) -> str:
    value = reader.req(key)
    try:
        uuid.UUID(value)
    except ValueError:
        reader.fail(f"{key!r} must be a GUID, found {value!r}")
    return value


def _user(r: _Reader) -> User:
    perms = r.data.get("permissions") or []
    if not isinstance(perms, list) or not all(isinstance(p, str) for p in perms):
        r.fail("'permissions' must be a list of permission names")
    unknown = sorted(set(perms) - PERMISSIONS)
    if unknown:
        r.fail(f"unknown permissions {unknown}; known: {sorted(PERMISSIONS)}")
    password = r.data.get("password")
    if not isinstance(password, str):
        r.fail("'password' must be a string")
    return User(r.req("username"), password, frozenset(perms))


def _tag(r: _Reader) -> Tag:
    disabled = r.data.get("disabled", False)
    if not isinstance(disabled, bool):
        r.fail("'disabled' must be true or false")
    period = r.data.get("defaultExpirePeriod", _NO_EXPIRY)
    if not isinstance(period, str):
        r.fail("'defaultExpirePeriod' must be a string like 30.00:00:00")
    description = r.string("description", required=False)
    return Tag(_uuid(r, "tagId"), r.req("tagName"), disabled, description, period)


def _alias(r: _Reader) -> Alias:
    names = [r.string(k, required=False) for k in ("firstName", "lastName", "middleName", "title")]
    return Alias(*names)


def _address(r: _Reader) -> Address:
    keys = ("street", "street2", "city", "state", "postalCode", "country")
    return Address(*(r.string(k, required=False) for k in keys))


def _field(r: _Reader) -> EntityField:
    kinds = ("stringValue", "dateValue", "numberValue", "boolValue")
    given = [k for k in kinds if r.data.get(k) is not None]
    if len(given) != 1:
        r.fail(f"give exactly one of {list(kinds)}, found {given}")
    name, key, value = r.req("name"), given[0], r.data[given[0]]
    if key == "stringValue" and isinstance(value, str):
        return EntityField(name, string_value=value)
    if key == "dateValue":
        return EntityField(name, date_value=r.timestamp(key))
    if key == "numberValue" and isinstance(value, int | float) and not isinstance(value, bool):
        return EntityField(name, number_value=value)
    if key != "boolValue" or not isinstance(value, bool):
        r.fail(f"{key!r} has the wrong type: {value!r}")
    return EntityField(name, bool_value=value)


def _person_tag(tags: Mapping[str, Tag]) -> Callable[[_Reader], PersonTag]:
    def build(r: _Reader) -> PersonTag:
        ref = r.req("tag")
        tag = tags.get(ref) or next((t for t in tags.values() if t.tag_id == ref), None)
        if tag is None:
            r.fail(f"unknown tag {ref!r}; the gallery's tags are {sorted(tags)}")
        return PersonTag(tag.tag_id, r.timestamp("created"), r.timestamp("expires"))

    return build


def _person(file: Path, tags: Mapping[str, Tag]) -> Callable[[_Reader], Person]:
    def build(r: _Reader) -> Person:
        image = (file.parent / r.req("referenceImage")).resolve()
        try:
            found = faces.analyse(image.read_bytes())
        except OSError:
            r.fail(f"reference image not found: {image}")
        if not found.faces:
            r.fail(f"no face (saturated colour region) in reference image {image.name}")
        return Person(
            person_id=_uuid(r, "personId"),
            friendly_name=r.req("friendlyName"),
            reference_image=image,
            colour=found.faces[0].colour,
            aliases=r.items("aliases", _alias),
            addresses=r.items("addresses", _address),
            tags=r.items("tags", _person_tag(tags)),
            entity_fields=r.items("entityFields", _field),
        )

    return build


def _settings(r: _Reader) -> Settings:
    return Settings(
        token_lifetime_seconds=r.number("token_lifetime_seconds", 3600.0, 1.0),
        duplicate_window_seconds=r.number("duplicate_window_seconds", 0.0, 0.0),
        match_threshold=r.number("match_threshold", faces.MATCH_THRESHOLD, 1.0),
    )


def _unique(file: Path, what: str, keys: list[str]) -> None:
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise GalleryError(f"{file.name}: {what}: duplicated {dupes}")


def parse(raw: Any, file: Path) -> Gallery:
    """Turn the loaded YAML of ``file`` into a validated :class:`Gallery`."""
    top = _Reader(file, "", raw)
    settings = _settings(_Reader(file, "settings", top.data.get("settings") or {}))
    users = top.items("users", _user)
    tags = top.items("tags", _tag)
    _unique(file, "users", [u.username for u in users])
    _unique(file, "tags", [t.tag_id for t in tags] + [t.name for t in tags])
    by_name = {t.name: t for t in tags}
    people = top.items("people", _person(file, by_name))
    _unique(file, "people", [p.person_id.lower() for p in people])
    if not users:
        top.fail("the gallery needs at least one user")
    return Gallery(file, settings, users, tags, people)
