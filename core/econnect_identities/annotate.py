"""Draw face boxes and names on a snapshot: the "last faces" image of bridge and integration.

Needs Pillow (a dependency of the bridge; Home Assistant ships it too). Decoding and
encoding are CPU work: the bridge calls this on a worker thread, the integration in the executor.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from econnect_identities.models import DetectedFace

KNOWN_COLOUR = (46, 204, 113)
UNKNOWN_COLOUR = (231, 76, 60)


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


def annotate(image: bytes, faces: Sequence[DetectedFace]) -> bytes | None:
    """Return a JPEG of `image` with a box and caption per face, or None if undecodable."""
    from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

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
