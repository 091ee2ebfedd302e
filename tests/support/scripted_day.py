"""A day at the door, scripted once: the configuration, the engine's answers, what a user sees.

Both front ends' acceptance tests (`tests/ha/test_scripted_day_bridge.py` through Home
Assistant's MQTT integration, `tests/ha/test_scripted_day_integration.py` through the
integration) play these steps and check every expectation written here, and
`tests/unit/test_scripted_day_docs.py` checks that the tables of "A day at the door" in
docs/home-assistant.md and docs/mqtt.md are the ones `ha_table()` and `mqtt_table()` render,
so what the docs promise is what both front ends do.

The expectations are written out by hand from the documented rules, not computed with the
code under test: the strictest threshold of a person's rules decides (Jane carries VIP and
Family, so Family's 0.9 is hers), a match between 0.75 and its threshold is uncertain (its
recognition event only), Staff is excluded everywhere (nothing at all), presence lasts 60 s
after the last sighting, a person is here at their last camera only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from econnect_bridge.config.loader import load_config
from econnect_bridge.config.model import BridgeConfig
from econnect_identities.models import (
    BoundingBox,
    DetectedFace,
    Person,
    PersonTag,
    RecognitionResult,
)

CAMERAS = ("front_door", "garden")
CAMERA_NAMES = {"front_door": "Front door", "garden": "Garden"}
#: The key of the lists and counts over every camera (*People here* of the bridge or entry).
ANY = "any"
PRESENCE_SECONDS = 60
COOLDOWN_SECONDS = 30

_VIP = PersonTag("4c5d6e7f-8091-2345-6789-abcdef012345", name="VIP")
_STAFF = PersonTag("7e1a2b3c-4d5e-4f60-8a71-b2c3d4e5f601", name="Staff")
_FAMILY = PersonTag("9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", name="Family")

#: The people of the emulator's sample gallery, as the engine returns them.
PEOPLE: dict[str, Person] = {
    "Jane Doe": Person(
        "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d", friendly_name="Jane Doe", tags=(_VIP, _FAMILY)
    ),
    "Bob Smith": Person(
        "1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5e", friendly_name="Bob Smith", tags=(_STAFF,)
    ),
    "Carol White": Person(
        "2c3d4e5f-6071-4b8c-9d0e-1f2a3b4c5d6f", friendly_name="Carol White", tags=(_VIP,)
    ),
}
#: The staff member excluded everywhere: no entity, attribute, event or message may name him.
EXCLUDED = "Bob Smith"
#: Tags with presence entities, and persons with theirs (the bridge's `homeassistant` keys).
PRESENCE_TAGS = ("VIP", "Family")
PRESENCE_PERSONS = ("Jane Doe", "Carol White")

#: The bridge's configuration of the day (docs/mqtt.md shows it as is).
BRIDGE_YAML = """\
api:
  url: https://acme.econnectcloud.com/identities
  username: bridge
  password: !secret econnect_password
processing:
  largest_face_only: false   # two people in one snapshot are two faces
  min_confidence: 0.7
  uncertain_min_confidence: 0.75
  cooldown: 30
  presence_timeout: 60
rules:
  - {tag: Family, min_confidence: 0.9}
  - {tag: VIP, min_confidence: 0.8}
  - {tag: Staff, exclude: true}
cameras:
  - {name: front_door, topic: cameras/front_door/snapshot}
  - {name: garden, topic: cameras/garden/snapshot}
homeassistant:
  enabled: true
  persons: [Jane Doe, Carol White]
  tags: [VIP, Family]
"""


def bridge_config(folder: Path) -> BridgeConfig:
    """The day's configuration, read as `econnect-bridge run` reads it (its loader, !secret)."""
    (folder / "secrets.yaml").write_text("econnect_password: bridge-password\n")
    path = folder / "config.yaml"
    path.write_text(BRIDGE_YAML)
    return load_config(path)


