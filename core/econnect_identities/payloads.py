"""From untrusted snapshot payload bytes to image bytes: the decoding bridge and integration share.

A snapshot arrives raw, as JSON with a base64 image under a (dotted) key, or as a data URI. The
image type is sniffed from its first bytes (never from a topic or a declared MIME type), and
anything that is not a JPEG, PNG or WebP image raises `PayloadError` with a code that the bridge
publishes in its error events: the codes are part of the published contract. Pure standard
library, no I/O, so the Home Assistant integration can decode exactly as the bridge does.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

PayloadKind = Literal["auto", "raw", "json", "data_uri"]
DEFAULT_MAX_BYTES = 10 * 1024 * 1024


class PayloadError(ValueError):
    """A snapshot payload that cannot be turned into an image; `code` names the reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def sniff_image_type(data: bytes) -> str | None:
    """Return the MIME type of JPEG, PNG or WebP bytes, or None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


@dataclass(frozen=True, slots=True)
class DecodedPayload:
    """An image found in a payload, with the camera and time the payload may carry."""

    image: bytes = field(repr=False)
    content_type: str
    camera: str | None = None
    detect_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class PayloadFormat:
    """How a source's payloads are encoded; the default detects raw, JSON and data URIs."""

    kind: PayloadKind = "auto"
    image_key: str = "image"
    camera_key: str | None = None
    time_key: str | None = None
    max_bytes: int = DEFAULT_MAX_BYTES


def check_size(size: int, fmt: PayloadFormat) -> None:
    """Refuse a payload of `size` bytes above the limit (before anyone parses it)."""
    if size > fmt.max_bytes:
        raise PayloadError(
            "too_large", f"the payload is {size} bytes, above the {fmt.max_bytes} limit"
        )


def decode_payload(payload: bytes, fmt: PayloadFormat) -> DecodedPayload:
    """Find the image in a payload, or raise PayloadError saying why there is none."""
    if not payload:
        raise PayloadError("empty_payload", "the message is empty")
    check_size(len(payload), fmt)
    kind = fmt.kind
    if kind == "auto":
        kind = _guess_kind(payload)
    if kind == "raw":
        return _checked(payload, None, None)
    if kind == "data_uri":
        return _checked(_data_uri(payload.decode("ascii", "replace")), None, None)
    return _json_payload(payload, fmt)


def _guess_kind(payload: bytes) -> PayloadKind:
    """Tell the encodings apart by their first bytes, which none of them can share."""
    if sniff_image_type(payload):
        return "raw"
    head = payload[:16].lstrip()
    if head.startswith(b"data:"):
        return "data_uri"
    if head.startswith(b"{"):
        return "json"
    raise PayloadError(
        "unsupported_payload",
        "the payload is neither a JPEG/PNG/WebP image, JSON, nor a data URI",
    )


def _checked(image: bytes, camera: str | None, moment: datetime | None) -> DecodedPayload:
    content_type = sniff_image_type(image)
    if content_type is None:
        raise PayloadError("not_an_image", "the image bytes are not JPEG, PNG or WebP")
    return DecodedPayload(image, content_type, camera, moment)


def _data_uri(text: str) -> bytes:
    header, sep, data = text.strip().partition(",")
    if not sep or not header.startswith("data:") or not header.endswith(";base64"):
        raise PayloadError("bad_data_uri", "expected a data URI like data:image/jpeg;base64,...")
    return _b64(data)


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as err:
        raise PayloadError("bad_base64", "the image is not valid base64") from err


def _json_payload(payload: bytes, fmt: PayloadFormat) -> DecodedPayload:
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as err:
        raise PayloadError("bad_json", f"the payload is not valid JSON ({err})") from err
    except RecursionError as err:
        # Python 3.11 hits the recursion limit where 3.13's parser reports a syntax error first:
        # both mean the same thing to the user, so both get the same code.
        raise PayloadError("bad_json", "the JSON payload is nested too deeply") from err
    if not isinstance(doc, Mapping):
        raise PayloadError("bad_json", "the JSON payload is not an object")
    raw = _lookup(doc, fmt.image_key)
    if not isinstance(raw, str) or not raw:
        raise PayloadError("missing_image", f"no base64 image string under {fmt.image_key!r}")
    image = _data_uri(raw) if raw.startswith("data:") else _b64(raw)
    camera = _lookup(doc, fmt.camera_key) if fmt.camera_key else None
    moment = _lookup(doc, fmt.time_key) if fmt.time_key else None
    return _checked(image, camera if isinstance(camera, str) else None, parse_time(moment))


def _lookup(doc: Mapping[str, Any], dotted: str) -> Any:
    """Read `a.b.c` from nested objects; missing levels give None."""
    value: Any = doc
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def parse_time(value: object) -> datetime | None:
    """Read an epoch number (s or ms) or an ISO 8601 string; anything else gives None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None
