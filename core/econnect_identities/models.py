"""Typed values exchanged with the engine: what we send and what the engine answers.

These are frozen dataclasses with our own (snake_case) names; the vendor's wire names live
only in `protocol.py` and `wire.py`, so a change of contract touches two files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

Outcome = Literal["known", "unknown", "no_face"]
FieldValue = str | float | bool | date | datetime | None


@dataclass(frozen=True, slots=True)
class PublishOptions:
    """Processing and person-inclusion switches of a publish call.

    `largest_face_only` defaults to true (the vendor advises it for edge detectors); the other
    switches default to the vendor's own defaults.
    """

    largest_face_only: bool = True
    allow_double_detection: bool = False
    include_person: bool = False
    include_names: bool = False
    include_addresses: bool = False
    include_tags: bool = False
    include_fields: bool = False


@dataclass(frozen=True, slots=True)
class PublishRequest:
    """One image to recognise, with where and when it was taken."""

    image: bytes = field(repr=False)
    detector_name: str
    time_zone: str
    detect_time: datetime = field(default_factory=lambda: datetime.now(UTC))
    options: PublishOptions = field(default_factory=PublishOptions)


@dataclass(frozen=True, slots=True)
class BoundingBox:
    """A face's position in the image, in pixels."""

    x: int
    y: int
    width: int
    height: int

    @property
    def area(self) -> int:
        """Return the box's area in square pixels (used to rank faces by size)."""
        return max(self.width, 0) * max(self.height, 0)


@dataclass(frozen=True, slots=True)
class Alias:
    """One of a person's names."""

    first_name: str | None = None
    last_name: str | None = None
    middle_name: str | None = None
    title: str | None = None

    @property
    def full_name(self) -> str:
        """Return the name parts joined the way people write them."""
        parts = (self.title, self.first_name, self.middle_name, self.last_name)
        return " ".join(p for p in parts if p)


@dataclass(frozen=True, slots=True)
class PersonTag:
    """A tag carried by a person (e.g. VIP), with its validity."""

    tag_id: str
    name: str | None = None
    created: str | None = None
    expires: str | None = None


@dataclass(frozen=True, slots=True)
class EntityField:
    """A custom attribute of a person; `value` is typed from whichever *Value was set."""

    name: str
    value: FieldValue = None


@dataclass(frozen=True, slots=True)
class Person:
    """A matched person, holding only the sections the caller asked for and may see."""

    person_id: str
    friendly_name: str | None = None
    aliases: tuple[Alias, ...] = ()
    addresses: tuple[dict[str, Any], ...] = ()
    tags: tuple[PersonTag, ...] = ()
    fields: tuple[EntityField, ...] = ()

    @property
    def display_name(self) -> str:
        """Return the best human name available, falling back to the person id."""
        if self.friendly_name:
            return self.friendly_name
        for alias in self.aliases:
            if alias.full_name:
                return alias.full_name
        return self.person_id

    @property
    def tag_names(self) -> tuple[str, ...]:
        """Return the names of the person's tags (tags without a name are skipped)."""
        return tuple(tag.name for tag in self.tags if tag.name)


@dataclass(frozen=True, slots=True)
class DetectedFace:
    """One face found in the image; `person` is set only for a matched face."""

    face_id: str
    detect_id: str
    confidence: float
    quality: float
    box: BoundingBox
    person: Person | None = None

    @property
    def is_known(self) -> bool:
        """Return whether the engine matched this face to a person."""
        return self.person is not None


@dataclass(frozen=True, slots=True)
class RecognitionResult:
    """Everything `publishWithResponse` answered for one image."""

    faces: tuple[DetectedFace, ...] = ()

    @property
    def outcome(self) -> Outcome:
        """Summarise the result: a known person, only unknown faces, or no face at all."""
        if not self.faces:
            return "no_face"
        if any(face.is_known for face in self.faces):
            return "known"
        return "unknown"

    def filtered(
        self, *, min_confidence: float = 0.0, min_quality: float = 0.0, min_face_size: int = 0
    ) -> RecognitionResult:
        """Keep the faces at or above the thresholds (confidence and quality from 0 to 1).

        Both the bridge and the integration filter with this, so a threshold means the same
        thing in both; `min_face_size` is the smaller side of the box, in pixels.
        """
        kept = tuple(
            face
            for face in self.faces
            if face.confidence >= min_confidence
            and face.quality >= min_quality
            and min(face.box.width, face.box.height) >= min_face_size
        )
        return self if len(kept) == len(self.faces) else RecognitionResult(kept)

    @property
    def known_faces(self) -> tuple[DetectedFace, ...]:
        """Return the faces matched to a person."""
        return tuple(face for face in self.faces if face.is_known)

    @property
    def unknown_faces(self) -> tuple[DetectedFace, ...]:
        """Return the faces the engine could not match."""
        return tuple(face for face in self.faces if not face.is_known)


@dataclass(frozen=True, slots=True)
class Tag:
    """A tag of the roster (`GET /api/v1/Tags`)."""

    tag_id: str
    name: str
    disabled: bool = False
    description: str | None = None
    default_expire_period: str | None = None