#: The integration's options of the day, by option key (docs/home-assistant.md shows them).
INTEGRATION_OPTIONS: dict[str, Any] = {
    "cameras": [f"camera.{camera}" for camera in CAMERAS],
    "triggers": [],
    "largest_face_only": False,
    "min_confidence": 70,
    "uncertain_min_confidence": 75,
    "rules": ["tag Family: 90", "tag VIP: 80", "tag Staff: exclude"],
    "cooldown": COOLDOWN_SECONDS,
    "presence_time": PRESENCE_SECONDS,
    "presence_tags": list(PRESENCE_TAGS),
}
_UNITS = {"min_confidence": " %", "uncertain_min_confidence": " %", "cooldown": " s"}
_UNITS["presence_time"] = " s"


@dataclass(frozen=True, slots=True)
class Face:
    """One face of a snapshot: whom the engine matched (None: nobody) and how sure it is."""

    person: str | None
    confidence: float


@dataclass(frozen=True, slots=True)
class Announced:
    """A known person announced: a visit, a sighting, a bus event, and the rule that decided."""

    person: str
    rule: str


@dataclass(frozen=True, slots=True)
class Step:
    """One moment of the day and everything a user expects to see after it.

    `event_type` is that of the recognition event (`<base>/events`, the action's answer),
    None when nothing at all is published; `face_rules` the `rule` of each of its faces.
    `announced` are the known persons announced, in the engine's order. The states hold
    after the step: `last_person` per camera, the cameras whose *Known person* and *Unknown
    face* are ON, the persons (bridge) and tags present, *People here* (most recent first)
    and *Unknown faces here* per camera and over all (`ANY`).
    """

    at: int
    what: str
    camera: str | None
    faces: tuple[Face, ...]
    event_type: str | None
    face_rules: tuple[str, ...]
    announced: tuple[Announced, ...]
    last_person: Mapping[str, str | None]
    known_at: frozenset[str]
    unknown_at: frozenset[str]
    persons_present: frozenset[str]
    tags_present: frozenset[str]
    here: Mapping[str, tuple[str, ...]]
    unknown_here: Mapping[str, int] = field(
        default_factory=lambda: {"front_door": 0, "garden": 0, ANY: 0}
    )

    @property
    def visit(self) -> str | None:
        """The event type a camera's event entity fires, None when it does not fire."""
        if self.event_type in (None, "uncertain_face"):
            return None
        return self.event_type


_JANE, _CAROL = "Jane Doe", "Carol White"
_BOTH = frozenset({_JANE, _CAROL})
_TAGS = frozenset(PRESENCE_TAGS)
_NONE: frozenset[str] = frozenset()


class _States(TypedDict):
    """The states of a step, when several steps leave them as they are."""

    last_person: Mapping[str, str | None]
    known_at: frozenset[str]
    unknown_at: frozenset[str]
    persons_present: frozenset[str]
    tags_present: frozenset[str]
    here: Mapping[str, tuple[str, ...]]


_AFTER_CAROL: _States = {
    "last_person": {"front_door": _JANE, "garden": _CAROL},
    "known_at": frozenset(CAMERAS),
    "unknown_at": _NONE,
    "persons_present": _BOTH,
    "tags_present": _TAGS,
    "here": {"front_door": (_JANE,), "garden": (_CAROL,), ANY: (_CAROL, _JANE)},
}
_TOGETHER: dict[str, tuple[str, ...]] = {
    "front_door": (_CAROL, _JANE),
    "garden": (),
    ANY: (_CAROL, _JANE),
}
_STRANGER = {"front_door": 0, "garden": 1, ANY: 1}
_LAST = {"front_door": _JANE, "garden": _CAROL}

