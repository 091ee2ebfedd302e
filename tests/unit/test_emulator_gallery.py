"""Emulator pieces without sockets: gallery validation, the face finder, images, JWTs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from econnect_bridge.emulator import faces
from econnect_bridge.emulator.gallery import GalleryError, load_gallery, sample_gallery_path
from econnect_bridge.emulator.imagegen import (
    SAMPLE_COLOURS,
    FaceSpec,
    make_snapshot,
    make_snapshot_of_size,
)
from econnect_bridge.emulator.jwt import TokenError, mint_token, verify_token
from econnect_bridge.emulator.samples.make_images import sample_images

SAMPLES = sample_gallery_path().parent
JANE = "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"

# -- sample files ----------------------------------------------------------------------------

EXPECTED = {
    "jane.jpg": ["jane"],
    "bob.png": ["bob"],
    "carol.jpg": ["carol"],
    "unknown.jpg": ["unknown"],
    "no_face.jpg": [],
    "group.jpg": ["jane", "bob", "unknown"],
    "ref_jane.png": ["jane"],
    "ref_bob.png": ["bob"],
    "ref_carol.png": ["carol"],
}


def _nearest_sample(colour: tuple[float, float, float]) -> str:
    return min(SAMPLE_COLOURS, key=lambda name: math.dist(colour, SAMPLE_COLOURS[name]))


@pytest.mark.parametrize(("name", "who"), EXPECTED.items())
def test_sample_files_hold_the_documented_faces(name: str, who: list[str]) -> None:
    data = (SAMPLES / name).read_bytes()
    assert len(data) < 60 * 1024
    found = faces.analyse(data)
    assert found.decoded
    assert [_nearest_sample(f.colour) for f in found.faces] == who
    for face in found.faces:
        assert math.dist(face.colour, SAMPLE_COLOURS[_nearest_sample(face.colour)]) < 20


def test_make_images_regenerates_equivalent_files() -> None:
    for name, data in sample_images().items():
        fresh = faces.analyse(data).faces
        committed = faces.analyse((SAMPLES / name).read_bytes()).faces
        assert [f.box for f in fresh] == [f.box for f in committed], name


def test_make_snapshot_is_deterministic_and_seeded() -> None:
    assert make_snapshot(["jane"], seed=3) == make_snapshot(["jane"], seed=3)
    assert make_snapshot(["jane"], seed=3) != make_snapshot(["jane"], seed=4)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_every_format_is_recognised(fmt: str) -> None:
    data = make_snapshot(["bob", "carol"], 400, 300, fmt=fmt, noise=4.0)
    found = faces.analyse(data).faces
    assert sorted(_nearest_sample(f.colour) for f in found) == ["bob", "carol"]


@pytest.mark.parametrize("size_kb", [100, 1000])
def test_snapshot_of_size_hits_the_target(size_kb: int) -> None:
    data = make_snapshot_of_size(size_kb, ["jane", "bob"])
    assert abs(len(data) / 1024 - size_kb) < 0.15 * size_kb
    found = faces.analyse(data).faces
    assert sorted(_nearest_sample(f.colour) for f in found) == ["bob", "jane"]


def test_boxes_are_in_original_pixels() -> None:
    face = FaceSpec(SAMPLE_COLOURS["jane"], cx=1000, cy=600, size=400)
    found = faces.analyse(make_snapshot([face], 1600, 1200)).faces
    assert len(found) == 1
    box = found[0].box
    # the drawn face spans x 820..1180 and y 400..800; the finder works on a 160 px copy
    assert abs(box.x - 820) <= 12
    assert abs(box.y - 400) <= 12
    assert abs(box.width - 360) <= 20
    assert abs(box.height - 400) <= 20


def test_tiny_regions_are_not_faces() -> None:
    tiny = FaceSpec(SAMPLE_COLOURS["bob"], cx=100, cy=100, size=8)
    assert faces.analyse(make_snapshot([tiny], 640, 480)).faces == ()


def test_undecodable_bytes_are_no_face() -> None:
    result = faces.analyse(b"definitely not an image")
    assert not result.decoded
    assert result.faces == ()
    truncated = (SAMPLES / "jane.jpg").read_bytes()[:200]
    assert faces.analyse(truncated).faces == ()


def test_scores_are_documented_functions() -> None:
    assert faces.match_confidence(0) == 0.999
    assert faces.match_confidence(faces.MATCH_THRESHOLD) == 0.8
    assert faces.match_confidence(10) > faces.match_confidence(30)
    assert faces.face_quality(faces.Box(0, 0, 100, 100)) == 0.5
    assert faces.face_quality(faces.Box(0, 0, 400, 400)) == 1.0
    assert faces.face_id_for_person(JANE) == faces.face_id_for_person(JANE)
    assert faces.face_id_for_unknown((50, 180, 70)) == faces.face_id_for_unknown((52, 183, 73))


def test_cache_returns_the_same_analysis() -> None:
    cache = faces.AnalysisCache(size=2)
    data = (SAMPLES / "jane.jpg").read_bytes()
    assert cache.analyse(data) is cache.analyse(data)


# -- gallery ---------------------------------------------------------------------------------


def test_sample_gallery_loads() -> None:
    gallery = load_gallery(sample_gallery_path())
    assert [u.username for u in gallery.users] == [
        "bridge",
        "publisher-only",
        "no-publish",
        "names-only",
    ]
    assert {t.name for t in gallery.tags} == {"VIP", "Staff", "Family"}
    jane = gallery.person(JANE)
    assert jane is not None
    assert jane.friendly_name == "Jane Doe"
    assert math.dist(jane.colour, SAMPLE_COLOURS["jane"]) < 5
    assert "bridge-password" not in repr(gallery.users)


GOOD = """
users: [{username: u, password: p, permissions: [Face Publishing]}]
tags: [{tagId: 4c5d6e7f-8091-2345-6789-abcdef012345, tagName: VIP}]
people:
  - personId: 0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d
    friendlyName: Jane
    referenceImage: REF
    tags: [{tag: VIP, created: 2026-01-15T12:00:00Z}]
    entityFields: [{name: Since, dateValue: 2020-01-02}]
