"""The Frigate driver against the Frigate stand-in over real HTTP(S): pictures, sub_labels, auth.

Also checks that the stand-in speaks Frigate's payloads: its builders produce the keys of the
payloads copied from Frigate's repository into tests/fixtures/frigate.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3
from PIL import Image, ImageChops, ImageStat

from econnect_bridge.frigate_api import FrigateApi
from econnect_identities.frigate_http import FrigateApiError
from tests.integration.helpers import Probe
from tests.support.certs import make_certs
from tests.support.frigate_standin import (
    BOX_COLOUR,
    FrigateMqttPublisher,
    FrigateStandin,
    StandinObject,
    fixture_dir,
    jpeg_frame,
)
from tests.support.mosquitto import MosquittoBroker

pytestmark = pytest.mark.integration

CAMERAS = ("front_door", "garage")
ADMIN_PASSWORD = "admin-password-9f2c1e"
VIEWER_PASSWORD = "viewer-password-41ab7d"
USERS = {"admin": (ADMIN_PASSWORD, "admin"), "viewer": (VIEWER_PASSWORD, "viewer")}
START = 1_800_000_000.0


class FakeClock:
    """Seconds since the epoch that move only when the test says so (shared by both ends)."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def frigate() -> Iterator[FrigateStandin]:
    """Frigate on its unauthenticated port (5000)."""
    with FrigateStandin(cameras=CAMERAS) as standin:
        yield standin


@pytest.fixture
def api(frigate: FrigateStandin) -> Iterator[FrigateApi]:
    with FrigateApi(url=frigate.url) as client:
        yield client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def secure_frigate(clock: FakeClock) -> Iterator[FrigateStandin]:
    """Frigate on its authenticated port (8971): ten-minute sessions, refresh in the last five."""
    with FrigateStandin(
        cameras=CAMERAS,
        auth=True,
        users=USERS,
        session_length=600,
        refresh_time=300,
        clock=clock,
    ) as standin:
        yield standin


def admin_api(standin: FrigateStandin, clock: FakeClock) -> FrigateApi:
    return FrigateApi(url=standin.url, username="admin", password=ADMIN_PASSWORD, clock=clock)


def decode(jpeg: bytes) -> Image.Image:
    with Image.open(io.BytesIO(jpeg)) as image:
        return image.convert("RGB")


def mean_difference(first: Image.Image, second: Image.Image) -> float:
    assert first.size == second.size
    return sum(ImageStat.Stat(ImageChops.difference(first, second)).mean) / 3


def box_coloured_pixels(image: Image.Image) -> int:
    """Pixels close to the colour Frigate's box is drawn in (the frames themselves are grey)."""
    data = image.tobytes()
    return sum(
        1
        for offset in range(0, len(data), 3)
        if abs(data[offset] - BOX_COLOUR[0]) < 60
        and abs(data[offset + 1] - BOX_COLOUR[1]) < 60
        and abs(data[offset + 2] - BOX_COLOUR[2]) < 60
    )


# --- pictures ---


def test_version_and_cameras(api: FrigateApi, frigate: FrigateStandin) -> None:
    assert api.version() == "0.18.0-e3fa701"
    assert api.cameras() == CAMERAS


def test_snapshot_follows_the_best_frame_while_active_and_keeps_it_after_end(
    api: FrigateApi, frigate: FrigateStandin
) -> None:
    first, better = jpeg_frame(shade=40), jpeg_frame(shade=200)
    obj = frigate.begin("front_door", frame=first, score=0.62)
    early = api.snapshot_frame(obj.id, crop=False)
    assert early is not None
    assert early.frame_time == obj.frame_time
    obj.improve(better, score=0.91)
    later = api.snapshot_frame(obj.id, crop=False)
    assert later is not None
    assert later.frame_time == obj.frame_time
    assert early.frame_time is not None
    assert later.frame_time is not None
    assert later.frame_time > early.frame_time
    assert mean_difference(decode(later.image), decode(better)) < 3
    assert mean_difference(decode(later.image), decode(first)) > 20
    obj.end()
    stored = api.snapshot(obj.id, crop=False)
    assert stored is not None
    assert mean_difference(decode(stored), decode(better)) < 3
    with pytest.raises(RuntimeError):
        obj.improve(first)