DAY: tuple[Step, ...] = (
    Step(
        0, "Jane (Family, VIP) at the front door, 0.90", "front_door", (Face(_JANE, 0.9),),
        "known_person", ("tag:Family",), (Announced(_JANE, "tag:Family"),),
        last_person={"front_door": _JANE, "garden": None},
        known_at=frozenset({"front_door"}), unknown_at=_NONE,
        persons_present=frozenset({_JANE}), tags_present=_TAGS,
        here={"front_door": (_JANE,), "garden": (), ANY: (_JANE,)},
    ),
    Step(
        10, "Carol (VIP) in the garden, 0.85", "garden", (Face(_CAROL, 0.85),),
        "known_person", ("tag:VIP",), (Announced(_CAROL, "tag:VIP"),), **_AFTER_CAROL,
    ),
    Step(
        20, "Jane in the garden, 0.85: uncertain", "garden", (Face(_JANE, 0.85),),
        "uncertain_face", ("tag:Family",), (), **_AFTER_CAROL,
    ),
    Step(
        30, "Bob (Staff, excluded) at the front door, 0.95", "front_door",
        (Face(EXCLUDED, 0.95),), None, (), (), **_AFTER_CAROL,
    ),
    Step(
        40, "Jane 0.96 and Carol 0.92 in one snapshot at the front door", "front_door",
        (Face(_JANE, 0.96), Face(_CAROL, 0.92)), "known_person", ("tag:Family", "tag:VIP"),
        (Announced(_JANE, "tag:Family"), Announced(_CAROL, "tag:VIP")),
        last_person=_LAST, known_at=frozenset(CAMERAS), unknown_at=_NONE,
        persons_present=_BOTH, tags_present=_TAGS, here=_TOGETHER,
    ),
    Step(
        50, "A stranger in the garden, 0.90", "garden", (Face(None, 0.9),),
        "unknown_face", ("default",), (),
        last_person=_LAST, known_at=frozenset(CAMERAS), unknown_at=frozenset({"garden"}),
        persons_present=_BOTH, tags_present=_TAGS, here=_TOGETHER, unknown_here=_STRANGER,
    ),
    Step(
        71, "61 s after Carol's garden sighting", None, (), None, (), (),
        last_person=_LAST, known_at=frozenset({"front_door"}), unknown_at=frozenset({"garden"}),
        persons_present=_BOTH, tags_present=_TAGS, here=_TOGETHER, unknown_here=_STRANGER,
    ),
    Step(
        101, "61 s after the last known face", None, (), None, (), (),
        last_person=_LAST, known_at=_NONE, unknown_at=frozenset({"garden"}),
        persons_present=_NONE, tags_present=_NONE,
        here={"front_door": (), "garden": (), ANY: ()}, unknown_here=_STRANGER,
    ),
    Step(
        111, "61 s after the stranger", None, (), None, (), (),
        last_person=_LAST, known_at=_NONE, unknown_at=_NONE,
        persons_present=_NONE, tags_present=_NONE,
        here={"front_door": (), "garden": (), ANY: ()},
    ),
)  # fmt: skip


def engine_answer(step: Step) -> RecognitionResult:
    """The engine's answer to the step's snapshot: its faces side by side, 120 px each."""
    faces = []
    for index, face in enumerate(step.faces):
        person = None if face.person is None else PEOPLE[face.person]
        faces.append(
            DetectedFace(
                face_id=f"face-{step.at}-{index}",
                detect_id=f"detect-{step.at}-{index}",
                confidence=face.confidence,
                quality=0.9,
                box=BoundingBox(20 + 160 * index, 40, 120, 120),
                person=person,
            )
        )
    return RecognitionResult(tuple(faces))


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(names) if names else "—"


def _at(step: Step) -> str:
    return f"{step.at} s"


def _announced(step: Step) -> str:
    return _names(tuple(f"{a.person} ({a.rule})" for a in step.announced))


def _here(step: Step) -> str:
    return " / ".join(f"{len(step.here[c])} {_names(step.here[c])}" for c in (*CAMERAS, ANY))


def _unknown(step: Step) -> str:
    return " / ".join(str(step.unknown_here[c]) for c in (*CAMERAS, ANY))


