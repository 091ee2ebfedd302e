"""Turn the engine's JSON into models, tolerantly.

Unknown fields are ignored and optional fields may be missing, because the vendor documents
fields but not their stability. What cannot be read as the contract says (a face without an
id, a confidence that is not a number) raises `WireFormatError` with the path of the bad value,
which the protocol layer turns into an `EconnectProtocolError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from econnect_identities.models import (
    Alias,
    BoundingBox,
    DetectedFace,
    EntityField,
    FieldValue,
    Person,
    PersonTag,
    RecognitionResult,
    Tag,
)


class WireFormatError(ValueError):
    """A reply's JSON does not have the shape of the contract."""


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise WireFormatError(f"{path}: expected an object, found {type(value).__name__}")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise WireFormatError(f"{path}: expected a list, found {type(value).__name__}")
    return value


def _str(obj: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise WireFormatError(f"{path}.{key}: missing")
        return None
    if not isinstance(value, str):
        raise WireFormatError(f"{path}.{key}: expected a string, found {type(value).__name__}")
    return value


def _number(obj: Mapping[str, Any], key: str, path: str, default: float = 0.0) -> float:
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WireFormatError(f"{path}.{key}: expected a number, found {value!r:.40}")
    return float(value)


def parse_recognition(payload: Any) -> RecognitionResult:
    """Read a FaceEdgePublishResponse (`{"detectedFaces": [...]}`)."""
    body = _mapping(payload, "$")
    faces = _list(body.get("detectedFaces"), "$.detectedFaces")
    return RecognitionResult(
        faces=tuple(_face(face, f"$.detectedFaces[{i}]") for i, face in enumerate(faces))
    )


def _face(value: Any, path: str) -> DetectedFace:
    obj = _mapping(value, path)
    person = obj.get("person")
    return DetectedFace(
        face_id=_str(obj, "faceId", path, required=True) or "",
        detect_id=_str(obj, "detectId", path) or "",
        confidence=_number(obj, "confidence", path),
        quality=_number(obj, "faceQuality", path),
        box=_box(obj.get("boundingBox"), f"{path}.boundingBox"),
        person=None if person is None else parse_person(person, f"{path}.person"),
    )


def _box(value: Any, path: str) -> BoundingBox:
    if value is None:
        return BoundingBox(0, 0, 0, 0)
    obj = _mapping(value, path)
    return BoundingBox(
        x=round(_number(obj, "x", path)),
        y=round(_number(obj, "y", path)),
        width=round(_number(obj, "width", path)),
        height=round(_number(obj, "height", path)),
    )


def parse_person(value: Any, path: str = "$") -> Person:
    """Read a person record; sections the caller may not see are simply absent."""
    obj = _mapping(value, path)
    return Person(
        person_id=_str(obj, "personId", path, required=True) or "",
        friendly_name=_str(obj, "friendlyName", path),
        aliases=tuple(
            _alias(a, f"{path}.aliases[{i}]")
            for i, a in enumerate(_list(obj.get("aliases"), f"{path}.aliases"))
        ),
        addresses=tuple(
            dict(_mapping(a, f"{path}.addresses[{i}]"))
            for i, a in enumerate(_list(obj.get("addresses"), f"{path}.addresses"))
        ),
        tags=tuple(
            _person_tag(t, f"{path}.personTags[{i}]")
            for i, t in enumerate(_list(obj.get("personTags"), f"{path}.personTags"))
        ),
        fields=tuple(
            _entity_field(f, f"{path}.entityFields[{i}]")
            for i, f in enumerate(_list(obj.get("entityFields"), f"{path}.entityFields"))
        ),
    )


def _alias(value: Any, path: str) -> Alias:
    obj = _mapping(value, path)
    return Alias(
        first_name=_str(obj, "firstName", path),
        last_name=_str(obj, "lastName", path),
        middle_name=_str(obj, "middleName", path),
        title=_str(obj, "title", path),
    )


def _person_tag(value: Any, path: str) -> PersonTag:
    obj = _mapping(value, path)
    tag = obj.get("tag")
    name = None if tag is None else _str(_mapping(tag, f"{path}.tag"), "name", f"{path}.tag")
    return PersonTag(
        tag_id=_str(obj, "tagId", path) or "",
        name=name,
        created=_str(obj, "created", path),
        expires=_str(obj, "expires", path),
    )


def _entity_field(value: Any, path: str) -> EntityField:
    obj = _mapping(value, path)
    return EntityField(name=_str(obj, "name", path, required=True) or "", value=_field_value(obj))


def _field_value(obj: Mapping[str, Any]) -> FieldValue:
    """Pick the one typed value that is set; dates become `datetime`/`date` when parseable."""
    if isinstance(obj.get("stringValue"), str):
        return str(obj["stringValue"])
    number = obj.get("numberValue")
    if isinstance(number, int | float) and not isinstance(number, bool):
        return float(number)
    if isinstance(obj.get("boolValue"), bool):
        return bool(obj["boolValue"])
    raw_date = obj.get("dateValue")
    if isinstance(raw_date, str):
        return _date_value(raw_date)
    return None


def _date_value(raw: str) -> date | datetime | str:
    text = raw.replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return raw


def parse_tags(payload: Any) -> tuple[Tag, ...]:
    """Read the roster's tag list (`GET /api/v1/Tags`)."""
    tags = []
    for i, value in enumerate(_list(payload, "$")):
        obj = _mapping(value, f"$[{i}]")
        disabled = obj.get("disabled")
        expire = obj.get("defaultExpirePeriod")
        tags.append(
            Tag(
                tag_id=_str(obj, "tagId", f"$[{i}]", required=True) or "",
                name=_str(obj, "tagName", f"$[{i}]") or "",
                disabled=bool(disabled) if isinstance(disabled, bool) else False,
                description=_str(obj, "description", f"$[{i}]"),
                default_expire_period=None if expire is None else str(expire),
            )
        )
    return tuple(tags)


def parse_people(payload: Any) -> tuple[Person, ...]:
    """Read a list of people (`GET /api/v1/people?tagId=`)."""
    return tuple(parse_person(p, f"$[{i}]") for i, p in enumerate(_list(payload, "$")))
