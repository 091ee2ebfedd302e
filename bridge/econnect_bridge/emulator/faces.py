"""A deterministic "face" finder that works on real JPEG, PNG and WebP pixels.

The emulator cannot run the vendor's neural network, but the bridge must still be tested with
real image bytes. So the emulator uses a simple, documented convention instead:

* A **face** is a connected region of strongly saturated colour (HSV saturation above
  ``MIN_SATURATION`` and value above ``MIN_VALUE``) on a low-saturation background. Dark marks
  inside it (eyes, mouth) are holes in the region and do not split it.
* Regions are found on a copy whose longest side is at most ``ANALYSIS_SIDE`` pixels (JPEGs are
  decoded at reduced scale, so a 1 MB snapshot costs a few milliseconds); boxes are scaled back
  to the original pixel coordinates. Regions smaller than ``MIN_REGION_PIXELS`` analysis pixels
  are noise, not faces.
* A face's **colour** is the mean RGB of its region. A person's colour is the colour of the
  largest face in the person's reference image. A face matches the nearest person colour when
  the RGB distance is below the threshold (``MATCH_THRESHOLD`` by default).

Decoding is cached by the SHA-256 of the bytes, so the benchmarks' repeated images cost nothing.
"""

from __future__ import annotations

import hashlib
import io
import math
import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageChops

__all__ = [
    "ANALYSIS_SIDE",
    "MATCH_THRESHOLD",
    "MIN_REGION_PIXELS",
    "UNKNOWN_CONFIDENCE",
    "Analysis",
    "AnalysisCache",
    "Box",
    "FoundFace",
    "analyse",
    "colour_distance",
    "face_id_for_person",
    "face_id_for_unknown",
    "face_quality",
    "match_confidence",
    "nearest",
]

Colour = tuple[float, float, float]

ANALYSIS_SIDE = 160
MIN_SATURATION = 0.45
MIN_VALUE = 0.25
MIN_REGION_PIXELS = 20
MATCH_THRESHOLD = 60.0
CONFIDENCE_AT_ZERO = 0.999
CONFIDENCE_AT_THRESHOLD = 0.80
UNKNOWN_CONFIDENCE = 0.9
UNKNOWN_BUCKET = 32
_NAMESPACE = uuid.UUID("6f1b4c2e-7a0d-4e55-9a3c-2d8e5b7f1a90")


@dataclass(frozen=True)
class Box:
    """A face rectangle in the original image's pixel coordinates."""

    x: int
    y: int
    width: int
    height: int

    @property
    def area(self) -> int:
        """Pixels covered; the measure ``largestFaceOnly`` and ``faceQuality`` use."""
        return self.width * self.height


@dataclass(frozen=True)
class FoundFace:
    """One saturated region: where it is and what colour it is."""

    box: Box
    colour: Colour


@dataclass(frozen=True)
class Analysis:
    """What the finder saw in one image; ``decoded`` is False for bytes Pillow cannot read."""

    decoded: bool
    width: int
    height: int
    faces: tuple[FoundFace, ...]


