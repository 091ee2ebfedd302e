"""Validation of publish request bodies, in the order a client's mistakes are most useful.

Each failure becomes a 400 whose plain-text body names the problem (the vendor documents only
"Face bytes are empty"; the other messages are the emulator's, and name the offending field so
a developer sees at once what the bridge sent wrong).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import zoneinfo
from dataclasses import dataclass
from typing import Any

__all__ = ["BOOL_OPTIONS", "BadRequestError", "PublishRequest", "parse_publish"]

#: Optional boolean switches of publishWithResponse, all false by default.
BOOL_OPTIONS = (
    "largestFaceOnly",
    "allowDoubleDetection",
    "includePerson",
    "includeNames",
    "includeAddresses",
    "includeTags",
    "includeFields",
)
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


class BadRequestError(ValueError):
    """The request is invalid; ``str(err)`` is the 400 body."""


@dataclass(frozen=True)
class PublishRequest:
    """A validated publish body: the decoded image and the options, defaults applied."""

    image: bytes
    detector_name: str
    iana_time_zone: str
    detect_time_utc: str
    options: dict[str, bool]


def parse_publish(body: bytes) -> PublishRequest:
    """Validate a publish / publishWithResponse body.

    Raises:
        BadRequestError: with the message the server returns as the 400 body.
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequestError("The request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequestError("The request body must be a JSON object")
    image = _image(data.get("expanded"))
    detector = _required_string(data, "detectorName")
    zone = _required_string(data, "ianaTimeZone")
    when = _required_string(data, "detectTimeUtc")
    _check_zone(zone)
    _check_time(when)
    options = {name: _bool(data, name) for name in BOOL_OPTIONS}
    return PublishRequest(image, detector, zone, when, options)


def _image(value: Any) -> bytes:
    if value is None or value == "":
        raise BadRequestError("Face bytes are empty")
    if not isinstance(value, str):
        raise BadRequestError("expanded must be a base64 string")
    try:
        image = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequestError("expanded is not valid base64") from None
    if not image:
        raise BadRequestError("Face bytes are empty")
    return image


def _required_string(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise BadRequestError(f"The {name} field is required")
    return value


def _check_zone(zone: str) -> None:
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise BadRequestError(f"ianaTimeZone {zone!r} is not an IANA time zone") from None


def _check_time(when: str) -> None:
    message = f"detectTimeUtc {when!r} is not a UTC time like 2026-06-16T18:32:05Z"
    if not _TIME.fullmatch(when):
        raise BadRequestError(message)
    try:
        dt.datetime.strptime(when, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise BadRequestError(message) from None


def _bool(data: dict[str, Any], name: str) -> bool:
    value = data.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadRequestError(f"{name} must be true or false")
    return value
