"""Names and ids shared by MQTT topics, discovery ids and Home Assistant unique ids.

Camera, person and tag names come from topics and from the engine, so they are untrusted:
`slugify` turns any of them into `[a-z0-9_]+`, which can neither add an MQTT topic level nor a
wildcard, nor break a discovery id. Distinct camera names can slug alike (`Front Door` and
`front-door`), and so can person and tag names (`Jane Doe`, `Jane-Doe`); `NameSlugs` gives
each its own stable slug, and the bridge uses one registry per cameras (`CameraSlugs`), persons
and tags (`SubjectSlugs`) for every topic level and id. The entity table is shared with the
integration so that a user moving between the two finds the same entities with the same names.
"""

from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
MAX_SLUG = 64
#: Hex digits of the name's digest a colliding camera slug ends with, shortest first.
_SUFFIX_LENGTHS = (6, 8, 12, 16)

Platform = Literal["sensor", "binary_sensor", "event", "image"]
SubjectKind = Literal["person", "tag"]


def slugify(text: str) -> str:
    """Return a lowercase `[a-z0-9_]` form of `text`, never empty.

    Accents are folded (José → jose). A name with nothing usable (e.g. only '#', or a
    non-Latin script such as 李雷) gets a short stable hash, so two such names still differ.
    Letters NFKD leaves whole (Æ, ß) are dropped, as they always were: spelling them out now
    would move the entity ids and history of everyone who has such a name.
    """
    return _slug(text)


def _slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = _NOT_SLUG.sub("_", folded.lower()).strip("_")[:MAX_SLUG].strip("_")
    if slug:
        return slug
    return "x_" + hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:8]


def is_blank(name: str) -> bool:
    """Whether `name` shows nothing: empty, or only spaces and invisible characters.

    Such a camera name cannot name a camera to anyone (the engine answers HTTP 400 to such a
    detector name), so the bridge refuses it rather than slugging it.
    """
    return not any(char.isprintable() and not char.isspace() for char in name)


class BlankCameraNameError(ValueError):
    """A snapshot names its camera with nothing visible; `code` is its error event code."""

    code = "blank_camera"


def _digest(name: str) -> str:
    """A stable hex digest of the exact name (same bytes, same digest on every run)."""
    data = name.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def suffixed_slugs(name: str) -> list[str]:
    """The slugs `name` may take when its plain slug belongs to another name, in order.

    The suffix comes from the name itself, not from an order of arrival, so a name gets the
    same slug on every run; the base is cut so that the whole stays within `MAX_SLUG`.
    """
    base, digest = slugify(name), _digest(name)
    slugs = []
    for length in _SUFFIX_LENGTHS:
        cut = base[: MAX_SLUG - length - 1].rstrip("_")
        slugs.append(f"{cut}_{digest[:length]}")
    return slugs


