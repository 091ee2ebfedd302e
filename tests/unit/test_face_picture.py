"""Face pictures: the crop's size, its clamping to the image, bad input, and which faces count."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from econnect_identities.face_picture import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_SIDE,
    MIN_SIDE,
    crop_box,
    crop_face,
    faces_to_picture,
)
from econnect_identities.models import BoundingBox, DetectedFace, Person, RecognitionResult
from econnect_identities.rules import FaceRule, RuleSet

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "bridge" / "econnect_bridge" / "emulator" / "samples"


def _jpeg(width: int, height: int, colour: tuple[int, int, int] = (200, 120, 90)) -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(output, format="JPEG")
    return output.getvalue()


def _noise(width: int, height: int) -> bytes:
    """A PNG of random pixels: the worst case for JPEG's size."""
    import os

    output = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(output, "PNG")
    return output.getvalue()


def _size(picture: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(picture)) as image:
        assert image.format == "JPEG"
        return image.size


def test_a_large_face_is_scaled_down_to_the_longest_side() -> None:
    picture = crop_face(_jpeg(1920, 1080), BoundingBox(800, 300, 400, 600))
    assert picture is not None
    width, height = _size(picture)
    assert max(width, height) == DEFAULT_MAX_SIDE
    assert width / height == pytest.approx(600 / 900, abs=0.01)  # the margin kept the shape


def test_a_small_face_keeps_its_own_size_with_the_margin() -> None:
    picture = crop_face(_jpeg(640, 480), BoundingBox(100, 100, 40, 60))
    assert picture is not None
    assert _size(picture) == (60, 90)  # 40 x 60 grown by a quarter on each side, not upscaled


def test_the_margin_is_clamped_to_the_image() -> None:
    assert crop_box(BoundingBox(0, 0, 100, 100), (640, 480)) == (0, 0, 125, 125)
    assert crop_box(BoundingBox(600, 440, 100, 100), (640, 480)) == (575, 415, 640, 480)
    picture = crop_face(_jpeg(640, 480), BoundingBox(600, 440, 100, 100))
    assert picture is not None
    assert _size(picture) == (65, 65)


@pytest.mark.parametrize(
    "box",
    [
        BoundingBox(0, 0, 0, 50),
        BoundingBox(0, 0, 50, -5),
        BoundingBox(5000, 5000, 100, 100),
        BoundingBox(-500, -500, 100, 100),
        BoundingBox(-120, 10, 100, 100),  # 5 px of its margin inside the image: no face
    ],
)
def test_a_box_that_shows_no_face_gives_no_picture(box: BoundingBox) -> None:
    assert crop_face(_jpeg(640, 480), box) is None


@pytest.mark.parametrize(
    "image", [b"", b"not an image", _jpeg(64, 64)[:40], b"\x89PNG\r\n\x1a\n" + b"\0" * 64]
)
def test_an_undecodable_image_gives_no_picture(image: bytes) -> None:
    assert crop_face(image, BoundingBox(0, 0, 32, 32)) is None


def test_the_picture_fits_its_byte_bound() -> None:
    noise = _noise(1024, 1024)
    picture = crop_face(noise, BoundingBox(0, 0, 1024, 1024))
    assert picture is not None
    assert len(picture) <= DEFAULT_MAX_BYTES
    tight = crop_face(noise, BoundingBox(0, 0, 1024, 1024), max_bytes=4000)
    assert tight is not None
    assert len(tight) <= 4000
    assert max(_size(tight)) < DEFAULT_MAX_SIDE  # made smaller to fit, not refused
    assert crop_face(noise, BoundingBox(0, 0, 1024, 1024), max_bytes=10) is None


def test_a_sample_face_is_cut_from_a_real_snapshot() -> None:
    picture = crop_face((SAMPLES / "jane.jpg").read_bytes(), BoundingBox(10, 10, 60, 60))
    assert picture is not None
    assert min(_size(picture)) >= MIN_SIDE


JANE = Person("p-jane", "Jane Doe")
BOB = Person("p-bob", "Bob")


def _face(face_id: str, person: Person | None, confidence: float) -> DetectedFace:
    return DetectedFace(face_id, "d", confidence, 0.9, BoundingBox(0, 0, 40, 40), person)


def test_only_known_faces_picture_a_person_and_only_unknown_ones_the_camera() -> None:
    faces = (
        _face("jane-weak", JANE, 0.91),
        _face("jane-best", JANE, 0.97),
        _face("bob-uncertain", BOB, 0.7),
        _face("stranger", None, 0.9),
        _face("stranger-best", None, 0.95),
    )
    rules = RuleSet(min_confidence=0.8, uncertain_min_confidence=0.6)
    pictures = faces_to_picture(rules.judge(RecognitionResult(faces), "door"))
    assert {name: face.face_id for name, face in pictures.known.items()} == {
        "Jane Doe": "jane-best"
    }
    assert pictures.unknown is not None
    assert pictures.unknown.face_id == "stranger-best"


def test_an_excluded_person_is_pictured_nowhere() -> None:
    rules = RuleSet(min_confidence=0.8, rules=(FaceRule(person="Jane Doe", exclude=True),))
    judged = rules.judge(RecognitionResult((_face("jane", JANE, 0.97),)), "door")
    pictures = faces_to_picture(judged)
    assert pictures.known == {}
    assert pictures.unknown is None


def test_face_picture_topics_are_distinct_and_the_bridge_own_output() -> None:
    from econnect_bridge.delivery import StaleFacePictures
    from econnect_bridge.messages import topic_matches
    from econnect_bridge.own_output import is_own_output, own_filters
    from econnect_bridge.states import Topics

    topics = Topics("econnect")
    jane, other = topics.person_face("Jane Doe"), topics.person_face("Jane-Doe")
    assert jane == "econnect/persons/jane_doe/face"
    assert other.startswith("econnect/persons/jane_doe_")
    assert other.endswith("/face")
    assert topics.camera_unknown_face("Front door") == "econnect/cameras/front_door/unknown_face"
    for topic in (jane, other, topics.camera_unknown_face("Front door")):
        assert is_own_output(topic, own_filters("econnect"))  # never taken as a snapshot
        assert any(topic_matches(f, topic) for f in topics.face_picture_filters())
    assert not any(
        topic_matches(f, topics.person_state("Jane Doe")) for f in topics.face_picture_filters()
    )

    published: list[tuple[str, bytes, bool]] = []

    class Recorder:
        def publish(
            self, topic: str, payload: bytes | str, *, retain: bool = False, qos: int | None = None
        ) -> bool:
            published.append(
                (topic, bytes(payload, "utf-8") if isinstance(payload, str) else payload, retain)
            )
            return True

    stale = StaleFacePictures(Recorder())
    stale.take(jane, b"\xff\xd8jpeg", retained=True)
    stale.take(jane, b"", retained=False)  # our own empty payload coming back: ignored
    stale.take(other, b"\xff\xd8jpeg", retained=False)  # a live picture is not a leftover
    assert published == []  # paho's thread only notes them
    stale.clear()
    assert published == [(jane, b"", True)]
    assert stale.cleared == 1
