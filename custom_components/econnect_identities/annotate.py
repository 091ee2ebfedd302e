"""Draw face boxes and names on a snapshot with Pillow (which Home Assistant ships).

Decoding and encoding images is CPU work, so callers run `annotate` in the executor.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from bridge.econnect import DetectedFace

KNOWN_COLOUR = (46, 204, 113)
UNKNOWN_COLOUR = (231, 76, 60)


def face_label(face: DetectedFace) -> str:
    """Return the caption of a box: the person's name, or 'Unknown', with the confidence."""
    name = face.person.display_name if face.person else "Unknown"
    return f"{name} {face.confidence:.0%}"


def annotate(image: bytes, faces: Sequence[DetectedFace]) -> bytes | None:
    """Return a JPEG of `image` with a box and caption per face, or None if undecodable."""
    try:
        with Image.open(io.BytesIO(image)) as source:
            canvas = source.convert("RGB")
    except (UnidentifiedImageError, OSError):
        return None
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    line = max(2, min(canvas.size) // 150)
    for face in faces:
        colour = KNOWN_COLOUR if face.is_known else UNKNOWN_COLOUR
        box = face.box
        draw.rectangle(
            (box.x, box.y, box.x + box.width, box.y + box.height), outline=colour, width=line
        )
        draw.text((box.x, max(0, box.y - 14)), face_label(face), fill=colour, font=font)
    output = io.BytesIO()
    canvas.save(output, format="JPEG", quality=85)
    return output.getvalue()
