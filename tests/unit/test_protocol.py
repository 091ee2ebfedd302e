"""The protocol core on its own: exact bytes out, exact models in, no sockets."""

from __future__ import annotations

import ast
import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

import econnect_identities as econnect
from econnect_identities import protocol
from econnect_identities.errors import (
    EconnectAuthenticationError,
    EconnectBadRequestError,
    EconnectPermissionError,
    EconnectProtocolError,
    EconnectResponseError,
    EconnectServerError,
)
from econnect_identities.models import (
    Alias,
    BoundingBox,
    DetectedFace,
    EntityField,
    Person,
    PersonTag,
    PublishOptions,
    PublishRequest,
    RecognitionResult,
)
from econnect_identities.protocol import HttpResponse

FIXTURES = Path(__file__).parent.parent / "fixtures"
ECONNECT_DIR = Path(econnect.__file__).parent


def test_vendor_sample_response_parses_to_exactly_what_it_says() -> None:
    body = (FIXTURES / "vendor_sample_response.json").read_bytes()
    result = protocol.parse_recognition_response(HttpResponse(200, body))
    assert result == RecognitionResult(
        faces=(
            DetectedFace(
                face_id="5f9c2b7a-3e41-4d8a-9b6c-1a2b3c4d5e6f",
                detect_id="c1d2e3f4-a5b6-7c8d-9e0f-1a2b3c4d5e6f",
                confidence=0.987,
                quality=0.912,
                box=BoundingBox(320, 145, 96, 96),
                person=Person(
                    person_id="0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
                    friendly_name="Jane Doe",
                    aliases=(Alias(first_name="Jane", last_name="Doe"),),
                    tags=(
                        PersonTag(
                            tag_id="4c5d6e7f-8091-2345-6789-abcdef012345",
                            name="VIP",
                            created="2026-01-15T12:00:00Z",
                        ),
                    ),
                    fields=(EntityField("LoyaltyTier", "Gold"),),
                ),
            ),
        )
    )
    assert result.outcome == "known"
    assert result.faces[0].person is not None
    assert result.faces[0].person.tag_names == ("VIP",)


def test_vendor_sample_request_is_built_field_for_field() -> None:
    expected = json.loads((FIXTURES / "vendor_sample_request.json").read_text())
    image = b"\xff\xd8\xff-not-really-a-jpeg"
    request = PublishRequest(
        image=image,
        detector_name="FrontDoorCam",
        time_zone="America/Los_Angeles",
        detect_time=datetime(2026, 6, 16, 18, 32, 5, tzinfo=UTC),
        options=PublishOptions(
            largest_face_only=True,
            include_person=True,
            include_names=True,
            include_tags=True,
            include_fields=True,
        ),
    )
    http = protocol.build_publish(request, "tok", with_response=True)
    assert http.method == "POST"
    assert http.path == "/api/v1/faceEdge/publishWithResponse"
    assert http.headers["Authorization"] == "Bearer tok"
    assert http.headers["Content-Type"] == "application/json"
    sent = json.loads(http.body or b"")
    assert base64.b64decode(sent.pop("expanded")) == image
    expected.pop("expanded")
    # Our body states every switch explicitly; the vendor sample leaves defaults out.
    assert sent == {
        **expected,
        "allowDoubleDetection": False,
        "includeAddresses": False,
    }


def test_publish_body_has_no_processing_options() -> None:
    request = PublishRequest(image=b"x", detector_name="d", time_zone="UTC")
    body = json.loads(protocol.build_publish(request, "t", with_response=False).body or b"")
    assert set(body) == {"expanded", "detectorName", "ianaTimeZone", "detectTimeUtc"}


def test_detect_time_is_utc_with_z() -> None:
    paris = timezone(timedelta(hours=2))
    assert (
        protocol.format_detect_time(datetime(2026, 6, 16, 20, 32, 5, 999, tzinfo=paris))
        == "2026-06-16T18:32:05Z"
    )
    assert protocol.format_detect_time(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"


def test_time_zone_checked_against_tz_database() -> None:
    assert protocol.check_time_zone("Europe/Paris") == "Europe/Paris"
    with pytest.raises(ValueError, match="unknown IANA time zone 'Mars/Olympus'"):
        protocol.build_publish(
            PublishRequest(image=b"x", detector_name="d", time_zone="Mars/Olympus"),
            "t",
            with_response=True,
        )


def test_empty_image_refused_before_sending() -> None:
    with pytest.raises(ValueError, match="Face bytes are empty"):
        protocol.build_publish(
            PublishRequest(image=b"", detector_name="d", time_zone="UTC"), "t", with_response=True
        )


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        (
            "https://acme.econnectcloud.com/identities",
            "https://acme.econnectcloud.com/identities/api/v1/authenticate",
        ),
        (
            "https://acme.econnectcloud.com/identities/",
            "https://acme.econnectcloud.com/identities/api/v1/authenticate",
        ),
        ("https://10.0.0.5:5009", "https://10.0.0.5:5009/api/v1/authenticate"),
    ],
)
def test_base_url_keeps_the_identities_prefix(base: str, expected: str) -> None:
    request = protocol.build_authenticate("u", "p")
    assert request.url(protocol.normalise_base_url(base)) == expected


