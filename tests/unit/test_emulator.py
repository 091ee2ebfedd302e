"""The emulated engine over real HTTP on loopback: endpoints, statuses, the permission table."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from econnect_bridge.emulator import Emulator, load_gallery, make_snapshot, sample_gallery_path

SAMPLES = sample_gallery_path().parent
JANE = "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
BOB = "1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5e"
CAROL = "2c3d4e5f-6071-4b8c-9d0e-1f2a3b4c5d6f"
VIP = "4c5d6e7f-8091-2345-6789-abcdef012345"
PASSWORDS = {
    "bridge": "bridge-password",
    "publisher-only": "publisher-password",
    "no-publish": "no-publish-password",
    "names-only": "names-password",
}
SWITCHES = ("includeNames", "includeAddresses", "includeTags", "includeFields")
SECTION_OF = {
    "includeNames": "aliases",
    "includeAddresses": "addresses",
    "includeTags": "personTags",
    "includeFields": "entityFields",
}
PWR = "/api/v1/faceEdge/publishWithResponse"


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(gallery=load_gallery(sample_gallery_path())) as running:
        yield running


@pytest.fixture(autouse=True)
def _clean(emu: Emulator) -> None:
    emu.reset()


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def b64(name: str) -> str:
    return base64.b64encode((SAMPLES / name).read_bytes()).decode()


def body(image: str = "jane.jpg", **options: Any) -> dict[str, Any]:
    return {
        "expanded": b64(image),
        "detectorName": "FrontDoorCam",
        "ianaTimeZone": "America/Los_Angeles",
        "detectTimeUtc": "2026-06-16T18:32:05Z",
        **options,
    }


def login(http: requests.Session, emu: Emulator, user: str = "bridge") -> str:
    reply = http.post(
        f"{emu.url}/api/v1/authenticate", json={"username": user, "password": PASSWORDS[user]}
    )
    assert reply.status_code == 200, reply.text
    return str(reply.json()["token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def recognise(http: requests.Session, emu: Emulator, **kwargs: Any) -> list[dict[str, Any]]:
    """publishWithResponse as ``user`` (default ``bridge``) with the other kwargs as body."""
    user = str(kwargs.pop("user", "bridge"))
    reply = http.post(emu.url + PWR, json=body(**kwargs), headers=bearer(login(http, emu, user)))
    assert reply.status_code == 200, reply.text
    assert reply.headers["Content-Type"].startswith("application/json")
    faces: list[dict[str, Any]] = reply.json()["detectedFaces"]
    return faces


def claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


# -- authentication ----------------------------------------------------------------------------


def test_authenticate_returns_username_and_hs256_jwt(emu: Emulator, http: requests.Session) -> None:
    reply = http.post(
        f"{emu.url}/api/v1/authenticate",
        json={"username": "bridge", "password": "bridge-password"},
    )
    assert reply.status_code == 200
    data = reply.json()
    assert set(data) == {"username", "token"}
    assert data["username"] == "bridge"
    header = json.loads(base64.urlsafe_b64decode(data["token"].split(".")[0] + "=="))
    assert header["alg"] == "HS256"
    c = claims(data["token"])
    assert c["unique_name"] == "bridge"
    assert 3600 <= c["exp"] - c["iat"] <= 3601
    assert emu.stats()["authentications"] == 1


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"username": "bridge", "password": "wrong"}, 401),
        ({"username": "nobody", "password": "bridge-password"}, 401),
        ({"username": "bridge"}, 400),
        ("not json", 400),
    ],
)
def test_authenticate_failures(
    emu: Emulator, http: requests.Session, payload: Any, status: int
) -> None:
    data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
    reply = http.post(f"{emu.url}/api/v1/authenticate", data=data)
    assert reply.status_code == status
    assert reply.headers["Content-Type"].startswith("text/plain")
    assert "bridge-password" not in reply.text


def test_renew_token_gives_a_fresh_token(emu: Emulator, http: requests.Session) -> None:
    token = login(http, emu)
    reply = http.get(f"{emu.url}/api/v1/renewToken", headers=bearer(token))
    assert reply.status_code == 200
    fresh = reply.json()
    assert fresh["username"] == "bridge"
    assert fresh["token"] != token
    assert http.post(emu.url + PWR, json=body(), headers=bearer(fresh["token"])).ok
    assert emu.stats()["renewals"] == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic Zm9vOmJhcg=="},
        {"Authorization": "Bearer not.a.jwt"},
    ],
)
def test_missing_or_garbage_tokens_are_401(
    emu: Emulator, http: requests.Session, headers: dict[str, str]
) -> None:
    for reply in (
        http.get(f"{emu.url}/api/v1/renewToken", headers=headers),
        http.post(emu.url + PWR, json=body(), headers=headers),
        http.post(f"{emu.url}/api/v1/faceEdge/publish", json=body(), headers=headers),
        http.get(f"{emu.url}/api/v1/Tags", headers=headers),
    ):
        assert reply.status_code == 401
        assert reply.headers["WWW-Authenticate"] == "Bearer"


def test_forged_token_is_401(emu: Emulator, http: requests.Session) -> None:
    head, _, sig = login(http, emu, "publisher-only").split(".")
    forged_claims = base64.urlsafe_b64encode(
        json.dumps({"unique_name": "bridge", "exp": 4102444800}).encode()
    ).rstrip(b"=")
    forged = f"{head}.{forged_claims.decode()}.{sig}"
    assert http.post(emu.url + PWR, json=body(), headers=bearer(forged)).status_code == 401
    other = Emulator()  # same gallery, another signing key; never started
    foreign = other.engine.authenticate(b'{"username":"bridge","password":"bridge-password"}')
    token = json.loads(foreign.body)["token"]
    assert http.post(emu.url + PWR, json=body(), headers=bearer(token)).status_code == 401


def test_token_expires_after_its_lifetime(http: requests.Session) -> None:
    with Emulator(token_lifetime=1) as short:
        token = login(http, short)
        exp = claims(token)["exp"]
        assert exp - time.time() <= 2
        assert http.post(short.url + PWR, json=body(), headers=bearer(token)).status_code == 200
        time.sleep(max(0.0, exp - time.time()) + 0.05)
        assert http.post(short.url + PWR, json=body(), headers=bearer(token)).status_code == 401
        renew = http.get(f"{short.url}/api/v1/renewToken", headers=bearer(token))
        assert renew.status_code == 401


# -- recognition -------------------------------------------------------------------------------


def test_face_level_shape_without_include_person(emu: Emulator, http: requests.Session) -> None:
    faces = recognise(http, emu, includeNames=True)
    assert len(faces) == 1
    face = faces[0]
    assert list(face) == ["faceId", "detectId", "confidence", "faceQuality", "boundingBox"]
    assert 0.95 <= face["confidence"] <= 0.999
    assert 0 < face["faceQuality"] <= 1
    box = face["boundingBox"]
    assert set(box) == {"x", "y", "width", "height"}
    assert all(isinstance(v, int) for v in box.values())
    assert abs(box["x"] - 221) < 10
    assert abs(box["width"] - 198) < 16


@pytest.mark.parametrize(
    ("image", "person_id"), [("jane.jpg", JANE), ("bob.png", BOB), ("carol.jpg", CAROL)]
)
def test_known_people_are_matched(
    emu: Emulator, http: requests.Session, image: str, person_id: str
) -> None:
    faces = recognise(http, emu, image=image, includePerson=True)
    assert [f["person"]["personId"] for f in faces] == [person_id]


def test_unknown_face_has_no_person(emu: Emulator, http: requests.Session) -> None:
    faces = recognise(http, emu, image="unknown.jpg", includePerson=True, includeNames=True)
    assert len(faces) == 1
    assert "person" not in faces[0]
    assert faces[0]["confidence"] == 0.9


@pytest.mark.parametrize("image", ["no_face.jpg"])
def test_no_face_is_an_empty_list(emu: Emulator, http: requests.Session, image: str) -> None:
    assert recognise(http, emu, image=image, includePerson=True) == []


def test_undecodable_image_is_200_with_no_face(emu: Emulator, http: requests.Session) -> None:
    payload = body(expanded=base64.b64encode(b"this is not an image").decode())
    reply = http.post(emu.url + PWR, json=payload, headers=bearer(login(http, emu)))
    assert reply.status_code == 200
    assert reply.json() == {"detectedFaces": []}


def test_group_and_largest_face_only(emu: Emulator, http: requests.Session) -> None:
    faces = recognise(http, emu, image="group.jpg", includePerson=True)
    assert [f.get("person", {}).get("personId") for f in faces] == [JANE, BOB, None]
    areas = [f["boundingBox"]["width"] * f["boundingBox"]["height"] for f in faces]
    assert areas == sorted(areas, reverse=True)
    largest = recognise(http, emu, image="group.jpg", includePerson=True, largestFaceOnly=True)
    assert [f["person"]["personId"] for f in largest] == [JANE]


def test_face_ids_are_stable_and_detect_ids_fresh(emu: Emulator, http: requests.Session) -> None:
    alone = recognise(http, emu, image="jane.jpg")[0]
    again = recognise(http, emu, image="jane.jpg")[0]
    in_group = recognise(http, emu, image="group.jpg")[0]
    assert alone["faceId"] == again["faceId"] == in_group["faceId"]
    assert alone["detectId"] != again["detectId"]


def test_webp_snapshot_is_recognised(emu: Emulator, http: requests.Session) -> None:
    data = make_snapshot(["carol"], 320, 240, fmt="WEBP")
    faces = recognise(http, emu, expanded=base64.b64encode(data).decode(), includePerson=True)
    assert [f["person"]["friendlyName"] for f in faces] == ["Carol White"]


def test_publish_answers_empty_body_and_records(emu: Emulator, http: requests.Session) -> None:
    reply = http.post(
        f"{emu.url}/api/v1/faceEdge/publish",
        json=body(image="group.jpg"),
        headers=bearer(login(http, emu)),
    )
    assert reply.status_code == 200
    assert reply.content == b""
    stats = emu.stats()
    assert stats["detections"] == 1
    assert stats["recent_detections"][-1]["personIds"] == [JANE, BOB, None]
    assert stats["requests"]["publish"] == {"200": 1}


# -- the include* permission table -------------------------------------------------------------

ALL_ON = {"includePerson": True, **dict.fromkeys(SWITCHES, True)}


@pytest.mark.parametrize(
    ("user", "sections"),
    [
        ("bridge", {"aliases", "addresses", "personTags", "entityFields"}),
        ("publisher-only", set()),
        ("names-only", {"aliases"}),
    ],
)
def test_sections_follow_permissions(
    emu: Emulator, http: requests.Session, user: str, sections: set[str]
) -> None:
    person = recognise(http, emu, user=user, **ALL_ON)[0]["person"]
    assert set(person) == {"personId", "friendlyName"} | sections
    assert person["personId"] == JANE
    assert person["friendlyName"] == "Jane Doe"


@pytest.mark.parametrize("switch", SWITCHES)
def test_each_switch_adds_only_its_section(
    emu: Emulator, http: requests.Session, switch: str
) -> None:
    person = recognise(http, emu, includePerson=True, **{switch: True})[0]["person"]
    assert set(person) == {"personId", "friendlyName", SECTION_OF[switch]}


@pytest.mark.parametrize(
    ("permission", "section"),
    [
        ("Mutate All Identity", None),
        ("Read Aliases", "aliases"),
        ("Read Addresses", "addresses"),
        ("Read Tags", "personTags"),
        ("Mutate Tags", "personTags"),
        ("Read Entity Fields", "entityFields"),
        ("Mutate Entity Fields", "entityFields"),
    ],
)
def test_each_section_permission(
    emu: Emulator, http: requests.Session, permission: str, section: str | None
) -> None:
    emu.set_user("publisher-only", permissions=["Face Publishing", permission])
    person = recognise(http, emu, user="publisher-only", **ALL_ON)[0]["person"]
    expected = set(SECTION_OF.values()) if section is None else {section}
    assert set(person) - {"personId", "friendlyName"} == expected


def test_switches_without_include_person_add_nothing(emu: Emulator, http: requests.Session) -> None:
    faces = recognise(http, emu, **dict.fromkeys(SWITCHES, True))
    assert "person" not in faces[0]


def test_section_contents_match_the_vendor_sample(emu: Emulator, http: requests.Session) -> None:
    person = recognise(http, emu, **ALL_ON)[0]["person"]
    assert person["aliases"][0] == {
        "firstName": "Jane",
        "lastName": "Doe",
        "middleName": None,
        "title": None,
    }
    assert person["personTags"][0] == {
        "tagId": VIP,
        "created": "2026-01-15T12:00:00Z",
        "expires": None,
        "tag": {"name": "VIP"},
    }
    fields = {f["name"]: f for f in person["entityFields"]}
    assert fields["LoyaltyTier"] == {
        "name": "LoyaltyTier",
        "stringValue": "Gold",
        "dateValue": None,
        "numberValue": None,
        "boolValue": None,
    }
    assert fields["Visits"]["numberValue"] == 42
    assert fields["MemberSince"]["dateValue"] == "2019-04-01T00:00:00Z"
    assert fields["Subscribed"]["boolValue"] is True
    assert person["addresses"][0]["city"] == "Las Vegas"


# -- 403 and 400 -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [PWR, "/api/v1/faceEdge/publish"])
def test_publish_without_face_publishing_is_403(
    emu: Emulator, http: requests.Session, path: str
) -> None:
    reply = http.post(emu.url + path, json=body(), headers=bearer(login(http, emu, "no-publish")))
    assert reply.status_code == 403
    assert reply.text == "User lacks the Face Publishing permission"


BAD_BODIES: list[tuple[Any, str]] = [
    (b"{not json", "not valid JSON"),
    ([1, 2], "JSON object"),
    ({"expanded": None}, "Face bytes are empty"),
    ({"expanded": ""}, "Face bytes are empty"),
    ({"expanded": "@@@not base64@@@"}, "base64"),
    ({"expanded": 12}, "base64"),
    ({"detectorName": None}, "detectorName"),
    ({"ianaTimeZone": ""}, "ianaTimeZone"),
    ({"detectTimeUtc": None}, "detectTimeUtc"),
    ({"ianaTimeZone": "Mars/Olympus_Mons"}, "IANA time zone"),
    ({"detectTimeUtc": "2026-06-16 18:32:05"}, "detectTimeUtc"),
    ({"detectTimeUtc": "2026-06-16T18:32:05.123Z"}, "detectTimeUtc"),
    ({"detectTimeUtc": "2026-13-16T18:32:05Z"}, "detectTimeUtc"),
    ({"includePerson": "yes"}, "includePerson"),
]


@pytest.mark.parametrize(("change", "message"), BAD_BODIES)
@pytest.mark.parametrize("path", [PWR, "/api/v1/faceEdge/publish"])
def test_bad_requests_are_400_naming_the_problem(
    emu: Emulator, http: requests.Session, path: str, change: Any, message: str
) -> None:
    if isinstance(change, dict):
        payload = body()
        payload.update(change)
        data = json.dumps({k: v for k, v in payload.items() if v is not None or k == "expanded"})
    else:
        data = change.decode() if isinstance(change, bytes) else json.dumps(change)
    headers = {**bearer(login(http, emu)), "Content-Type": "application/json"}
    reply = http.post(emu.url + path, data=data, headers=headers)
    assert reply.status_code == 400
    assert message in reply.text
    assert reply.headers["Content-Type"].startswith("text/plain")


def test_missing_expanded_is_face_bytes_are_empty(emu: Emulator, http: requests.Session) -> None:
    payload = body()
    del payload["expanded"]
    reply = http.post(emu.url + PWR, json=payload, headers=bearer(login(http, emu)))
    assert (reply.status_code, reply.text) == (400, "Face bytes are empty")


# -- Tags and people ---------------------------------------------------------------------------


def test_tags_list(emu: Emulator, http: requests.Session) -> None:
    reply = http.get(f"{emu.url}/api/v1/Tags", headers=bearer(login(http, emu)))
    assert reply.status_code == 200
    tags = reply.json()
    assert {t["tagName"] for t in tags} == {"VIP", "Staff", "Family"}
    vip = next(t for t in tags if t["tagName"] == "VIP")
    assert vip == {
        "tagId": VIP,
        "tagName": "VIP",
        "disabled": False,
        "description": "Very important person",
        "defaultExpirePeriod": "30.00:00:00",
    }
    only = http.get(f"{emu.url}/api/v1/Tags?tagName=Staff", headers=bearer(login(http, emu)))
    assert [t["tagName"] for t in only.json()] == ["Staff"]


@pytest.mark.parametrize(
    ("permissions", "status"),
    [
        (["Face Publishing"], 403),
        (["Read Aliases"], 403),
        (["Read Tags"], 200),
        (["Mutate Tags"], 200),
        (["Mutate All Identity"], 200),
    ],
)
def test_tags_permissions(
    emu: Emulator, http: requests.Session, permissions: list[str], status: int
) -> None:
    emu.set_user("publisher-only", permissions=permissions)
    token = login(http, emu, "publisher-only")
    assert http.get(f"{emu.url}/api/v1/Tags", headers=bearer(token)).status_code == status


def test_people_by_tag(emu: Emulator, http: requests.Session) -> None:
    token = login(http, emu)
    reply = http.get(f"{emu.url}/api/v1/people", params={"tagId": VIP}, headers=bearer(token))
    assert reply.status_code == 200
    people = reply.json()
    assert [p["personId"] for p in people] == [JANE, CAROL]
    jane = people[0]
    assert {
        "personId",
        "friendlyName",
        "aliases",
        "addresses",
        "personTags",
        "entityFields",
    } <= set(jane)
    assert jane["personTags"][0]["tag"] == {"name": "VIP"}
    unknown = http.get(f"{emu.url}/api/v1/people", params={"tagId": BOB}, headers=bearer(token))
    assert unknown.json() == []


def test_people_needs_read_all_identity(emu: Emulator, http: requests.Session) -> None:
    for user in ("publisher-only", "names-only"):
        reply = http.get(
            f"{emu.url}/api/v1/people",
            params={"tagId": VIP},
            headers=bearer(login(http, emu, user)),
        )
        assert reply.status_code == 403
        assert "Read All Identity" in reply.text
    ok = http.get(
        f"{emu.url}/api/v1/people",
        params={"tagId": VIP},
        headers=bearer(login(http, emu, "no-publish")),
    )
    assert ok.status_code == 200


def test_one_person_by_id(emu: Emulator, http: requests.Session) -> None:
    token = login(http, emu)
    reply = http.get(f"{emu.url}/api/v1/people/{BOB}", headers=bearer(token))
    assert reply.status_code == 200
    assert reply.json()["friendlyName"] == "Bob Smith"
    missing = http.get(f"{emu.url}/api/v1/people/{VIP}", headers=bearer(token))
    assert missing.status_code == 404


# -- routing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 404),
        ("GET", "/api/v2/authenticate", 404),
        ("POST", "/api/v1/faceEdge/publishWithResponseX", 404),
        ("PUT", "/api/v1/nothing", 404),
        ("GET", "/api/v1/authenticate", 405),
        ("GET", PWR, 405),
        ("POST", "/api/v1/Tags", 405),
        ("DELETE", f"/api/v1/people/{JANE}", 405),
    ],
)
def test_unknown_routes(
    emu: Emulator, http: requests.Session, method: str, path: str, status: int
) -> None:
    reply = http.request(method, emu.url + path)
    assert reply.status_code == status


def test_identities_prefix_and_case_insensitive_routes(
    emu: Emulator, http: requests.Session
) -> None:
    reply = http.post(
        f"{emu.cloud_url}/api/v1/authenticate",
        json={"username": "bridge", "password": "bridge-password"},
    )
    assert reply.status_code == 200
    token = reply.json()["token"]
    assert emu.cloud_url.endswith("/identities")
    faces = http.post(
        f"{emu.cloud_url}{PWR}", json=body(includePerson=True), headers=bearer(token)
    ).json()["detectedFaces"]
    assert faces[0]["person"]["personId"] == JANE
    lower = http.post(f"{emu.url}{PWR.lower()}", json=body(), headers=bearer(token))
    assert lower.status_code == 200
    assert http.get(f"{emu.cloud_url}/api/v1/tags", headers=bearer(token)).status_code == 200


def test_keep_alive_calls_are_fast(emu: Emulator) -> None:
    """TCP_NODELAY: without it every keep-alive request waits ~40 ms on delayed ACK."""
    with requests.Session() as session:
        token = login(session, emu)
        payload = body()
        session.post(emu.url + PWR, json=payload, headers=bearer(token))
        start = time.perf_counter()
        for _ in range(20):
            assert session.post(emu.url + PWR, json=payload, headers=bearer(token)).ok
        assert time.perf_counter() - start < 0.6


def test_sample_file_exists() -> None:
    assert Path(SAMPLES / "gallery.yaml").is_file()
