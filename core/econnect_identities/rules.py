"""Rules per person and per tag: who counts as known, who is uncertain, who is never published.

One judgement for the bridge and the Home Assistant integration, so a rule means the same in
both. Each face of an engine answer (quality and size thresholds already applied) becomes one
`Verdict`:

* **known**: matched to a person, confidence at or above the *known threshold*, which is the
  strictest (highest) of the camera's or global `min_confidence` and of every rule that names
  the person or one of their tags (a door that opens for the tag "Family" asks 0.95 of a
  Family face even where the camera is content with 0.8);
* **uncertain**: matched, below the known threshold but at or above the *uncertain threshold*
  (`uncertain_min_confidence`): published in the snapshot's recognition event only, neither a
  known person nor an unknown face, because a near miss must neither open a door nor raise an
  alarm about a stranger;
* **unknown**: not matched, or matched below the uncertain threshold; its person is dropped
  so that nothing downstream names a person the engine was not sure of. It then meets the
  camera's `min_confidence` as any unmatched face does: below it, it is ignored, as before;
* **excluded**: would be known or uncertain, and a rule excludes the person or one of their
  tags on this camera (staff on a shop floor): removed before anything is published or
  counted. A weaker match stays an unknown face, so a stranger who merely resembles an
  excluded person still counts as a stranger.

Without rules and without an uncertain threshold this is what `min_confidence` always did: a
face below it is ignored, matched or not. Names compare as slugs, so `Family` and `family`
are one tag, as in topics. No I/O here: both front ends feed it values and read verdicts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from econnect_identities.models import DetectedFace, Person, RecognitionResult
from econnect_identities.naming import slugify

__all__ = [
    "CAMERA_RULE",
    "DEFAULT_RULE",
    "FaceRule",
    "Judgement",
    "RuleSet",
    "Verdict",
    "VerdictKind",
    "as_judgement",
]

VerdictKind = Literal["known", "uncertain", "unknown", "excluded"]

#: The name of the deciding rule when the global threshold decided.
DEFAULT_RULE = "default"
#: The name of the deciding rule when the camera's own threshold decided.
CAMERA_RULE = "camera"

# When thresholds tie, the most specific rule is named: it is the one a user would look for.
_SPECIFICITY = {"person": 3, "tag": 2, CAMERA_RULE: 1, DEFAULT_RULE: 0}


@dataclass(frozen=True, slots=True, kw_only=True)
class FaceRule:
    """One rule: a person or a tag, a known threshold or an exclusion, some or all cameras.

    Exactly one of `person` (display name or person id) and `tag` is set. `cameras` empty
    means every camera; a camera, like a name, compares as a slug.
    """

    person: str | None = None
    tag: str | None = None
    min_confidence: float | None = None
    exclude: bool = False
    cameras: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if (self.person is None) == (self.tag is None):
            raise ValueError("a rule names exactly one of person and tag")
        if self.min_confidence is None and not self.exclude:
            raise ValueError("a rule sets min_confidence or exclude")

    @property
    def label(self) -> str:
        """Return the name events give this rule: `person:Jane Doe` or `tag:Family`."""
        return f"person:{self.person}" if self.person is not None else f"tag:{self.tag}"

    @property
    def kind(self) -> str:
        """Return `person` or `tag`."""
        return "person" if self.person is not None else "tag"

    def applies(self, person: Person, camera: str) -> bool:
        """Whether this rule is about `person` (or one of their tags) on `camera`."""
        if self.cameras and slugify(camera) not in {slugify(c) for c in self.cameras}:
            return False
        if self.person is not None:
            wanted = slugify(self.person)
            return self.person == person.person_id or wanted == slugify(person.display_name)
        assert self.tag is not None
        return slugify(self.tag) in {slugify(name) for name in person.tag_names}


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one face is judged to be, and the rule whose threshold decided it."""

    face: DetectedFace
    kind: VerdictKind
    rule: str

    @property
    def candidate(self) -> Person | None:
        """Return the person an uncertain face resembles (None for any other verdict)."""
        return self.face.person if self.kind == "uncertain" else None