def test_crop_gives_frigates_square_region_around_the_object(
    api: FrigateApi, frigate: FrigateStandin
) -> None:
    obj = frigate.begin("front_door", frame=jpeg_frame(1280, 720), box=(600, 200, 700, 500))
    cropped = api.snapshot(obj.id)  # crop=1 by default
    assert cropped is not None
    assert decode(cropped).size == (328, 328)  # calculate_region(..., 300, multiplier=1.1)
    resized = api.snapshot(obj.id, height=164)
    assert resized is not None
    assert decode(resized).size == (164, 164)


def test_404_cases_are_none(api: FrigateApi, frigate: FrigateStandin) -> None:
    assert api.snapshot("1718985612.123456-abc123") is None
    assert api.event("1718985612.123456-abc123") is None
    not_yet = frigate.begin("front_door", frame=None)
    assert api.snapshot(not_yet.id) is None
    never_saved = frigate.begin("garage", frame=jpeg_frame(), has_snapshot=False)
    assert api.snapshot(never_saved.id) is not None  # the live best frame is served...
    assert api.event(never_saved.id) is None  # ...but there is no record while it is live
    never_saved.end()
    assert api.snapshot(never_saved.id) is None  # and nothing once it has ended
    clip_only = frigate.begin("garage", frame=jpeg_frame(), has_snapshot=False, has_clip=True)
    clip_only.end()
    assert api.snapshot(clip_only.id) is None
    record = api.event(clip_only.id)
    assert record is not None
    assert (record.has_snapshot, record.has_clip) == (False, True)


def test_bbox_is_really_off_the_picture_is_the_frame_resized(
    api: FrigateApi, frigate: FrigateStandin
) -> None:
    frame = jpeg_frame(640, 480, shade=100)
    obj = frigate.begin("front_door", frame=frame, score=0.83)
    served = api.snapshot(obj.id, crop=False, height=240)
    assert served is not None
    expected = decode(frame).resize((320, 240), Image.Resampling.BOX)
    image = decode(served)
    assert image.size == (320, 240)
    assert mean_difference(image, expected) < 3
    assert box_coloured_pixels(image) == 0
    _, _, query = frigate.requests[-1]
    assert (query["bbox"], query["timestamp"], query["height"]) == ("0", "0", "240")


def test_a_client_that_forgets_bbox_gets_a_spoiled_picture(frigate: FrigateStandin) -> None:
    frame = jpeg_frame(640, 480, shade=100)
    obj = frigate.begin("front_door", frame=frame)
    url = f"{frigate.url}/api/events/{obj.id}/snapshot.jpg"
    spoiled = decode(requests.get(url, timeout=5).content)
    assert box_coloured_pixels(spoiled) > 500
    stamped = decode(requests.get(url, params={"bbox": 0, "timestamp": 1}, timeout=5).content)
    corner = (0, 0, 200, 40)
    assert mean_difference(stamped.crop(corner), decode(frame).crop(corner)) > 5


def test_latest_frame(api: FrigateApi, frigate: FrigateStandin) -> None:
    frigate.set_latest("garage", jpeg_frame(640, 480))
    assert decode(api.latest("garage", height=120)).size == (160, 120)
    api.latest("garage")
    assert frigate.requests[-1].query == {}  # no height: Frigate keeps the frame's size
    with pytest.raises(FrigateApiError) as caught:
        api.latest("attic")
    assert (caught.value.code, caught.value.status) == ("frigate_not_found", 404)


# --- sub_label ---


