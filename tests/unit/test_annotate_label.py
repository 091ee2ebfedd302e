"""Captions of annotated snapshots: sized to the image, dark text on a filled background."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from econnect_identities.annotate import (
    KNOWN_COLOUR,
    LABEL_FRACTION,
    LABEL_MIN_PX,
    UNKNOWN_COLOUR,
    annotate,
    label_font_size,
    load_label_font,
    text_colour,
)
from econnect_identities.models import BoundingBox, DetectedFace, Person

GREY = (128, 128, 128)


def jpeg(width: int, height: int) -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (width, height), GREY).save(output, format="JPEG", quality=95)
    return output.getvalue()


def face(box: BoundingBox, *, known: bool = True) -> DetectedFace:
    person = Person("p1", friendly_name="Jane Doe") if known else None
    return DetectedFace("f1", "d1", 0.97, 0.9, box, person)


def near(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 45) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=False))


def label_rows(image: Image.Image, colour: tuple[int, int, int], column: int) -> list[int]:
    """Rows where `column` shows the label's fill colour, found by reading the pixels."""
    return [y for y in range(image.height) if near(image.getpixel((column, y)), colour)]  # type: ignore[arg-type]


def luminance(pixel: tuple[int, ...]) -> float:
    return 0.299 * pixel[0] + 0.587 * pixel[1] + 0.114 * pixel[2]


@pytest.mark.parametrize(
    ("width", "height", "box"),
    [
        (1920, 1080, BoundingBox(800, 400, 300, 360)),
        (320, 240, BoundingBox(120, 90, 60, 70)),
    ],
)
@pytest.mark.parametrize("known", [True, False])
def test_the_label_is_sized_to_the_image_and_contrasts(
    width: int, height: int, box: BoundingBox, known: bool
) -> None:
    colour = KNOWN_COLOUR if known else UNKNOWN_COLOUR
    drawn = annotate(jpeg(width, height), [face(box, known=known)])
    assert drawn is not None
    image = Image.open(io.BytesIO(drawn)).convert("RGB")
    target = max(LABEL_MIN_PX, min(width, height) * LABEL_FRACTION)

    # the label's background: a run of fill colour above the face box, in a column inside the
    # label but left of any glyph (the padding)
    column = box.x + 1
    rows = [y for y in label_rows(image, colour, column) if y < box.y]
    assert rows, "no label background above the face box"
    label_top, label_bottom = min(rows), max(rows)
    assert label_bottom - label_top + 1 >= target
    assert label_bottom >= box.y - 3  # the label sits on the box

    # the text: pixels in the label far darker (or lighter) than its fill
    fill = luminance(colour)
    ink = text_colour(colour)
    area = [
        image.getpixel((x, y))
        for x in range(box.x, min(width, box.x + int(target * 6)))
        for y in range(label_top, label_bottom + 1)
    ]
    text_pixels = [p for p in area if abs(luminance(p) - luminance(ink)) < 60]  # type: ignore[arg-type]
    assert len(text_pixels) > target * 3, "no legible text in the label"
    assert abs(fill - luminance(ink)) > 90
    fill_pixels = [p for p in area if near(p, colour)]  # type: ignore[arg-type]
    assert len(fill_pixels) > len(area) / 3, "the label has no filled background"


def test_font_size_follows_the_shorter_side() -> None:
    assert label_font_size(1920, 1080) == round(1080 * LABEL_FRACTION)
    assert label_font_size(1080, 1920) == label_font_size(1920, 1080)
    assert label_font_size(320, 240) == LABEL_MIN_PX
    assert label_font_size(3840, 2160) >= 70


def test_the_scalable_font_is_used() -> None:
    # Pillow 10.1+ with FreeType (the bridge's and Home Assistant's) scales the default font
    small, large = load_label_font(14), load_label_font(40)
    assert large.getbbox("Jane 97%")[3] > 2 * small.getbbox("Jane 97%")[3]


def test_a_face_at_the_top_edge_gets_its_label_inside_the_image() -> None:
    box = BoundingBox(1800, 0, 120, 150)  # top right corner: no room above, little to the right
    drawn = annotate(jpeg(1920, 1080), [face(box)])
    assert drawn is not None
    image = Image.open(io.BytesIO(drawn)).convert("RGB")
    rows = label_rows(image, KNOWN_COLOUR, 1915)
    assert rows
    assert min(rows) <= 5


def test_text_colour_picks_the_better_contrast() -> None:
    assert text_colour((255, 255, 255)) == (0, 0, 0)
    assert text_colour((0, 0, 0)) == (255, 255, 255)
    assert text_colour((20, 40, 120)) == (255, 255, 255)
    assert text_colour(KNOWN_COLOUR) == (0, 0, 0)
