"""Draw face boxes and names on a snapshot: the "last faces" image of bridge and integration.

Needs Pillow (a dependency of the bridge; Home Assistant ships it too). Decoding and
encoding are CPU work: the bridge calls this on a worker thread, the integration in the executor.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from econnect_identities.models import DetectedFace

if TYPE_CHECKING:
    from PIL import ImageDraw, ImageFont

Colour = tuple[int, int, int]

KNOWN_COLOUR: Final[Colour] = (46, 204, 113)
UNKNOWN_COLOUR: Final[Colour] = (231, 76, 60)

#: The caption's font size as a fraction of the image's shorter side (~38 px on 1080p), so a
#: name stays readable on a phone whatever the camera's resolution...
LABEL_FRACTION: Final = 0.035
#: ...and never smaller than this (px), for small snapshots.
LABEL_MIN_PX: Final = 14


def pillow_available() -> bool:
    """Return whether Pillow can be imported (checked at start when the option is on)."""
    try:
        import PIL  # noqa: F401
    except ImportError:
        return False
    return True


def face_label(face: DetectedFace) -> str:
    """Return the caption of a box: the person's name, or 'Unknown', with the confidence."""
    name = face.person.display_name if face.person else "Unknown"
    return f"{name} {face.confidence:.0%}"


def label_font_size(width: int, height: int) -> int:
    """Return the caption's font size (px) for an image of `width` x `height` pixels."""
    return max(LABEL_MIN_PX, round(min(width, height) * LABEL_FRACTION))


def text_colour(background: Colour) -> Colour:
    """Return black or white, whichever contrasts more with `background` (WCAG luminance)."""

    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(c) for c in background)
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    # contrast with black: (L + 0.05) / 0.05; with white: 1.05 / (L + 0.05)
    return (0, 0, 0) if (luminance + 0.05) ** 2 > 0.0525 else (255, 255, 255)


@dataclass(frozen=True, slots=True)
class LabelBox:
    """Where a caption goes: its filled background (left, top, right, bottom) and text origin."""

    left: int
    top: int
    right: int
    bottom: int
    text_x: int
    text_y: int


def load_label_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Return Pillow's scalable default font at `size` px (Pillow 10.1+ with FreeType).

    Older Pillow, or one built without FreeType, gives the small bitmap font: the caption is
    still drawn on its background, only smaller.
    """
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow < 10.1 has no size; a broken FreeType build
        return ImageFont.load_default()


def label_box(
    draw: ImageDraw.ImageDraw,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    text: str,
    *,
    face_box: tuple[int, int, int, int],
    image_size: tuple[int, int],
    size: int,
) -> LabelBox:
    """Place a caption above its face box (inside it when there is no room), within the image.

    The background is at least `size` px of text plus padding tall, so the box height
    follows the image, not the font's bitmap.
    """
    left, top, right, bottom = (
        math.floor(v) if i < 2 else math.ceil(v)
        for i, v in enumerate(draw.textbbox((0, 0), text, font=font))
    )
    pad = max(2, size // 5)
    text_height = max(bottom - top, size)
    width = right - left + 2 * pad
    height = text_height + 2 * pad
    image_width, image_height = image_size
    x = max(0, min(face_box[0], image_width - width))
    y = face_box[1] - height
    if y < 0:
        y = max(0, min(face_box[1], image_height - height))  # inside the top of the box
    # textbbox's top is the offset of the ink below the origin: shift so the ink is centred
    text_y = y + pad + (text_height - (bottom - top)) // 2 - top
    return LabelBox(x, y, x + width, y + height, x + pad - left, text_y)


def annotate(image: bytes, faces: Sequence[DetectedFace]) -> bytes | None:
    """Return a JPEG of `image` with a box and caption per face, or None if undecodable.

    Each caption (name and confidence) is drawn in a font sized to the image, dark or light
    on a background filled with the box's colour, so it reads at a glance on a phone.
    """
    from PIL import Image, ImageDraw, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(image)) as source:
            canvas = source.convert("RGB")
    except (UnidentifiedImageError, OSError):
        return None
    draw = ImageDraw.Draw(canvas)
    size = label_font_size(*canvas.size)
    font = load_label_font(size)
    line = max(2, min(canvas.size) // 150)
    for face in faces:
        colour = KNOWN_COLOUR if face.is_known else UNKNOWN_COLOUR
        box = face.box
        corners = (box.x, box.y, box.x + box.width, box.y + box.height)
        draw.rectangle(corners, outline=colour, width=line)
        text = face_label(face)
        place = label_box(draw, font, text, face_box=corners, image_size=canvas.size, size=size)
        draw.rectangle((place.left, place.top, place.right, place.bottom), fill=colour)
        draw.text((place.text_x, place.text_y), text, fill=text_colour(colour), font=font)
    output = io.BytesIO()
    canvas.save(output, format="JPEG", quality=85)
    return output.getvalue()