def test_a_sub_label_write_shows_in_the_event_and_on_mqtt(
    api: FrigateApi, frigate: FrigateStandin
) -> None:
    obj = frigate.begin("front_door", frame=jpeg_frame())
    api.set_sub_label(obj.id, "Jane Doe", 0.87)
    record = api.event(obj.id)
    assert record is not None
    assert (record.sub_label, record.sub_label_score) == ("Jane Doe", 0.87)
    assert obj.message("update")["after"]["sub_label"] == ["Jane Doe", 0.87]
    api.set_sub_label(obj.id, "J" * 130, None)
    record = api.event(obj.id)
    assert record is not None
    assert record.sub_label == "J" * 100
    assert record.sub_label_score is None
    assert frigate.sub_label_writes == [
        (obj.id, "Jane Doe", 0.87),
        (obj.id, "J" * 100, None),
    ]
    obj.end()
    api.set_sub_label(obj.id, "Jane Doe", 0.9)  # a stored event takes a sub_label too
    stored = api.event(obj.id)
    assert stored is not None
    assert stored.sub_label == "Jane Doe"


def test_the_body_is_validated_before_the_event_is_looked_up(
    api: FrigateApi, frigate: FrigateStandin
) -> None:
    url = f"{frigate.url}/api/events/1718985612.123456-nosuch/sub_label"
    too_long = requests.post(url, json={"subLabel": "x" * 101}, timeout=5)
    assert too_long.status_code == 422
    assert too_long.json()["detail"][0]["loc"] == ["body", "subLabel"]
    bad_score = requests.post(url, json={"subLabel": "x", "subLabelScore": 0}, timeout=5)
    assert bad_score.status_code == 422
    unknown = requests.post(url, json={"subLabel": "x", "subLabelScore": 0.5}, timeout=5)
    assert unknown.status_code == 404
    assert unknown.json() == {
        "success": False,
        "message": "Event 1718985612.123456-nosuch not found.",
    }
    with pytest.raises(FrigateApiError) as caught:
        api.set_sub_label("1718985612.123456-nosuch", "x", 0.5)
    assert (caught.value.code, caught.value.transient) == ("frigate_not_found", False)
    assert frigate.sub_label_writes == []


# --- transient faults ---


def test_server_errors_and_dropped_connections_are_transient(
    api: FrigateApi, frigate: FrigateStandin
) -> None:
    obj = frigate.begin("front_door", frame=jpeg_frame())
    frigate.fail_next("/api/events/", 503)
    with pytest.raises(FrigateApiError) as failed:
        api.snapshot(obj.id)
    assert (failed.value.code, failed.value.status, failed.value.transient) == (
        "frigate_server_error",
        503,
        True,
    )
    frigate.fail_next("/api/events/", 0)
    with pytest.raises(FrigateApiError) as dropped:
        api.snapshot(obj.id)
    assert (dropped.value.code, dropped.value.transient) == ("frigate_unreachable", True)
    assert api.snapshot(obj.id) is not None  # the driver does not retry; the caller does


def test_a_stopped_frigate_is_unreachable_and_transient(frigate: FrigateStandin) -> None:
    api = FrigateApi(url=frigate.url, timeout=2)
    frigate.stop()
    with pytest.raises(FrigateApiError) as caught:
        api.version()
    assert (caught.value.code, caught.value.transient, caught.value.status) == (
        "frigate_unreachable",
        True,
        None,
    )


# --- authentication (port 8971) ---


def test_login_on_first_use_with_the_session_cookie(
    secure_frigate: FrigateStandin, clock: FakeClock
) -> None:
    with admin_api(secure_frigate, clock) as api:
        assert secure_frigate.requests == []  # nothing is sent before the first call
        assert api.version() == "0.18.0-e3fa701"
        assert api.cameras() == CAMERAS
        assert (api.logins, secure_frigate.logins) == (1, 1)
        paths = [path for _, path, _ in secure_frigate.requests]
        assert paths == ["/api/login", "/api/version", "/api/config"]
        sent = secure_frigate.request_headers[-1]
        assert sent["cookie"] == f"frigate_token={secure_frigate.issued_tokens[0]}"
        assert "authorization" not in sent


def test_without_credentials_the_authenticated_port_answers_401(
    secure_frigate: FrigateStandin,
) -> None:
    with pytest.raises(FrigateApiError) as caught:
        FrigateApi(url=secure_frigate.url).version()
    assert (caught.value.code, caught.value.status, caught.value.transient) == (
        "frigate_auth_failed",
        401,
        False,
    )


