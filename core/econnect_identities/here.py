"""Who is here: the people seen inside the presence window, as both front ends list them.

The bridge lists the persons whose presence is still ON (its timers turn it OFF), the
integration the persons seen less than its presence time ago; both build the same `Present`
entries and render them with `people_attributes`, so a dashboard card or an automation reads
the same attributes from either. A person is here at one camera only: the last one they were
seen at, so two cameras never both claim the same visit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from econnect_identities.events import ordered_tags, utc_iso


@dataclass(frozen=True, slots=True)
class Present:
    """One person here: who, with which tags, where (slug or entity id, and name) and when."""

    name: str
    person_id: str | None
    tags: tuple[str, ...]
    camera: str
    camera_name: str
    last_seen: datetime


def ordered(people: Iterable[Present]) -> list[Present]:
    """The most recently seen first, so a dashboard names who just arrived before the others."""
    return sorted(people, key=lambda p: (-p.last_seen.timestamp(), p.name))


def within(people: Iterable[Present], now: datetime, window: float) -> list[Present]:
    """Those seen less than `window` seconds before `now`, most recent first."""
    limit = now - timedelta(seconds=window)
    return ordered(p for p in people if p.last_seen > limit)


def at_camera(people: Iterable[Present], camera: str) -> list[Present]:
    """Those whose last camera is `camera`."""
    return [p for p in people if p.camera == camera]


def people_attributes(people: Sequence[Present]) -> dict[str, Any]:
    """The attributes of *People here*: `names` to show, `people` to test in automations."""
    return {
        "names": [p.name for p in people],
        "people": [
            {
                "name": p.name,
                "person_id": p.person_id,
                "tags": ordered_tags(p.tags),
                "last_camera": p.camera,
                "last_camera_name": p.camera_name,
                "last_seen": utc_iso(p.last_seen),
            }
            for p in people
        ],
    }
