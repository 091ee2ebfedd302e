"""Payload decoding and topic routing: untrusted bytes in, a snapshot or a named error out."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from econnect_bridge.config import config_from_dict
from econnect_bridge.sources import (
    PayloadError,
    PayloadFormat,
    decode_payload,
    parse_time,
    sniff_image_type,
    sources_from_config,
)

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
WEBP = b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 64


@pytest.mark.parametrize(
    ("data", "kind"),
    [(JPEG, "image/jpeg"), (PNG, "image/png"), (WEBP, "image/webp"), (b"GIF89a", None)],
)
def test_image_type_is_sniffed(data: bytes, kind: str | None) -> None:
    assert sniff_image_type(data) == kind


def test_raw_image_passes_through_untouched() -> None:
    decoded = decode_payload(JPEG, PayloadFormat())
    assert decoded.image is JPEG
    assert decoded.content_type == "image/jpeg"


def test_json_with_base64_camera_and_time() -> None:
    payload = json.dumps(
        {
            "snapshot": {"jpg": base64.b64encode(PNG).decode()},
            "cam": "porch",
            "ts": 1_700_000_000_000,
        }
    ).encode()
    fmt = PayloadFormat(kind="auto", image_key="snapshot.jpg", camera_key="cam", time_key="ts")
    decoded = decode_payload(payload, fmt)
    assert decoded.image == PNG
    assert decoded.camera == "porch"
    assert decoded.detect_time == datetime.fromtimestamp(1_700_000_000, UTC)


def test_data_uri_alone_and_inside_json() -> None:
    uri = "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()
    assert decode_payload(uri.encode(), PayloadFormat()).image == JPEG
    inside = json.dumps({"image": uri}).encode()
    assert decode_payload(inside, PayloadFormat(kind="json")).image == JPEG


@pytest.mark.parametrize(
    ("payload", "fmt", "code"),
    [
        (b"", PayloadFormat(), "empty_payload"),
        (JPEG, PayloadFormat(max_bytes=10), "too_large"),
        (b"hello", PayloadFormat(), "unsupported_payload"),
        (b"{nope", PayloadFormat(), "bad_json"),
        (b"[1, 2]", PayloadFormat(kind="json"), "bad_json"),
        (b'{"image": 5}', PayloadFormat(), "missing_image"),
        (b'{"image": "***"}', PayloadFormat(), "bad_base64"),
        (b'{"image": "aGVsbG8="}', PayloadFormat(), "not_an_image"),
        (b"data:text/plain,hi", PayloadFormat(), "bad_data_uri"),
        (b"\xff\xd8", PayloadFormat(kind="raw"), "not_an_image"),
    ],
)
def test_bad_payloads_name_the_reason(payload: bytes, fmt: PayloadFormat, code: str) -> None:
    with pytest.raises(PayloadError) as caught:
        decode_payload(payload, fmt)
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_700_000_000, datetime.fromtimestamp(1_700_000_000, UTC)),
        ("2026-06-16T18:32:05Z", datetime(2026, 6, 16, 18, 32, 5, tzinfo=UTC)),
        ("2026-06-16T18:32:05", datetime(2026, 6, 16, 18, 32, 5, tzinfo=UTC)),
        ("yesterday", None),
        (True, None),
        (1e300, None),
        (None, None),
    ],
)
def test_times_are_read_leniently(value: object, expected: datetime | None) -> None:
    assert parse_time(value) == expected


def test_sources_route_topics_to_cameras() -> None:
    config = config_from_dict(
        {
            "api": {"url": "http://127.0.0.1:1", "username": "u", "password": "p"},
            "cameras": [
                {"name": "door", "topic": "cams/door/jpg"},
                {"name": "any", "topic": "site/{camera}/snap", "detector_name": "SiteCam"},
            ],
            "frigate": {"enabled": True, "topic_prefix": "nvr/frigate"},
        }
    )
    door, site, frigate = sources_from_config(config)
    assert door.subscription == "cams/door/jpg"
    assert door.camera_for("cams/door/jpg") == "door"
    assert site.subscription == "site/+/snap"
    assert site.camera_for("site/porch/snap") == "porch"
    assert site.detector_for("porch") == "SiteCam"
    assert frigate.subscription == "nvr/frigate/+/person/snapshot"
    assert frigate.camera_for("nvr/frigate/yard/person/snapshot") == "yard"
    assert frigate.detector_for("yard") == "yard"