def test_frigate_renews_a_cookie_near_expiry_and_the_driver_keeps_it(
    secure_frigate: FrigateStandin, clock: FakeClock
) -> None:
    with admin_api(secure_frigate, clock) as api:
        api.version()
        clock.advance(400)  # 200 s left: inside Frigate's refresh_time, outside our margin
        api.version()
        assert secure_frigate.refreshed_cookies == 1
        assert (api.logins, api.renewals) == (1, 1)
        renewed = secure_frigate.issued_tokens[-1]
        clock.advance(400)  # past the first token's expiry: only the renewed one works
        api.version()
        assert secure_frigate.request_headers[-1]["cookie"] == f"frigate_token={renewed}"
        assert api.logins == 1


def test_a_token_nobody_renewed_is_replaced_by_a_login_before_it_expires(
    clock: FakeClock,
) -> None:
    with (
        FrigateStandin(
            cameras=CAMERAS, auth=True, users=USERS, session_length=600, refresh_time=0, clock=clock
        ) as standin,
        admin_api(standin, clock) as api,
    ):
        api.version()
        clock.advance(590)  # 10 s left, under the renewal margin (a quarter, at most 60 s)
        api.version()
        assert api.logins == 2
        paths = [path for _, path, _ in standin.requests]
        assert paths == ["/api/login", "/api/version", "/api/login", "/api/version"]


def test_a_401_means_log_in_again_once_and_retry_once(
    secure_frigate: FrigateStandin, clock: FakeClock
) -> None:
    obj = secure_frigate.begin("front_door", frame=jpeg_frame())
    with admin_api(secure_frigate, clock) as api:
        assert api.snapshot(obj.id) is not None
        secure_frigate.revoke_sessions()  # a new JWT secret: the held token is void
        secure_frigate.requests.clear()
        assert api.snapshot(obj.id) is not None
        paths = [path for _, path, _ in secure_frigate.requests]
        snapshot_path = f"/api/events/{obj.id}/snapshot.jpg"
        assert paths == [snapshot_path, "/api/login", snapshot_path]
        assert api.logins == 2


def test_a_viewer_reads_but_may_not_write_a_sub_label(
    secure_frigate: FrigateStandin, clock: FakeClock
) -> None:
    obj = secure_frigate.begin("front_door", frame=jpeg_frame())
    viewer = FrigateApi(
        url=secure_frigate.url, username="viewer", password=VIEWER_PASSWORD, clock=clock
    )
    assert viewer.snapshot(obj.id) is not None
    with pytest.raises(FrigateApiError) as caught:
        viewer.set_sub_label(obj.id, "Jane Doe", 0.9)
    assert (caught.value.code, caught.value.status, caught.value.transient) == (
        "frigate_forbidden",
        403,
        False,
    )
    assert "admin role" in str(caught.value)
    assert secure_frigate.sub_label_writes == []


def test_a_refused_password_is_not_tried_again_at_once(
    secure_frigate: FrigateStandin, clock: FakeClock
) -> None:
    api = FrigateApi(url=secure_frigate.url, username="admin", password="wrong-pw", clock=clock)
    with pytest.raises(FrigateApiError) as first:
        api.version()
    assert (first.value.code, first.value.status) == ("frigate_auth_failed", 401)
    with pytest.raises(FrigateApiError) as second:
        api.version()
    assert "held off" in str(second.value)
    assert [path for _, path, _ in secure_frigate.requests] == ["/api/login"]