@pytest.mark.parametrize("url", ["ftp://x", "https://", "x.com", "https://h/p?q=1"])
def test_bad_base_urls_refused(url: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        protocol.normalise_base_url(url)


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (400, EconnectBadRequestError, "Face bytes are empty"),
        (401, EconnectAuthenticationError, "api.password"),
        (403, EconnectPermissionError, "Face Publishing"),
        (500, EconnectServerError, "500"),
        (503, EconnectServerError, "503"),
        (418, EconnectResponseError, "418"),
    ],
)
def test_each_status_maps_to_one_error(status: int, error: type[Exception], words: str) -> None:
    response = HttpResponse(status, b"Face bytes are empty")
    with pytest.raises(error, match=words) as caught:
        protocol.parse_recognition_response(response)
    assert type(caught.value) is error
    assert caught.value.status == status  # type: ignore[attr-defined]


def test_error_detail_is_short_and_printable() -> None:
    detail = protocol.error_detail(b"\x00\x1bboom\n" + b"x" * 1000)
    assert detail.startswith("boom")
    assert len(detail) <= protocol.DETAIL_LIMIT


@pytest.mark.parametrize(
    "body",
    [
        b"<html>oops</html>",
        b"[]",
        b'{"detectedFaces": "many"}',
        b'{"detectedFaces": [{"faceId": 7}]}',
        b'{"detectedFaces": [{"faceId": "a", "confidence": "high"}]}',
        b'{"detectedFaces": [{"faceId": "a", "person": {"friendlyName": "x"}}]}',
    ],
)
def test_malformed_bodies_are_clear_errors(body: bytes) -> None:
    with pytest.raises(EconnectProtocolError, match="publishWithResponse"):
        protocol.parse_recognition_response(HttpResponse(200, body))


def test_parsing_is_tolerant_of_unknown_and_missing_fields() -> None:
    body = json.dumps(
        {
            "detectedFaces": [{"faceId": "f", "newThing": {"x": 1}}, {"faceId": "g"}],
            "extra": True,
        }
    ).encode()
    result = protocol.parse_recognition_response(HttpResponse(200, body))
    assert [face.face_id for face in result.faces] == ["f", "g"]
    assert result.outcome == "unknown"
    assert result.faces[0].box == BoundingBox(0, 0, 0, 0)


def test_empty_detected_faces_is_no_face() -> None:
    result = protocol.parse_recognition_response(HttpResponse(200, b'{"detectedFaces": []}'))
    assert result.outcome == "no_face"


def test_entity_field_values_are_typed() -> None:
    body = json.dumps(
        {
            "detectedFaces": [
                {
                    "faceId": "f",
                    "person": {
                        "personId": "p",
                        "entityFields": [
                            {"name": "n", "numberValue": 3},
                            {"name": "b", "boolValue": False},
                            {"name": "d", "dateValue": "2026-01-15T12:00:00Z"},
                            {"name": "none"},
                        ],
                    },
                }
            ]
        }
    ).encode()
    person = protocol.parse_recognition_response(HttpResponse(200, body)).faces[0].person
    assert person is not None
    values = {f.name: f.value for f in person.fields}
    assert values == {
        "n": 3.0,
        "b": False,
        "d": datetime(2026, 1, 15, 12, tzinfo=UTC),
        "none": None,
    }


def test_token_reply_without_token_is_protocol_error() -> None:
    with pytest.raises(EconnectProtocolError):
        protocol.parse_token(HttpResponse(200, b'{"username": "u"}'))


def test_roster_replies_parse() -> None:
    tags = protocol.parse_tags_response(
        HttpResponse(200, b'[{"tagId": "t1", "tagName": "VIP", "disabled": false}]')
    )
    assert [(t.tag_id, t.name) for t in tags] == [("t1", "VIP")]
    people = protocol.parse_people_response(
        HttpResponse(200, b'[{"personId": "p1", "friendlyName": "Jane"}]')
    )
    assert [p.display_name for p in people] == ["Jane"]
    assert protocol.build_people("t", "a b/c").path == "/api/v1/people?tagId=a%20b%2Fc"


def test_repr_hides_secrets() -> None:
    request = protocol.build_authenticate("user", "hunter2-secret")
    assert "hunter2" not in repr(request)
    assert "tok-secret" not in repr(protocol.build_renew("tok-secret"))


def test_core_imports_only_the_standard_library() -> None:
    """The integration reuses this core: it must not pull requests, aiohttp, paho or YAML."""
    allowed_third_party = {"econnect_identities"}
    # the aiohttp drivers (engine, Frigate), the annotated image and the face pictures (Pillow,
    # when drawing or cutting)
    drivers = {"aio.py", "frigate_aio.py", "annotate.py", "face_picture.py"}
    for path in ECONNECT_DIR.glob("*.py"):
        if path.name in drivers:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top in allowed_third_party or top in _stdlib(), f"{path.name}: {name}"


def _stdlib() -> frozenset[str]:
    import sys

    return frozenset(sys.stdlib_module_names) | {"__future__"}


def test_public_surface_is_pinned() -> None:
    assert econnect.__all__ == sorted(econnect.__all__)
    assert {name for name in dir(econnect) if not name.startswith("_")} >= set(econnect.__all__)


def test_thresholds_filter_faces_the_same_way_everywhere() -> None:
    def face(confidence: float, quality: float, side: int) -> DetectedFace:
        return DetectedFace("f", "d", confidence, quality, BoundingBox(0, 0, side, side + 10))

    result = RecognitionResult((face(0.95, 0.9, 120), face(0.70, 0.9, 120), face(0.95, 0.2, 40)))
    assert result.filtered() is result
    kept = result.filtered(min_confidence=0.8, min_quality=0.5, min_face_size=100)
    assert kept.faces == (result.faces[0],)
    assert result.filtered(min_face_size=121).outcome == "no_face"
