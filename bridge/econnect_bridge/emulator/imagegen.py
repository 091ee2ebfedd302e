"""Synthetic camera snapshots with known faces, for the samples, the tests and the benchmarks.

A face here follows the convention of :mod:`econnect_bridge.emulator.faces`: a disc of strongly
saturated colour (with darker eyes and mouth) on a low-saturation, noisy gradient background.
Every image is a pure function of its arguments, so the committed samples can be remade
byte-for-byte and a benchmark can ask for a ~1 MB JPEG whose faces it knows in advance.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw

__all__ = [
    "SAMPLE_COLOURS",
    "FaceSpec",
    "make_image",
    "make_snapshot",
    "make_snapshot_of_size",
]

RGB = tuple[int, int, int]

#: Face colours of the sample gallery's people (and of a face nobody in it has).
SAMPLE_COLOURS: dict[str, RGB] = {
    "jane": (226, 124, 48),
    "bob": (44, 96, 214),
    "carol": (196, 44, 170),
    "unknown": (52, 186, 72),
}

_MARK = (38, 28, 30)


@dataclass(frozen=True)
class FaceSpec:
    """One face to draw: its colour, centre and diameter in pixels."""

    colour: RGB
    cx: int
    cy: int
    size: int


def _colour(who: str | RGB) -> RGB:
    if isinstance(who, str):
        try:
            return SAMPLE_COLOURS[who]
        except KeyError:
            raise ValueError(f"unknown sample face {who!r}; use {sorted(SAMPLE_COLOURS)}") from None
    return who


def _layout(people: Sequence[str | RGB | FaceSpec], width: int, height: int) -> list[FaceSpec]:
    """Faces given by name or colour go into equal columns, each half a column wide."""
    count = len(people)
    specs: list[FaceSpec] = []
    for index, who in enumerate(people):
        if isinstance(who, FaceSpec):
            specs.append(who)
            continue
        column = width / max(count, 1)
        size = int(min(column, height) * 0.5)
        specs.append(FaceSpec(_colour(who), int(column * (index + 0.5)), height // 2, size))
    return specs


def _background(width: int, height: int, seed: int, noise: float) -> Image.Image:
    rng = random.Random(seed)
    gradient = Image.linear_gradient("L").resize((width, height)).rotate(rng.choice([0, 90, 180]))
    grey = gradient.point(lambda v: 70 + v * 120 // 255)
    if noise > 0:
        # effect_noise has no seed parameter, so the noise is drawn from our own RNG.
        tile = Image.frombytes(
            "L", (64, 64), bytes(max(0, min(255, int(rng.gauss(128, noise)))) for _ in range(4096))
        )
        texture = Image.new("L", (width, height))
        for top in range(0, height, 64):
            for left in range(0, width, 64):
                texture.paste(tile.rotate(90 * ((left + top) // 64 % 4)), (left, top))
        grey = Image.blend(grey, texture, 0.5)
    tint = Image.new("RGB", (width, height), (200, 180, 150))
    return Image.blend(Image.merge("RGB", (grey, grey, grey)), tint, 0.12)


def _draw_face(draw: ImageDraw.ImageDraw, face: FaceSpec) -> None:
    r = face.size / 2
    cx, cy = face.cx, face.cy
    draw.ellipse((cx - r * 0.9, cy - r, cx + r * 0.9, cy + r), fill=face.colour)
    eye = max(1.0, r * 0.13)
    for ex in (cx - r * 0.35, cx + r * 0.35):
        draw.ellipse((ex - eye, cy - r * 0.3 - eye, ex + eye, cy - r * 0.3 + eye), fill=_MARK)
    mouth_w, mouth_h = r * 0.4, max(1.0, r * 0.08)
    draw.rounded_rectangle(
        (cx - mouth_w, cy + r * 0.4 - mouth_h, cx + mouth_w, cy + r * 0.4 + mouth_h),
        radius=mouth_h,
        fill=_MARK,
    )


def make_image(
    people: Sequence[str | RGB | FaceSpec] = ("jane",),
    width: int = 640,
    height: int = 480,
    seed: int = 0,
    noise: float = 24.0,
) -> Image.Image:
    """Draw a snapshot as a Pillow image (see :func:`make_snapshot` for the arguments)."""
    image = _background(width, height, seed, noise)
    draw = ImageDraw.Draw(image)
    for face in _layout(people, width, height):
        _draw_face(draw, face)
    return image


def make_snapshot(
    people: Sequence[str | RGB | FaceSpec] = ("jane",),
    width: int = 640,
    height: int = 480,
    seed: int = 0,
    *,
    fmt: str = "JPEG",
    quality: int = 85,
    noise: float = 24.0,
) -> bytes:
    """Encode a snapshot with known faces.

    Args:
        people: Sample names (``"jane"``, ``"bob"``, ``"carol"``, ``"unknown"``), RGB colours
            (laid out left to right, half a column wide) or exact :class:`FaceSpec` faces.
        width: Image width in pixels.
        height: Image height in pixels.
        seed: Chooses the background texture; same arguments, same bytes.
        fmt: Pillow format name: ``"JPEG"``, ``"PNG"`` or ``"WEBP"``.
        quality: JPEG/WebP quality; ignored for PNG.
        noise: Standard deviation of the grey background noise; more noise, bigger files.

    Returns:
        The encoded image bytes.
    """
    image = make_image(people, width, height, seed, noise)
    out = io.BytesIO()
    if fmt.upper() == "PNG":
        image.save(out, format="PNG", optimize=True)
    else:
        image.save(out, format=fmt.upper(), quality=quality)
    return out.getvalue()


def make_snapshot_of_size(
    size_kb: float,
    people: Sequence[str | RGB] = ("jane",),
    seed: int = 0,
    aspect: float = 4 / 3,
) -> bytes:
    """A JPEG of roughly ``size_kb`` kilobytes (within ~15 %), found by scaling its dimensions.

    Benchmarks use this to measure the bridge with ~100 KB and ~1 MB snapshots.
    """
    target = size_kb * 1024
    width = 640
    data = b""
    for _ in range(6):
        height = max(64, int(width / aspect))
        data = make_snapshot(people, width, height, seed, quality=90, noise=40.0)
        if abs(len(data) - target) <= 0.05 * target:
            break
        width = max(96, int(width * math.sqrt(target / len(data))))
    return data