@dataclass(frozen=True, slots=True)
class Judgement:
    """A whole answer judged: what front ends publish, and what they only count.

    `result` holds the known faces (person kept) and the unknown ones (person dropped), in the
    engine's order: what known-person and unknown-face events, visits and presence read.
    `verdicts` adds the uncertain faces in their place; excluded faces are only counted.
    """

    verdicts: tuple[Verdict, ...] = ()
    excluded: int = 0
    base_rule: str = DEFAULT_RULE

    @property
    def result(self) -> RecognitionResult:
        """Return the known and unknown faces, uncertain and excluded ones left out."""
        return RecognitionResult(tuple(v.face for v in self.verdicts if v.kind != "uncertain"))

    @property
    def uncertain(self) -> tuple[Verdict, ...]:
        """Return the uncertain faces' verdicts."""
        return tuple(v for v in self.verdicts if v.kind == "uncertain")

    @property
    def only_uncertain(self) -> bool:
        """Whether every face left is uncertain (nothing known, nothing unknown)."""
        return bool(self.verdicts) and all(v.kind == "uncertain" for v in self.verdicts)

    @property
    def nothing_left(self) -> bool:
        """Whether every face was excluded: the snapshot must publish nothing at all."""
        return self.excluded > 0 and not self.verdicts

    def rule_for(self, face: DetectedFace) -> str:
        """Return the deciding rule of one of this judgement's faces (the base rule if none)."""
        for verdict in self.verdicts:
            if verdict.face is face:
                return verdict.rule
        return self.base_rule

    @property
    def outcome_rule(self) -> str:
        """Return the rule of the most confident known face, else the base rule."""
        known = [v for v in self.verdicts if v.kind == "known"]
        best = max(known, key=lambda v: v.face.confidence, default=None)
        return self.base_rule if best is None else best.rule


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleSet:
    """The thresholds and rules of one camera (or of the integration's one set of options).

    `min_confidence` is the camera's (or global) threshold and `base_rule` says which of the
    two it is (`camera` or `default`). `uncertain_min_confidence` None means no uncertain
    band: a face below its known threshold is unknown, as it always was.
    """

    min_confidence: float = 0.0
    uncertain_min_confidence: float | None = None
    rules: tuple[FaceRule, ...] = field(default=())
    base_rule: str = DEFAULT_RULE

    def judge(self, result: RecognitionResult, camera: str) -> Judgement:
        """Judge every face of `result` seen by `camera` (thresholds of quality already met)."""
        verdicts: list[Verdict] = []
        excluded = 0
        for face in result.faces:
            verdict = self.judge_face(face, camera)
            if verdict is None:
                continue
            if verdict.kind == "excluded":
                excluded += 1
            else:
                verdicts.append(verdict)
        return Judgement(tuple(verdicts), excluded, self.base_rule)

    def judge_face(self, face: DetectedFace, camera: str) -> Verdict | None:
        """Return one face's verdict, or None when it is below every threshold (ignored)."""
        person = face.person
        if person is None:
            return self._unmatched(face)
        threshold, rule = self.known_threshold(person, camera)
        floor = (
            threshold if self.uncertain_min_confidence is None else self.uncertain_min_confidence
        )
        if face.confidence < min(floor, threshold):
            return self._unmatched(_without_person(face))
        if self._excluded(person, camera):
            return Verdict(face, "excluded", rule)
        kind: VerdictKind = "known" if face.confidence >= threshold else "uncertain"
        return Verdict(face, kind, rule)

    def known_threshold(self, person: Person, camera: str) -> tuple[float, str]:
        """Return the strictest threshold for `person` on `camera` and the rule that sets it."""
        best = (self.min_confidence, _SPECIFICITY[self.base_rule], self.base_rule)
        for rule in self.rules:
            if rule.min_confidence is None or not rule.applies(person, camera):
                continue
            candidate = (rule.min_confidence, _SPECIFICITY[rule.kind], rule.label)
            if candidate[:2] > best[:2]:
                best = candidate
        return best[0], best[2]

    def _excluded(self, person: Person, camera: str) -> bool:
        return any(rule.exclude and rule.applies(person, camera) for rule in self.rules)

    def _unmatched(self, face: DetectedFace) -> Verdict | None:
        """An unmatched face: unknown at or above the camera's threshold, else ignored."""
        if face.confidence < self.min_confidence:
            return None
        return Verdict(face, "unknown", self.base_rule)


def _without_person(face: DetectedFace) -> DetectedFace:
    """The face as an unmatched one: a weak match must not name anybody downstream."""
    return DetectedFace(
        face_id=face.face_id,
        detect_id=face.detect_id,
        confidence=face.confidence,
        quality=face.quality,
        box=face.box,
    )


def excluded_everywhere(rules: Iterable[FaceRule], person: Person) -> bool:
    """Whether a rule hides `person` on every camera.

    Such a person must not get entities from the roster either: an entity named after a member
    of staff would say what the exclusion is there to keep quiet.
    """
    return any(rule.exclude and not rule.cameras and rule.applies(person, "") for rule in rules)


def tag_excluded_everywhere(rules: Iterable[FaceRule], tag: str) -> bool:
    """Whether a rule hides everyone carrying `tag` on every camera (its presence never shows)."""
    wanted = slugify(tag)
    return any(
        rule.exclude and not rule.cameras and rule.tag is not None and slugify(rule.tag) == wanted
        for rule in rules
    )


def hidden_everywhere(rules: Iterable[FaceRule], person: Person, listed_under: str) -> bool:
    """Whether `person`, read from the roster under the tag `listed_under`, is never shown.

    Both front ends leave such people out when they make entities from the engine's roster.
    """
    rules = tuple(rules)
    return tag_excluded_everywhere(rules, listed_under) or excluded_everywhere(rules, person)


def as_judgement(result: RecognitionResult | Judgement) -> Judgement:
    """Return a judgement as is, or judge a bare result with no rule (every match known)."""
    if isinstance(result, Judgement):
        return result
    return RuleSet().judge(result, "")