def analyse(data: bytes) -> Analysis:
    """Find the faces in encoded image bytes, largest first.

    Undecodable bytes are not an error here: the engine treats them as "no face" (an emulator
    assumption, documented in docs/emulator.md).
    """
    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
        small = _reduced_rgb(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return Analysis(decoded=False, width=0, height=0, faces=())
    mask = _saturated_mask(small)
    pixels = small.tobytes()
    sx, sy = width / small.width, height / small.height
    faces = [
        _face_from_region(region, small.width, pixels, (sx, sy), (width, height))
        for region in _regions(mask, small.width, small.height)
        if len(region) >= MIN_REGION_PIXELS
    ]
    faces.sort(key=lambda f: (-f.box.area, f.box.y, f.box.x))
    return Analysis(decoded=True, width=width, height=height, faces=tuple(faces))


def _reduced_rgb(image: Image.Image) -> Image.Image:
    width, height = image.size
    scale = min(1.0, ANALYSIS_SIDE / max(width, height))
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    image.draft("RGB", target)  # JPEG: decode at 1/2, 1/4 or 1/8 scale directly
    rgb = image.convert("RGB")
    if rgb.size != target:
        rgb = rgb.resize(target, Image.Resampling.BOX)
    return rgb


def _saturated_mask(small: Image.Image) -> bytes:
    _, sat, val = small.convert("HSV").split()
    s_min, v_min = int(MIN_SATURATION * 255), int(MIN_VALUE * 255)
    sat_ok = sat.point(lambda s: 255 if s > s_min else 0)
    val_ok = val.point(lambda v: 255 if v > v_min else 0)
    return ImageChops.darker(sat_ok, val_ok).tobytes()


def _regions(mask: bytes, width: int, height: int) -> list[list[int]]:
    """4-connected components of the non-zero mask pixels, as lists of pixel indices."""
    seen = bytearray(len(mask))
    regions: list[list[int]] = []
    for start, value in enumerate(mask):
        if not value or seen[start]:
            continue
        seen[start] = 1
        stack, region = [start], []
        while stack:
            index = stack.pop()
            region.append(index)
            x = index % width
            for nxt, ok in (
                (index - 1, x > 0),
                (index + 1, x < width - 1),
                (index - width, index >= width),
                (index + width, index < width * (height - 1)),
            ):
                if ok and mask[nxt] and not seen[nxt]:
                    seen[nxt] = 1
                    stack.append(nxt)
        regions.append(region)
    return regions


def _face_from_region(
    region: list[int],
    width: int,
    pixels: bytes,
    scale: tuple[float, float],
    size: tuple[int, int],
) -> FoundFace:
    """Box (scaled back to the original pixels) and mean colour of one region."""
    (sx, sy), (img_w, img_h) = scale, size
    xs = [i % width for i in region]
    ys = [i // width for i in region]
    x0, y0 = int(min(xs) * sx), int(min(ys) * sy)
    x1 = min(img_w, math.ceil((max(xs) + 1) * sx))
    y1 = min(img_h, math.ceil((max(ys) + 1) * sy))
    n = len(region)
    colour = (
        sum(pixels[3 * i] for i in region) / n,
        sum(pixels[3 * i + 1] for i in region) / n,
        sum(pixels[3 * i + 2] for i in region) / n,
    )
    return FoundFace(box=Box(x0, y0, x1 - x0, y1 - y0), colour=colour)


def colour_distance(a: Colour, b: Colour) -> float:
    """Euclidean distance in RGB (0..441)."""
    return math.dist(a, b)


def nearest(colour: Colour, references: Sequence[tuple[str, Colour]]) -> tuple[str | None, float]:
    """The key of the reference colour nearest to ``colour`` and its distance."""
    best: tuple[str | None, float] = (None, math.inf)
    for key, ref in references:
        distance = colour_distance(colour, ref)
        if distance < best[1]:
            best = (key, distance)
    return best


def match_confidence(distance: float, threshold: float = MATCH_THRESHOLD) -> float:
    """Confidence of a match: 0.999 at distance 0, falling linearly to 0.80 at the threshold."""
    ratio = min(max(distance / threshold, 0.0), 1.0)
    return round(CONFIDENCE_AT_ZERO - (CONFIDENCE_AT_ZERO - CONFIDENCE_AT_THRESHOLD) * ratio, 3)


def face_quality(box: Box) -> float:
    """Bigger faces are better: ``min(1, sqrt(area) / 200)``, rounded to 3 places."""
    return round(min(1.0, math.sqrt(box.area) / 200.0), 3)


def face_id_for_person(person_id: str) -> str:
    """The same person always gets the same faceId (uuid5 of the personId)."""
    return str(uuid.uuid5(_NAMESPACE, f"person:{person_id}"))


def face_id_for_unknown(colour: Colour) -> str:
    """Unknown faces of about the same colour (32-level RGB buckets) share a faceId."""
    bucket = "-".join(str(int(c) // UNKNOWN_BUCKET) for c in colour)
    return str(uuid.uuid5(_NAMESPACE, f"unknown:{bucket}"))


class AnalysisCache:
    """A thread-safe LRU of :func:`analyse` results keyed by the SHA-256 of the bytes."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._items: OrderedDict[str, Analysis] = OrderedDict()
        self._lock = threading.Lock()

    def analyse(self, data: bytes, digest: str | None = None) -> Analysis:
        """Return the cached analysis of ``data`` or compute and remember it."""
        key = digest or hashlib.sha256(data).hexdigest()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        result = analyse(data)
        with self._lock:
            self._items[key] = result
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return result

    def clear(self) -> None:
        """Forget everything (used by the admin reset)."""
        with self._lock:
            self._items.clear()
