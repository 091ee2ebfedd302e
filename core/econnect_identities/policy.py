"""The recognition policy: one set of defaults and units for the bridge and the integration.

The bridge's configuration schema and the integration's options take their defaults from
`DEFAULT_POLICY`, so the same user intent gives the same behaviour in both. Thresholds are
fractions from 0 to 1, the unit `RecognitionResult.filtered` and the engine use; a form that
shows percent converts at its edge with `to_percent` / `from_percent`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from econnect_identities.events import DEFAULT_PERSON_FIELDS, PERSON_FIELDS
from econnect_identities.rules import DEFAULT_RULE, FaceRule, RuleSet

# The engine's person sections (includeNames, includeTags, ...) and the event fields each
# fills. The display `name` is always published, whatever sections are fetched.
PERSON_SECTIONS = ("names", "tags", "fields", "addresses")
SECTION_FIELDS: dict[str, tuple[str, ...]] = {
    "names": ("aliases",),
    "tags": ("tags",),
    "fields": ("fields",),
    "addresses": ("addresses",),
}
ALWAYS_PUBLISHED = frozenset({"name"})
#: Face pictures (`econnect_identities.face_picture`) are personal data: both front ends keep
#: them off until the user turns them on (`publish.face_pictures`, the *Face pictures* option).
DEFAULT_FACE_PICTURES = False


@dataclass(frozen=True, slots=True, kw_only=True)
class RecognitionPolicy:
    """How results are judged and announced, whichever front end runs the recognition.

    `largest_face_only` is true because the vendor advises it for edge detectors.
    `presence_timeout` is 60 s: presence means "seen in the last minute", so automations
    that react to someone leaving run soon after, and each sighting restarts the window.
    `uncertain_min_confidence` is None (no uncertain band) and `rules` is empty, so a face
    below `min_confidence` is ignored, matched or not, as before rules existed
    (`econnect_identities.rules`).
    """

    largest_face_only: bool = True
    min_confidence: float = 0.0
    uncertain_min_confidence: float | None = None
    min_face_quality: float = 0.0
    min_face_size: int = 0
    cooldown: float = 30.0
    presence_timeout: float = 60.0
    person_fields: frozenset[str] = field(default=DEFAULT_PERSON_FIELDS)
    rules: tuple[FaceRule, ...] = ()

    def rule_set(self, *, base_rule: str = DEFAULT_RULE) -> RuleSet:
        """Return the judgement these thresholds and rules make (`econnect_identities.rules`)."""
        return RuleSet(
            min_confidence=self.min_confidence,
            uncertain_min_confidence=self.uncertain_min_confidence,
            rules=self.rules,
            base_rule=base_rule,
        )

    @property
    def person_sections(self) -> tuple[str, ...]:
        """Return the engine sections to fetch so that `person_fields` can be published."""
        return sections_for(self.person_fields)


DEFAULT_POLICY = RecognitionPolicy()


def to_percent(fraction: float) -> float:
    """Convert a 0..1 threshold to the 0..100 a percent slider shows."""
    return round(fraction * 100, 6)


def from_percent(percent: float) -> float:
    """Convert a percent slider's 0..100 back to the policy's 0..1 threshold."""
    return percent / 100


def fields_for(sections: Iterable[str]) -> frozenset[str]:
    """Return the event's person fields filled by the chosen engine sections."""
    chosen = {name for section in sections for name in SECTION_FIELDS[section]}
    return frozenset(ALWAYS_PUBLISHED | chosen)


def sections_for(fields: Iterable[str]) -> tuple[str, ...]:
    """Return, in `PERSON_SECTIONS` order, the engine sections the event fields need."""
    wanted = set(fields)
    unknown = wanted - set(PERSON_FIELDS)
    if unknown:
        raise ValueError(f"unknown person fields: {sorted(unknown)}")
    return tuple(s for s in PERSON_SECTIONS if wanted & set(SECTION_FIELDS[s]))