"""


def _write(tmp_path: Path, text: str, ref: str = "ref_jane.png") -> Path:
    (tmp_path / "ref.png").write_bytes((SAMPLES / ref).read_bytes())
    (tmp_path / "empty.jpg").write_bytes((SAMPLES / "no_face.jpg").read_bytes())
    path = tmp_path / "g.yaml"
    path.write_text(text.replace("REF", "ref.png"), encoding="utf-8")
    return path


def test_custom_gallery_paths_are_relative_and_dates_normalised(tmp_path: Path) -> None:
    gallery = load_gallery(_write(tmp_path, GOOD))
    person = gallery.people[0]
    assert person.reference_image == (tmp_path / "ref.png").resolve()
    assert person.tags[0].created == "2026-01-15T12:00:00Z"
    assert person.entity_fields[0].date_value == "2020-01-02T00:00:00Z"
    assert gallery.settings.token_lifetime_seconds == 3600


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("[Face Publishing]", "[Face Publish]", "users[0]: unknown permissions ['Face Publish']"),
        ("{tag: VIP,", "{tag: VPI,", "people[0].tags[0]: unknown tag 'VPI'"),
        ("REF", "missing.png", "people[0]: reference image not found"),
        ("REF", "empty.jpg", "people[0]: no face"),
        ("personId: 0a1b", "personId: zz0a1b", "people[0]: 'personId' must be a GUID"),
        ("dateValue: 2020-01-02", "dateValue: 2020-01-02, boolValue: true", "exactly one of"),
        (
            "tagName: VIP}]",
            "tagName: VIP}, {tagId: 4c5d6e7f-8091-2345-6789-abcdef012346, tagName: VIP}]",
            "tags: duplicated ['VIP']",
        ),
        (
            "users: [",
            "settings: {token_lifetime_seconds: 0}\nusers: [",
            "settings: 'token_lifetime_seconds' must be a number >= 1.0",
        ),
        ("users:", "users: {", "not valid YAML"),
    ],
)
def test_gallery_errors_name_file_and_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in GOOD
    with pytest.raises(GalleryError) as err:
        load_gallery(_write(tmp_path, GOOD.replace(old, new, 1)))
    assert "g.yaml" in str(err.value)
    assert message in str(err.value)


def test_missing_gallery_file(tmp_path: Path) -> None:
    with pytest.raises(GalleryError, match="cannot read gallery"):
        load_gallery(tmp_path / "nope.yaml")


# -- JWT -------------------------------------------------------------------------------------


def test_jwt_round_trip_and_claims() -> None:
    token = mint_token("bridge", b"k", 1, now=1000.2)
    claims = verify_token(token, b"k", now=1001.0)
    assert claims["unique_name"] == "bridge"
    assert claims["iat"] == 1000
    assert claims["exp"] == 1002
    assert mint_token("bridge", b"k", 1, now=1000.2) != token  # fresh jti


@pytest.mark.parametrize(
    ("token_of", "secret", "now"),
    [
        (lambda t: t, b"other", 1000.0),  # forged: another key
        (lambda t: t, b"k", 1002.0),  # expired at exp
        (lambda t: t[:-2], b"k", 1000.0),  # mangled signature
        (lambda t: "a.b", b"k", 1000.0),
        (lambda t: "", b"k", 1000.0),
    ],
)
def test_jwt_rejects(token_of, secret: bytes, now: float) -> None:  # type: ignore[no-untyped-def]
    token = mint_token("bridge", b"k", 1, now=1000.2)
    with pytest.raises(TokenError):
        verify_token(token_of(token), secret, now=now)
