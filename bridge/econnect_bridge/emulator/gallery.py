"""The emulator's world, read from a YAML "gallery": users and roles, tags, people, settings.

A gallery is validated when it is loaded, and every error names the file and the key path
(``gallery.yaml: people[1].tags[0]: unknown tag 'VPI'``), because a typo in a test fixture
should fail loudly at start-up, not as a puzzling 403 or an unknown face later. Reference images
are analysed at load time: a person's face colour is the colour of the largest face in them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from econnect_bridge.emulator import faces

__all__ = [
    "PERMISSIONS",
    "Address",
    "Alias",
    "EntityField",
    "Gallery",
    "GalleryError",
    "Person",
    "PersonTag",
    "Settings",
    "Tag",
    "User",
    "load_gallery",
    "sample_gallery_path",
]

#: Role permissions the vendor pages name; anything else in a gallery is a typo.
PERMISSIONS = frozenset(
    {
        "Face Publishing",
        "Read All Identity",
        "Mutate All Identity",
        "Read Aliases",
        "Read Addresses",
        "Read Tags",
        "Mutate Tags",
        "Read Entity Fields",
        "Mutate Entity Fields",
    }
)


class GalleryError(ValueError):
    """The gallery file is missing, not YAML, or does not follow the documented format."""


@dataclass(frozen=True)
class User:
    """An API user and the permissions of the role it holds."""

    username: str
    password: str
    permissions: frozenset[str]

    def __repr__(self) -> str:  # never show the password
        return f"User(username={self.username!r}, permissions={sorted(self.permissions)!r})"


@dataclass(frozen=True)
class Tag:
    """A tag definition as ``GET /api/v1/Tags`` returns it."""

    tag_id: str
    name: str
    disabled: bool
    description: str | None
    default_expire_period: str


@dataclass(frozen=True)
class PersonTag:
    """A tag applied to a person."""

    tag_id: str
    created: str | None
    expires: str | None


@dataclass(frozen=True)
class Alias:
    """One of a person's names."""

    first_name: str | None
    last_name: str | None
    middle_name: str | None
    title: str | None


@dataclass(frozen=True)
class Address:
    """A postal address (the shape of the vendor's Get Identity page)."""

    street: str | None
    street2: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str | None


@dataclass(frozen=True)
class EntityField:
    """A custom attribute; exactly one of the four values is set."""

    name: str
    string_value: str | None = None
    date_value: str | None = None
    number_value: float | None = None
    bool_value: bool | None = None


@dataclass(frozen=True)
class Person:
    """A known person and the face colour that identifies them."""

    person_id: str
    friendly_name: str
    reference_image: Path
    colour: tuple[float, float, float]
    aliases: tuple[Alias, ...]
    addresses: tuple[Address, ...]
    tags: tuple[PersonTag, ...]
    entity_fields: tuple[EntityField, ...]


@dataclass(frozen=True)
class Settings:
    """Engine behaviour the vendor does not document, chosen per gallery."""

    token_lifetime_seconds: float = 3600.0
    duplicate_window_seconds: float = 0.0
    match_threshold: float = faces.MATCH_THRESHOLD


@dataclass(frozen=True)
class Gallery:
    """Everything the emulator knows; immutable (run-time user changes live in the engine)."""

    path: Path
    settings: Settings
    users: tuple[User, ...]
    tags: tuple[Tag, ...]
    people: tuple[Person, ...]

    def tag(self, tag_id: str) -> Tag | None:
        """The tag with this id, if any."""
        return next((t for t in self.tags if t.tag_id == tag_id), None)

    def person(self, person_id: str) -> Person | None:
        """The person with this id (case-insensitive, as GUIDs are), if any."""
        wanted = person_id.lower()
        return next((p for p in self.people if p.person_id.lower() == wanted), None)


def sample_gallery_path() -> Path:
    """The gallery shipped with the package (users ``bridge``, ``publisher-only``, ...)."""
    return Path(__file__).resolve().parent / "samples" / "gallery.yaml"


def load_gallery(path: str | Path) -> Gallery:
    """Read, validate and analyse a gallery file.

    Raises:
        GalleryError: naming the file and key path of the first problem found.
    """
    from econnect_bridge.emulator import gallery_parse

    file = Path(path).resolve()
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as err:
        raise GalleryError(f"{file}: cannot read gallery: {err.strerror}") from err
    except yaml.YAMLError as err:
        raise GalleryError(f"{file}: not valid YAML: {err}") from err
    return gallery_parse.parse(raw, file)
