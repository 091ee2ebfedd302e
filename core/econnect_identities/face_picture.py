"""Face pictures: a small JPEG of one face, cut from its snapshot (bridge and integration).

A person's picture shows the last face the shared judgement (`econnect_identities.rules`)
called *known* for them; a camera's *last unknown face* shows the last face it judged
*unknown*. Uncertain and excluded faces never give a picture: a near miss must not put a
face under somebody's name, and an excluded person (staff on a shop floor) must appear
nowhere. The pictures are personal data, so both front ends keep them off unless the user
turns them on (`publish.face_pictures`, the integration's *Face pictures* option).

The crop is the face's box grown by a margin on every side (a face cut at the chin is hard
to recognise at a glance), clamped to the image, scaled down so the longest side is at most
`max_side` pixels (a crop already smaller keeps its own size: upscaling adds no detail) and
encoded as JPEG within `max_bytes`. A box outside the image, an undecodable snapshot or a
picture that cannot be made small enough gives None, never an exception: a picture is an
extra, and the answer it illustrates is published whatever happens here.

Needs Pillow, like `annotate.py`; decoding is CPU work, so the bridge calls this on a worker
thread and the integration in the executor.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from econnect_identities.models import BoundingBox, DetectedFace
from econnect_identities.rules import Judgement

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "DEFAULT_MARGIN",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_SIDE",
    "FacePictures",
    "crop_box",
    "crop_face",
    "faces_to_picture",
    "pictures_of",
]

#: The longest side of a face picture (px): enough for a phone notification or a dashboard tile.
DEFAULT_MAX_SIDE: Final = 256
#: The most bytes one picture may take (a retained MQTT message, an entity's memory).
DEFAULT_MAX_BYTES: Final = 64 * 1024
#: The margin added on each side of the box, as a fraction of the box's width and height.
DEFAULT_MARGIN: Final = 0.25
#: A crop narrower or lower than this (px) after clamping shows no face: no picture.
MIN_SIDE: Final = 8
#: Largest snapshot (pixels) decoded for a crop; larger ones are refused, not decoded.
MAX_PIXELS: Final = 64_000_000
_QUALITIES: Final = (85, 70, 55, 40)


def crop_box(
    box: BoundingBox, image_size: tuple[int, int], margin: float = DEFAULT_MARGIN
) -> tuple[int, int, int, int] | None:
    """Return the (left, top, right, bottom) to cut for `box`, clamped to the image, or None.

    None when the box is empty or negative in size, or lies (with its margin) outside the
    image, or what is left inside is smaller than `MIN_SIDE` either way.
    """
    width, height = image_size
    if box.width <= 0 or box.height <= 0 or width <= 0 or height <= 0:
        return None
    grow_x, grow_y = round(box.width * max(margin, 0.0)), round(box.height * max(margin, 0.0))
    left = max(0, box.x - grow_x)
    top = max(0, box.y - grow_y)
    right = min(width, box.x + box.width + grow_x)
    bottom = min(height, box.y + box.height + grow_y)
    if right - left < MIN_SIDE or bottom - top < MIN_SIDE:
        return None
    return left, top, right, bottom


def crop_face(
    image: bytes,
    box: BoundingBox,
    *,
    max_side: int = DEFAULT_MAX_SIDE,
    margin: float = DEFAULT_MARGIN,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> bytes | None:
    """Return a JPEG of the face in `box` on `image`, or None if none can be made.

    Scaled down to at most `max_side` px on its longest side, never up; encoded at falling
    JPEG qualities, then at half the size, until it fits in `max_bytes`.
    """
    return _crop_all(image, [box], max_side=max_side, margin=margin, max_bytes=max_bytes)[0]


def _crop_all(
    image: bytes,
    boxes: Sequence[BoundingBox],
    *,
    max_side: int = DEFAULT_MAX_SIDE,
    margin: float = DEFAULT_MARGIN,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[bytes | None]:
    """`crop_face` for several boxes of one snapshot, decoded once."""
    from PIL import Image

    side = max(max_side, MIN_SIDE)
    crops: list[Image.Image | None] = []
    try:
        with Image.open(io.BytesIO(image)) as source:
            if source.width * source.height > MAX_PIXELS:
                return [None] * len(boxes)
            for box in boxes:
                corners = crop_box(box, source.size, margin)
                crops.append(None if corners is None else source.crop(corners).convert("RGB"))
    except (Image.DecompressionBombError, OSError, ValueError, SyntaxError):
        return [None] * len(boxes)  # not an image Pillow can read (truncated, unknown format)
    pictures: list[bytes | None] = []
    for face in crops:
        if face is not None:
            face.thumbnail((side, side))
        pictures.append(None if face is None else _fit(face, max_bytes))
    return pictures


def _fit(face: Image.Image, max_bytes: int) -> bytes | None:
    """Encode `face` as JPEG within `max_bytes`: lower quality first, then a smaller size."""
    while True:
        for quality in _QUALITIES:
            output = io.BytesIO()
            face.save(output, format="JPEG", quality=quality)
            if output.tell() <= max_bytes:
                return output.getvalue()
        if min(face.size) // 2 < MIN_SIDE:
            return None
        face = face.resize((face.width // 2, face.height // 2))


@dataclass(frozen=True, slots=True)
class FacePictures:
    """Which faces of one judged answer get a picture: per person, and the camera's unknown.

    `known` maps a person's display name (the name their topics and entities are made from)
    to their most confident known face; `unknown` is the most confident unknown face, if any.
    """

    known: dict[str, DetectedFace]
    unknown: DetectedFace | None = None


def faces_to_picture(judgement: Judgement) -> FacePictures:
    """Pick the faces of `judgement` that may be pictured: known and unknown verdicts only.

    Excluded faces are not in a judgement's verdicts at all, and uncertain ones are skipped
    here, so neither can ever give a picture.
    """
    known: dict[str, DetectedFace] = {}
    unknown: DetectedFace | None = None
    for verdict in judgement.verdicts:
        face = verdict.face
        if verdict.kind == "known" and face.person is not None:
            name = face.person.display_name
            best = known.get(name)
            if best is None or face.confidence > best.confidence:
                known[name] = face
        elif verdict.kind == "unknown" and (
            unknown is None or face.confidence > unknown.confidence
        ):
            unknown = face
    return FacePictures(known, unknown)


def pictures_of(image: bytes, judgement: Judgement) -> tuple[dict[str, bytes], bytes | None]:
    """Cut the pictures of one judged snapshot (decoded once): per known person, its unknown face.

    Returns (person display name → JPEG, unknown face JPEG or None); a face that cannot be
    cut is left out. CPU work: a worker thread or the executor.
    """
    chosen = faces_to_picture(judgement)
    names = list(chosen.known)
    boxes = [chosen.known[name].box for name in names]
    if chosen.unknown is not None:
        boxes.append(chosen.unknown.box)
    if not boxes:
        return {}, None
    pictures = _crop_all(image, boxes)
    per_person = zip(names, pictures[: len(names)], strict=True)
    known = {name: picture for name, picture in per_person if picture is not None}
    unknown = pictures[-1] if chosen.unknown is not None else None
    return known, unknown
