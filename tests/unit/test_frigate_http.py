"""Frigate's HTTP API without I/O: requests built, replies read, statuses mapped, no secrets."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from econnect_identities import frigate_http
from econnect_identities.frigate_http import (
    FrigateApiError,
    FrigateSnapshot,
    FrigateToken,
    build_event,
    build_event_snapshot,
    build_latest_frame,
    build_login,
    build_set_sub_label,
    error_for_status,
    parse_config,
    parse_event,
    parse_latest_frame,
    parse_login,
    parse_set_sub_label,
    parse_snapshot,
    parse_version,
    sub_label_body,
    token_from_set_cookie,
    truncate_sub_label,
)
from econnect_identities.protocol import HttpResponse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "frigate"
PASSWORD = "correct-horse-battery-staple"
# A JWT as Frigate's create_encoded_jwt makes them (header.claims.signature).
TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZG1pbiIsInJvbGUiOiJhZG1pbiIsImV4cCI6"
    "MTcwMDAwMDAwMCwiaWF0IjoxNjk5OTEzNjAwfQ.c2lnbmF0dXJlLWJ5dGVzLWhlcmU"
)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def query_of(path: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(path).query, keep_blank_values=True))


# --- snapshot.jpg ---


@pytest.mark.parametrize("crop", [True, False])
@pytest.mark.parametrize("height", [None, 1, 480])
def test_snapshot_always_turns_the_box_and_the_timestamp_off(
    crop: bool, height: int | None
) -> None:
    request = build_event_snapshot("1718985612.123456-abc123", crop=crop, height=height)
    query = query_of(request.path)
    assert request.method == "GET"
    assert urlsplit(request.path).path == "/api/events/1718985612.123456-abc123/snapshot.jpg"
    assert query["bbox"] == "0"
    assert query["timestamp"] == "0"
    assert query["crop"] == ("1" if crop else "0")
    assert query["quality"] == "95"


def test_snapshot_leaves_height_out_when_none_so_frigate_keeps_the_frame_size() -> None:
    assert "height" not in query_of(build_event_snapshot("x-1").path)
    assert query_of(build_event_snapshot("x-1", height=320, quality=70).path) == {
        "crop": "1",
        "height": "320",
        "quality": "70",
        "bbox": "0",
        "timestamp": "0",
    }


@pytest.mark.parametrize(
    ("height", "quality"), [(0, 95), (-5, 95), (None, 0), (None, 101)], ids=str
)
def test_snapshot_refuses_sizes_frigate_cannot_serve(height: int | None, quality: int) -> None:
    with pytest.raises(ValueError):
        build_event_snapshot("x-1", height=height, quality=quality)


@pytest.mark.parametrize("event_id", ["", ".", ".."])
def test_an_id_that_is_no_path_segment_is_refused(event_id: str) -> None:
    with pytest.raises(ValueError):
        build_event_snapshot(event_id)


def test_an_id_cannot_reach_another_endpoint() -> None:
    path = urlsplit(build_event_snapshot("../../config?x=1").path).path
    assert path == "/api/events/..%2F..%2Fconfig%3Fx%3D1/snapshot.jpg"
    assert build_event("a/b").path == "/api/events/a%2Fb"


def test_latest_frame_carries_height_only_when_given() -> None:
    assert build_latest_frame("front_door").path == "/api/front_door/latest.jpg"
    assert build_latest_frame("front door", height=360).path == (
        "/api/front%20door/latest.jpg?height=360"
    )


def test_the_simple_reads_are_plain_gets() -> None:
    assert (frigate_http.build_version().method, frigate_http.build_version().path) == (
        "GET",
        "/api/version",
    )
    assert frigate_http.build_config().path == "/api/config"
    assert build_event("1718985612.123456-abc123").path == "/api/events/1718985612.123456-abc123"


# --- sub_label ---


def test_the_sub_label_body_is_frigates_own_example() -> None:
    request = build_set_sub_label("1607123955.475377-mxklsc", "John Smith", 0.79)
    assert request.method == "POST"
    assert request.path == "/api/events/1607123955.475377-mxklsc/sub_label"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-CSRF-TOKEN"] == "1"
    assert request.body is not None
    assert json.loads(request.body) == json.loads(fixture_bytes("sub_label_request.json"))


def test_a_missing_score_is_left_out_not_sent_as_null() -> None:
    assert sub_label_body("John", None) == {"subLabel": "John"}


@pytest.mark.parametrize("score", [1e-9, 0.5, 1.0, 1])
def test_scores_inside_frigates_bounds_are_sent(score: float) -> None:
    assert sub_label_body("John", score)["subLabelScore"] == float(score)


@pytest.mark.parametrize("score", [0.0, -0.1, 1.000001, 2.0, float("nan"), float("inf")])
def test_scores_frigate_would_refuse_with_422_are_refused_here(score: float) -> None:
    with pytest.raises(ValueError, match="0 < score <= 1"):
        sub_label_body("John", score)


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_an_empty_name_is_refused_because_frigate_would_clear_the_sub_label(name: str) -> None:
    with pytest.raises(ValueError, match="clear"):
        sub_label_body(name, 0.9)


def test_a_long_name_is_cut_to_100_characters() -> None:
    assert truncate_sub_label("a" * 250) == "a" * 100
    assert truncate_sub_label("b" * 100) == "b" * 100
    assert truncate_sub_label("  Jane Doe  ") == "Jane Doe"
    body = sub_label_body("x" * 101, None)
    assert len(body["subLabel"]) == frigate_http.SUB_LABEL_MAX_CHARS


def test_the_cut_never_leaves_a_combining_mark_without_its_letter() -> None:
    # 99 letters, then "é" written as e + COMBINING ACUTE: the pair straddles the limit.
    name = "a" * 99 + "e\u0301" + "zzz"
    cut = truncate_sub_label(name)
    assert len(cut) <= 100
    assert not cut.endswith("e")
    assert cut == "a" * 99


def test_the_cut_never_splits_an_emoji_sequence() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # man ZWJ woman ZWJ girl
    name = "a" * 97 + family
    cut = truncate_sub_label(name)
    assert len(cut) <= 100
    assert not cut.endswith("\u200d")
    assert cut == "a" * 97 + "\U0001f468"  # a whole code point, never a dangling joiner


def test_non_ascii_names_travel_as_utf8() -> None:
    request = build_set_sub_label("x-1", "Zoë Ångström", None)
    assert request.body == '{"subLabel": "Zoë Ångström"}'.encode()


# --- login and the session cookie ---


def test_login_sends_user_and_password_and_shows_neither() -> None:
    request = build_login("admin", PASSWORD)
    assert (request.method, request.path) == ("POST", "/api/login")
    assert request.body is not None
    assert json.loads(request.body) == {"user": "admin", "password": PASSWORD}
    assert PASSWORD not in repr(request)


@pytest.mark.parametrize(("user", "password"), [("", PASSWORD), ("admin", "")])
def test_login_needs_both(user: str, password: str) -> None:
    with pytest.raises(ValueError):
        build_login(user, password)


def test_the_token_comes_from_the_cookie_starlette_sets() -> None:
    header = f"frigate_token={TOKEN}; HttpOnly; Max-Age=86400; Path=/; SameSite=lax"
    reply = HttpResponse(200, b"", {"set-cookie": header})
    token = parse_login(reply)
    assert token == FrigateToken(TOKEN, "frigate_token")
    assert TOKEN not in repr(token)
    assert frigate_http.token_cookie_header(token) == {"Cookie": f"frigate_token={TOKEN}"}


def test_a_custom_cookie_name_and_other_cookies_are_handled() -> None:
    joined = f"other=1; Path=/, my_session={TOKEN}; HttpOnly; Max-Age=60; Path=/"
    assert token_from_set_cookie({"Set-Cookie": joined}) == FrigateToken(TOKEN, "my_session")
    assert token_from_set_cookie({"Set-Cookie": joined}, "my_session") == FrigateToken(
        TOKEN, "my_session"
    )
    assert token_from_set_cookie({"Set-Cookie": joined}, "frigate_token") is None
    assert token_from_set_cookie({"Set-Cookie": "session=abc; Path=/"}) is None
    assert token_from_set_cookie({"Content-Type": "text/plain"}) is None


def test_login_answers_are_mapped_to_what_the_user_must_do() -> None:
    with pytest.raises(FrigateApiError) as refused:
        parse_login(HttpResponse(401, b'{"message": "Login failed"}'))
    assert (refused.value.code, refused.value.transient) == ("frigate_auth_failed", False)
    with pytest.raises(FrigateApiError) as disabled:
        parse_login(HttpResponse(404, b'{"message": "Authentication is disabled"}'))
    assert disabled.value.code == "frigate_not_found"
    assert "authentication is disabled" in str(disabled.value)
    with pytest.raises(FrigateApiError) as limited:
        parse_login(HttpResponse(429, b'{"error": "Rate limit exceeded: 1 per 1 second"}'))
    assert (limited.value.code, limited.value.transient) == ("frigate_rate_limited", True)
    with pytest.raises(FrigateApiError) as no_cookie:
        parse_login(HttpResponse(200, b""))
    assert no_cookie.value.code == "frigate_bad_reply"


# --- statuses ---


@pytest.mark.parametrize(
    ("status", "code", "transient"),
    [
        (400, "frigate_bad_request", False),
        (401, "frigate_auth_failed", False),
        (403, "frigate_forbidden", False),
        (404, "frigate_not_found", False),
        (405, "frigate_unexpected_status", False),
        (422, "frigate_bad_request", False),
        (429, "frigate_rate_limited", True),
        (500, "frigate_server_error", True),
        (502, "frigate_server_error", True),
        (503, "frigate_server_error", True),
        (504, "frigate_server_error", True),
    ],
)
def test_status_maps_to_code_and_transient(status: int, code: str, transient: bool) -> None:
    error = error_for_status(status, b"", operation="the event")
    assert (error.status, error.code, error.transient) == (status, code, transient)
    assert isinstance(error, Exception)


def test_connection_failures_are_transient_and_tls_failures_are_not() -> None:
    down = frigate_http.unreachable_error("http://frigate:5000", "Connection refused")
    slow = frigate_http.unreachable_error("http://frigate:5000", "no answer", timed_out=True)
    assert (down.code, down.transient, down.status) == ("frigate_unreachable", True, None)
    assert (slow.code, slow.transient) == ("frigate_unreachable", True)
    assert "in time" in str(slow)
    tls = frigate_http.tls_error("https://frigate:8971", "self-signed certificate")
    assert (tls.code, tls.transient) == ("frigate_tls_error", False)
    assert "ca_file" in str(tls)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"success": false, "message": "Event x not found."}', "Event x not found."),
        (b'{"detail": "Role viewer not authorized. Required: admin"}', "Role viewer"),
        (b'"Event not found"', "Event not found"),
        (
            b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
            "502 Bad Gateway",
        ),
    ],
)
def test_frigates_message_is_quoted_whatever_its_shape(body: bytes, expected: str) -> None:
    error = error_for_status(404, body, operation="the event")
    assert expected in error.detail
    assert expected in str(error)


def test_a_422_names_the_field_and_the_rule() -> None:
    error = error_for_status(422, fixture_bytes("sub_label_invalid.json"), operation="writing")
    assert error.detail == "body.subLabelScore: Input should be less than or equal to 1"


def test_no_message_or_repr_shows_a_password_or_a_token() -> None:
    # FastAPI echoes the body it refused in `input`; Frigate could mention a token.
    echoed = json.dumps(
        {
            "detail": [
                {
                    "type": "string_type",
                    "loc": ["body", "user"],
                    "msg": "Input should be a valid string",
                    "input": {"user": 1, "password": PASSWORD},
                }
            ]
        }
    ).encode()
    errors = [
        error_for_status(422, echoed, operation="the login"),
        error_for_status(401, f'{{"message": "bad token {TOKEN}"}}'.encode(), operation="x"),
        error_for_status(500, f"token={TOKEN}".encode(), operation="x"),
        FrigateApiError(f"wrapped {TOKEN}", code="frigate_error", detail=TOKEN),
    ]
    for error in errors:
        for text in (str(error), repr(error), error.detail):
            assert PASSWORD not in text
            assert TOKEN not in text
    assert "<token>" in errors[1].detail
    login = build_login("admin", PASSWORD)
    for shown in (repr(login), str(login), repr(FrigateToken(TOKEN))):
        assert PASSWORD not in shown
        assert TOKEN not in shown


# --- replies ---


def test_snapshot_404_is_none_and_a_picture_carries_its_frame_time() -> None:
    assert parse_snapshot(HttpResponse(404, b'{"success": false}')) is None
    found = parse_snapshot(HttpResponse(200, JPEG, {"x-frame-time": "1718985612.5"}))
    assert found == FrigateSnapshot(JPEG, 1718985612.5)
    assert parse_snapshot(HttpResponse(200, JPEG)) == FrigateSnapshot(JPEG, None)
    assert "image=" not in repr(found)


def test_a_page_instead_of_a_picture_is_a_bad_reply_not_an_image() -> None:
    html = HttpResponse(200, b"<html>login</html>", {"Content-Type": "text/html"})
    with pytest.raises(FrigateApiError) as caught:
        parse_snapshot(html)
    assert caught.value.code == "frigate_bad_reply"
    assert "text/html" in str(caught.value)
    with pytest.raises(FrigateApiError):
        parse_latest_frame(html)
    with pytest.raises(FrigateApiError) as missing:
        parse_latest_frame(HttpResponse(404, b'{"success": false, "message": "Camera not found"}'))
    assert missing.value.code == "frigate_not_found"


def test_snapshot_errors_other_than_404_are_raised() -> None:
    with pytest.raises(FrigateApiError) as caught:
        parse_snapshot(HttpResponse(503, b""))
    assert caught.value.transient


def test_the_event_record_has_sub_label_as_a_string_and_its_score_in_data() -> None:
    record = parse_event(HttpResponse(200, fixture_bytes("api_event.json")))
    assert record is not None
    assert record.id == "1607123955.475377-mxklsc"
    assert (record.camera, record.label) == ("front_door", "person")
    assert (record.sub_label, record.sub_label_score) == ("John Smith", 0.79)
    assert record.has_snapshot is True
    assert record.has_clip is False
    assert record.zones == ("driveway", "yard")
    assert record.top_score == 0.958984375
    assert record.end_time == 1607123975.309311
    assert not record.in_progress


def test_an_unknown_or_unsaved_event_is_none() -> None:
    assert parse_event(HttpResponse(404, fixture_bytes("api_event_not_found.json"))) is None


def test_an_event_record_without_its_identity_is_a_bad_reply() -> None:
    with pytest.raises(FrigateApiError) as caught:
        parse_event(HttpResponse(200, b'{"id": "x", "camera": "c"}'))
    assert caught.value.code == "frigate_bad_reply"
    with pytest.raises(FrigateApiError):
        parse_event(HttpResponse(200, b"[]"))


def test_an_unnamed_or_cleared_sub_label_reads_as_none() -> None:
    payload = json.loads(fixture_bytes("api_event.json"))
    payload["sub_label"] = None
    payload["data"]["sub_label_score"] = None
    record = parse_event(HttpResponse(200, json.dumps(payload).encode()))
    assert record is not None
    assert (record.sub_label, record.sub_label_score) == (None, None)


def test_config_gives_camera_names_and_their_snapshot_setting() -> None:
    payload = json.loads(fixture_bytes("api_config_minimal.json"))
    payload["cameras"]["garage"] = {"name": "garage", "snapshots": {"enabled": False}}
    summary = parse_config(HttpResponse(200, json.dumps(payload).encode()))
    assert summary.cameras == ("front_door", "garage")
    assert summary.cameras_without_snapshots == ("garage",)
    assert summary.auth_enabled is True
    assert frigate_http.parse_cameras(HttpResponse(200, fixture_bytes("api_config_minimal.json")))
    with pytest.raises(FrigateApiError) as caught:
        parse_config(HttpResponse(200, b'{"mqtt": {}}'))
    assert caught.value.code == "frigate_bad_reply"


def test_version_is_plain_text() -> None:
    assert parse_version(HttpResponse(200, fixture_bytes("api_version.txt"))) == "0.18.0-e3fa701"
    assert parse_version(HttpResponse(200, b'"0.17.2-1d7b9ea"\n')) == "0.17.2-1d7b9ea"
    with pytest.raises(FrigateApiError) as caught:
        parse_version(HttpResponse(200, b"<!doctype html><html>Frigate</html>"))
    assert caught.value.code == "frigate_bad_reply"


def test_sub_label_answers() -> None:
    parse_set_sub_label(HttpResponse(200, fixture_bytes("sub_label_response.json")))
    with pytest.raises(FrigateApiError) as missing:
        parse_set_sub_label(HttpResponse(404, fixture_bytes("sub_label_not_found.json")))
    assert (missing.value.code, missing.value.transient) == ("frigate_not_found", False)
    assert "not found" in missing.value.detail
    with pytest.raises(FrigateApiError) as invalid:
        parse_set_sub_label(HttpResponse(422, fixture_bytes("sub_label_invalid.json")))
    assert invalid.value.code == "frigate_bad_request"
    with pytest.raises(FrigateApiError) as refused:
        parse_set_sub_label(HttpResponse(200, b'{"success": false, "message": "nope"}'))
    assert refused.value.code == "frigate_bad_reply"