def test_threads_share_one_login(secure_frigate: FrigateStandin, clock: FakeClock) -> None:
    obj = secure_frigate.begin("front_door", frame=jpeg_frame())
    api = admin_api(secure_frigate, clock)
    start = threading.Barrier(8)
    results: list[bytes | None] = []
    lock = threading.Lock()

    def fetch() -> None:
        start.wait()
        picture = api.snapshot(obj.id, height=100)
        with lock:
            results.append(picture)

    threads = [threading.Thread(target=fetch) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 8
    assert all(picture is not None for picture in results)
    assert secure_frigate.logins == 1


def test_nothing_logged_or_raised_shows_the_password_or_a_token(
    secure_frigate: FrigateStandin, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    shown: list[str] = []
    obj = secure_frigate.begin("front_door", frame=jpeg_frame())
    with admin_api(secure_frigate, clock) as api:
        shown.append(repr(api))
        api.snapshot(obj.id)
        api.set_sub_label(obj.id, "Jane Doe", 0.9)
        clock.advance(400)
        api.event(obj.id)  # a renewed cookie comes back
        secure_frigate.revoke_sessions()
        api.version()  # 401, log in again, retry
    for password in ("wrong-password-1", VIEWER_PASSWORD):
        other = FrigateApi(url=secure_frigate.url, username="viewer", password=password)
        try:
            other.set_sub_label(obj.id, "Jane Doe", 0.9)
        except FrigateApiError as err:
            shown.extend((str(err), repr(err), err.detail))
        shown.append(repr(other))
    assert secure_frigate.refreshed_cookies >= 1
    assert len(secure_frigate.issued_tokens) >= 4
    text = caplog.text + "\n".join(shown)
    assert "Frigate GET" in caplog.text  # the driver's own debug lines are there
    for secret in (ADMIN_PASSWORD, VIEWER_PASSWORD, "wrong-password-1"):
        assert secret not in text
    for token in secure_frigate.issued_tokens:
        assert token not in text
        assert token.split(".")[2] not in text


def test_https_with_a_private_ca(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    certs = make_certs(tmp_path / "certs")
    with FrigateStandin(cameras=CAMERAS, tls=certs) as standin:
        assert standin.url.startswith("https://")
        assert FrigateApi(url=standin.url, ca_file=str(certs.ca)).version() == "0.18.0-e3fa701"
        with pytest.raises(FrigateApiError) as caught:
            FrigateApi(url=standin.url).version()
        assert (caught.value.code, caught.value.transient) == ("frigate_tls_error", False)
        assert "ca_file" in str(caught.value)
        with caplog.at_level(logging.WARNING):
            insecure = FrigateApi(url=standin.url, verify_ssl=False)
        with pytest.warns(urllib3.exceptions.InsecureRequestWarning):
            assert insecure.version() == "0.18.0-e3fa701"
        assert "TLS verification of Frigate" in caplog.text


# --- the stand-in speaks Frigate's payloads ---


def fixture(name: str) -> Any:
    return json.loads((fixture_dir() / name).read_text(encoding="utf-8"))


def keys(payload: Any) -> list[str]:
    assert isinstance(payload, dict)
    return list(payload)


def scripted_object(frigate: FrigateStandin) -> StandinObject:
    return frigate.begin(
        "front_door", frame=jpeg_frame(), score=0.79, zones=("driveway",), box=(200, 100, 400, 460)
    )


@pytest.mark.parametrize("kind", ["new", "update", "end"])
def test_event_messages_have_the_keys_frigate_sends(frigate: FrigateStandin, kind: str) -> None:
    expected = fixture(f"events_{kind}.json")
    obj = scripted_object(frigate)
    if kind != "new":
        obj.message("new")
        obj.improve(
            jpeg_frame(shade=90),
            score=0.88,
            zones=("yard", "driveway"),
            face=((250, 120, 300, 170), 0.86),
        )
    if kind == "end":
        obj.end()
    message = obj.message(kind)
    assert keys(message) == keys(expected)
    assert message["type"] == kind
    for side in ("before", "after"):
        assert keys(message[side]) == keys(expected[side])
    assert keys(message["after"]["snapshot"]) == keys(expected["after"]["snapshot"])
    if kind == "new":
        assert message["before"]["false_positive"] is True
        assert message["before"]["snapshot"] is None
    elif kind == "update":
        assert message["after"]["current_attributes"][0].keys() == (
            expected["after"]["current_attributes"][0].keys()
        )
    if kind == "end":
        assert message["after"]["end_time"] is not None
        assert message["before"]["end_time"] is None


def test_the_docs_example_differs_from_what_the_code_sends() -> None:
    documented = set(fixture("events_update.docs.json")["after"])
    sent = set(fixture("events_update.json")["after"])
    assert documented - sent == {"thumbnail", "recognized_license_plate_score"}
    assert {"computed_score", "snapshot_clean", "max_severity", "path_data"} <= sent - documented


def test_sub_label_is_a_list_on_mqtt_and_cleared_is_null_null(
    api: FrigateApi, frigate: FrigateStandin
) -> None:
    obj = scripted_object(frigate)
    assert obj.message("new")["after"]["sub_label"] is None
    api.set_sub_label(obj.id, "John Smith", 0.79)
    assert obj.message("update")["after"]["sub_label"] == ["John Smith", 0.79]
    response = requests.post(
        f"{frigate.url}/api/events/{obj.id}/sub_label", json={"subLabel": ""}, timeout=5
    )
    assert response.json() == {"success": True, "message": f"Event {obj.id} sub label set to None"}
    assert obj.message("update")["after"]["sub_label"] == [None, None]


def test_face_update_has_the_keys_frigate_sends(frigate: FrigateStandin) -> None:
    obj = scripted_object(frigate)
    payload = frigate.face_update(obj, "John", 0.95)
    assert set(payload) == set(fixture("tracked_object_update_face.json"))
    assert (payload["type"], payload["id"], payload["camera"]) == ("face", obj.id, "front_door")
    assert obj.message("update")["after"]["sub_label"] == ["John", 0.95]
    below = frigate.face_update(scripted_object(frigate), None, 0.0)
    assert below["name"] is None


def test_event_record_and_replies_have_frigates_shapes(
    api: FrigateApi, frigate: FrigateStandin
) -> None:
    obj = scripted_object(frigate)
    api.set_sub_label(obj.id, "John Smith", 0.79)
    obj.end()
    record = requests.get(f"{frigate.url}/api/events/{obj.id}", timeout=5).json()
    expected = fixture("api_event.json")
    assert keys(record) == keys(expected)
    assert set(record["data"]) == set(expected["data"])
    missing = requests.get(f"{frigate.url}/api/events/nosuch", timeout=5)
    assert (missing.status_code, missing.json()) == (404, fixture("api_event_not_found.json"))
    written = requests.post(
        f"{frigate.url}/api/events/{obj.id}/sub_label",
        json=fixture("sub_label_request.json"),
        timeout=5,
    ).json()
    assert keys(written) == keys(fixture("sub_label_response.json"))
    invalid = requests.post(
        f"{frigate.url}/api/events/{obj.id}/sub_label",
        json={"subLabel": "x", "subLabelScore": 1.5},
        timeout=5,
    )
    assert (invalid.status_code, invalid.json()) == (422, fixture("sub_label_invalid.json"))
    version = requests.get(f"{frigate.url}/api/version", timeout=5).text
    assert version == (fixture_dir() / "api_version.txt").read_text(encoding="utf-8")
    config = requests.get(f"{frigate.url}/api/config", timeout=5).json()
    minimal = fixture("api_config_minimal.json")
    assert keys(config) == keys(minimal)
    for section in ("mqtt", "auth", "face_recognition"):
        assert keys(config[section]) == keys(minimal[section])
    assert keys(config["cameras"]["front_door"]) == keys(minimal["cameras"]["front_door"])
    assert keys(config["cameras"]["front_door"]["snapshots"]) == keys(
        minimal["cameras"]["front_door"]["snapshots"]
    )


def test_the_mqtt_helper_publishes_what_frigate_would(
    frigate: FrigateStandin, mosquitto: MosquittoBroker, probe: Probe
) -> None:
    obj = scripted_object(frigate)
    with FrigateMqttPublisher(mosquitto.host, mosquitto.port) as publisher:
        message = obj.message("new")
        publisher.publish_event(message)
        publisher.publish_tracked_object_update(frigate.face_update(obj, "John", 0.93))
        publisher.publish_snapshot("front_door", "person", jpeg_frame(64, 48))
        events = probe.wait_for("frigate/events")
        updates = probe.wait_for("frigate/tracked_object_update")
        snapshots = probe.wait_for("frigate/front_door/person/snapshot")
    assert [event.json() for event in events] == [message]
    assert not events[0].retain
    assert updates[0].json()["type"] == "face"
    assert snapshots[0].payload.startswith(b"\xff\xd8")
    online = probe.wait_for("frigate/available", count=2)
    assert [m.payload for m in online] == [b"online", b"stopped"]