def _on(cameras: frozenset[str]) -> str:
    return _names(tuple(CAMERA_NAMES[c] for c in CAMERAS if c in cameras))


def _tags(step: Step) -> str:
    return _names(tuple(t for t in PRESENCE_TAGS if t in step.tags_present))


def options_table(labels: Mapping[str, str]) -> str:
    """The integration's options of the day, under the labels of its options form."""
    rows = ["| Option | Value |", "|---|---|"]
    for key, value in INTEGRATION_OPTIONS.items():
        if isinstance(value, bool):
            shown = "on" if value else "off"
        elif isinstance(value, list):
            shown = ", ".join(f"`{item}`" for item in value) or "none"
        else:
            shown = f"{value}{_UNITS.get(key, '')}"
        rows.append(f"| {labels[key]} | {shown} |")
    return "\n".join(rows)


def ha_table() -> str:
    """The integration's entities after each step (docs/home-assistant.md)."""
    rows = [
        "| Time | What happens | `event.<camera>_recognition` | `econnect_identities_face` "
        "(rule) | Last person (front door / garden) | Known person ON | Unknown face ON "
        "| Tag presence ON | People here (front door / garden / entry) "
        "| Unknown faces here (front door / garden / entry) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for step in DAY:
        fired = "—" if step.visit is None else f"{step.visit} ({CAMERA_NAMES[str(step.camera)]})"
        last = " / ".join(step.last_person[c] or "unknown" for c in CAMERAS)
        rows.append(
            f"| {_at(step)} | {step.what} | {fired} | {_announced(step)} | {last} "
            f"| {_on(step.known_at)} | {_on(step.unknown_at)} | {_tags(step)} "
            f"| {_here(step)} | {_unknown(step)} |"
        )
    return "\n".join(rows)


def mqtt_table() -> str:
    """The bridge's messages and retained states after each step (docs/mqtt.md)."""
    rows = [
        "| Time | What happens | `<base>/events` (each face's rule) "
        "| `<base>/cameras/<camera>/events` | `<base>/persons/<person>` (rule) "
        "| `persons/<person>/state` ON | `tags/<tag>/state` ON "
        "| `cameras/<camera>/here` (front door / garden) | `bridge/here` "
        "| `unknown_count` (front door / garden / bridge) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for step in DAY:
        if step.event_type is None:
            event = "—"
        else:
            event = f"{step.event_type} ({', '.join(step.face_rules)})"
        visits = _visits(step)
        persons = _names(tuple(p for p in PRESENCE_PERSONS if p in step.persons_present))
        cameras = " / ".join(f"{len(step.here[c])} {_names(step.here[c])}" for c in CAMERAS)
        anywhere = f"{len(step.here[ANY])} {_names(step.here[ANY])}"
        rows.append(
            f"| {_at(step)} | {step.what} | {event} | {visits} | {_announced(step)} "
            f"| {persons} | {_tags(step)} | {cameras} | {anywhere} | {_unknown(step)} |"
        )
    return "\n".join(rows)


def _visits(step: Step) -> str:
    """The bridge's visits: one per known person announced, else one for the snapshot."""
    if step.visit is None:
        return "—"
    if step.visit == "known_person":
        return ", ".join(f"known_person {a.person}" for a in step.announced)
    return step.visit


def who_is_named(face: dict[str, Any]) -> tuple[str | None, str | None]:
    """Whom a published face names: as a known person, or as an uncertain face's candidate."""
    person, candidate = face["person"], face["candidate"]
    return (
        None if person is None else person["name"],
        None if candidate is None else candidate["name"],
    )


def expected_faces(step: Step) -> list[tuple[str | None, str | None]]:
    """The day's faces as a user expects them published: uncertain ones name a candidate."""
    if step.event_type == "uncertain_face":
        return [(None, face.person) for face in step.faces]
    return [(face.person, None) for face in step.faces]