class NameSlugs:
    """One slug per distinct name, never shared: topic level, unique and entity id.

    One registry holds one kind of name: cameras (`CameraSlugs`), persons or tags
    (`SubjectSlugs`).

    The first name to claim a slug keeps the plain `slugify` form, so a bridge without
    colliding names is named as it always was; a later, different name whose slug is taken
    gets `suffixed_slugs(name)`: the plain slug cut to fit plus hex digits of a BLAKE2 digest
    of the exact name. "First" is made stable across restarts by the claim order the bridge
    uses: the configured names (`configured`, in configuration order) at construction, then
    names learnt at run time in order of arrival. A run-time name's suffix depends on the
    name only, so two colliding run-time names get the same slugs whatever order they come in
    after the first. `recall` adds what the previous run left on the broker: a recovered slug
    that is the suffixed form of a name shows that this name collided then, so it takes that
    slug again even if it arrives before the name that held the plain slug. Thread-safe: the
    intake, the workers and the control loop all ask.
    """

    def __init__(self, configured: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._by_name: dict[str, str] = {}
        self._by_slug: dict[str, str] = {}
        self._taken: set[str] = set()
        self._recalled: set[str] = set()
        for name in configured:
            self.slug(name)

    def slug(self, name: str) -> str:
        """Return `name`'s slug, claiming one the first time the name is asked for."""
        with self._lock:
            slug = self._by_name.get(name)
            if slug is None:
                slug = self._by_name[name] = self._choose(name)
                self._by_slug[slug] = name
                self._taken.add(slug)
            return slug

    def name_of(self, slug: str) -> str | None:
        """Return the name that claimed `slug`, or None (asked for every state published)."""
        with self._lock:
            return self._by_slug.get(slug)

    def recall(self, slugs: Iterable[str]) -> None:
        """Note the slugs a previous run published (its retained states)."""
        with self._lock:
            self._recalled.update(slugs)

    def names(self) -> dict[str, str]:
        """Every name claimed so far and its slug, in order of claim."""
        with self._lock:
            return dict(self._by_name)

    def _choose(self, name: str) -> str:
        plain = slugify(name)
        suffixed = suffixed_slugs(name)
        for slug in suffixed:
            if slug in self._recalled and slug not in self._taken:
                return slug  # this name collided in the previous run: keep its slug
        for slug in (plain, *suffixed):
            if slug not in self._taken:
                return slug
        return self._counted(suffixed[-1])

    def _counted(self, slug: str) -> str:
        """`slug` with a count, for names made up to take every suffix (never by chance)."""
        count = 2
        while True:
            tail = f"_{count}"
            candidate = slug[: MAX_SLUG - len(tail)] + tail
            if candidate not in self._taken:
                return candidate
            count += 1


#: The registry of camera names: the one class, named for what the bridge keeps in it.
CameraSlugs = NameSlugs


def tag_key(tag: str) -> str:
    """The form two spellings of one tag share (`VIP`, `vip`): tags match case-insensitively.

    `lower`, not `casefold`: casefold spells ß as ss, which would give such a tag another slug
    than `slugify` has always given it.
    """
    return tag.lower()


class TagSlugs(NameSlugs):
    """Tag names: two spellings of one tag share its slug; other colliding tags do not."""

    def slug(self, name: str) -> str:
        """Return the tag's slug, claiming one the first time any spelling is asked for."""
        return super().slug(tag_key(name))


def may_slug(name: str, slug: str) -> bool:
    """Whether `slug` is one `NameSlugs` may give `name`: its plain or a suffixed slug."""
    return slug in (slugify(name), *suffixed_slugs(name))


class SubjectSlugs:
    """The slugs of persons and of tags: one `NameSlugs` each, as cameras have theirs.

    A person and a tag may share a slug (their topics and ids differ by kind); two persons,
    or two tags, never do, except two spellings of one tag (`TagSlugs`). Seeded with the
    configured names, in configuration order.
    """

    def __init__(self, persons: Iterable[str] = (), tags: Iterable[str] = ()) -> None:
        self._registries: dict[SubjectKind, NameSlugs] = {
            "person": NameSlugs(persons),
            "tag": TagSlugs(tags),
        }

    def slug(self, kind: SubjectKind, name: str) -> str:
        """Return the slug of a person's or a tag's name, claiming one the first time."""
        return self._registries[kind].slug(name)

    def recall(self, kind: SubjectKind, slugs: Iterable[str]) -> None:
        """Note the person or tag slugs a previous run published (its retained states)."""
        self._registries[kind].recall(slugs)

    def names(self, kind: SubjectKind) -> dict[str, str]:
        """Every person or tag name claimed so far and its slug, in order of claim.

        Tags are named by `tag_key`, the form their spellings share.
        """
        return self._registries[kind].names()


@dataclass(frozen=True, slots=True)
class EntityKind:
    """One kind of entity: its key (unique-id suffix and translation key) and English name."""

    key: str
    platform: Platform
    name: str


# Per camera. `name` is the English name; the integration's translations/en.json says the same.
LAST_PERSON = EntityKind("last_person", "sensor", "Last person")
FACE_COUNT = EntityKind("face_count", "sensor", "Face count")
KNOWN_PERSON = EntityKind("known_person", "binary_sensor", "Known person")
UNKNOWN_FACE = EntityKind("unknown_face", "binary_sensor", "Unknown face")
RECOGNITION = EntityKind("recognition", "event", "Recognition")
ANNOTATED = EntityKind("annotated", "image", "Last faces")
CAMERA_ENTITIES = (LAST_PERSON, FACE_COUNT, KNOWN_PERSON, UNKNOWN_FACE, RECOGNITION)

# Who is here: per camera and once for the whole bridge (the integration: per source and entry).
PEOPLE_HERE = EntityKind("people_here", "sensor", "People here")
UNKNOWN_FACES_HERE = EntityKind("unknown_faces_here", "sensor", "Unknown faces here")

# Per tag and per person; `{name}` is the tag's or person's name.
TAG_PRESENT = EntityKind("tag_present", "binary_sensor", "{name} present")
PERSON_PRESENT = EntityKind("person_present", "binary_sensor", "{name} present")
PERSON_LAST_CAMERA = EntityKind("person_last_camera", "sensor", "{name} last camera")
TAG_LAST_CAMERA = EntityKind("tag_last_camera", "sensor", "{name} last camera")

# The engine / bridge health (diagnostic entities).
API_REACHABLE = EntityKind("api_reachable", "binary_sensor", "API reachable")
API_LATENCY = EntityKind("api_latency", "sensor", "API latency")
PROCESSED = EntityKind("processed", "sensor", "Processed snapshots")
DROPPED = EntityKind("dropped", "sensor", "Dropped snapshots")
ERRORS = EntityKind("errors", "sensor", "Errors")
LAST_ERROR = EntityKind("last_error", "sensor", "Last error")
HEALTH_ENTITIES = (API_REACHABLE, API_LATENCY, PROCESSED, DROPPED, ERRORS, LAST_ERROR)

# Event types of the per-camera `event` entity (HA `event` platform).
EVENT_KNOWN = "known_person"
EVENT_UNKNOWN = "unknown_face"
EVENT_NO_FACE = "no_face"
EVENT_TYPES = (EVENT_KNOWN, EVENT_UNKNOWN, EVENT_NO_FACE)
OUTCOME_EVENT_TYPE = {"known": EVENT_KNOWN, "unknown": EVENT_UNKNOWN, "no_face": EVENT_NO_FACE}


def camera_unique_id(
    node_id: str, camera: str, kind: EntityKind, *, slug: str | None = None
) -> str:
    """Return the unique id of a camera's entity, stable across restarts and renames.

    `slug` is the camera's slug from a `CameraSlugs` registry (the bridge's); without it the
    plain `slugify(camera)` is used, as the integration does.
    """
    return f"{slugify(node_id)}_{slug or slugify(camera)}_{kind.key}"


def subject_unique_id(
    node_id: str, subject: str, kind: EntityKind, *, slug: str | None = None
) -> str:
    """Return the unique id of a per-tag or per-person entity.

    `slug` is the subject's slug from a `SubjectSlugs` registry; without it the plain
    `slugify(subject)` is used (the first of colliding names gets that one anyway).
    """
    return f"{slugify(node_id)}_{kind.key}_{slug or slugify(subject)}"


def pretty_name(name: str) -> str:
    """Turn `front_door` into `Front door` (a camera's display name); keep other spellings."""
    text = " ".join(name.replace("_", " ").split())
    return text[:1].upper() + text[1:] if text else name


#: Topic levels that say what a message is, not which camera sent it.
_GENERIC_LEVELS = frozenset(
    {"frigate", "snapshot", "snapshots", "image", "images", "jpg", "person", "camera", "cameras"}
)


def topic_camera_name(topic: str) -> str:
    """Name the camera an MQTT topic is about: `frigate/front_door/person/snapshot` → `Front door`.

    The first level that is neither empty, a wildcard nor a word such as `frigate`,
    `person` or `snapshot`; the whole topic when every level is one of those.
    """
    levels = [level for level in topic.split("/") if level and level not in {"+", "#"}]
    named = [level for level in levels if level.casefold() not in _GENERIC_LEVELS]
    return pretty_name(named[0]) if named else topic


def health_unique_id(node_id: str, kind: EntityKind) -> str:
    """Return the unique id of a bridge health entity."""
    return f"{slugify(node_id)}_{kind.key}"
