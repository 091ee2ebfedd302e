"""Rules per person and per tag: the judgement both front ends share, and what it publishes.

A user sets "Family needs 0.95, VIP is fine at 0.8", an uncertain band, and "never publish the
staff on the shop floor camera"; these tests check the verdict of each face, the rule each
event names, and that the state book publishes no visit, sighting or state for what is not a
known or unknown face.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from econnect_bridge.statebook import BookSettings, Message, StateBook
from econnect_bridge.states import Topics
from econnect_identities.events import Sighting, recognition_event
from econnect_identities.models import (
    BoundingBox,
    DetectedFace,
    Person,
    PersonTag,
    RecognitionResult,
)
from econnect_identities.policy import DEFAULT_POLICY
from econnect_identities.rules import FaceRule, RuleSet
from econnect_identities.schemas import validate_payload
from econnect_identities.tracking import summarise

JANE = Person("p-jane", friendly_name="Jane Doe", tags=(PersonTag("t-f", name="Family"),))
VIV = Person("p-viv", friendly_name="Viv", tags=(PersonTag("t-v", name="VIP"),))
BOTH = Person(
    "p-both",
    friendly_name="Both",
    tags=(PersonTag("t-v", name="VIP"), PersonTag("t-f", name="Family")),
)
BOB = Person("p-bob", friendly_name="Bob", tags=(PersonTag("t-s", name="Staff"),))
RULES = (
    FaceRule(tag="Family", min_confidence=0.95),
    FaceRule(tag="VIP", min_confidence=0.8),
    FaceRule(person="Bob", exclude=True, cameras=frozenset({"shop_floor"})),
)
TOPICS = Topics("econnect")
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _face(person: Person | None, confidence: float) -> DetectedFace:
    return DetectedFace("f", "d", confidence, 0.8, BoundingBox(0, 0, 80, 80), person)


def _verdict(
    rules: RuleSet, person: Person | None, confidence: float, camera: str = "door"
) -> tuple[str, str | None]:
    """Judge one face: its verdict and deciding rule, or `ignored` / `excluded`."""
    judged = rules.judge(RecognitionResult((_face(person, confidence),)), camera)
    if judged.excluded:
        return ("excluded", None)
    if not judged.verdicts:
        return ("ignored", None)
    [verdict] = judged.verdicts
    return (verdict.kind, verdict.rule)


def test_the_strictest_rule_wins_and_is_named() -> None:
    rules = RuleSet(min_confidence=0.6, rules=RULES)
    assert _verdict(rules, VIV, 0.85) == ("known", "tag:VIP")
    assert _verdict(rules, JANE, 0.96) == ("known", "tag:Family")
    # Someone carrying VIP and Family meets the stricter Family threshold, not VIP's.
    assert _verdict(rules, BOTH, 0.9)[0] == "unknown"
    assert _verdict(rules, BOTH, 0.97) == ("known", "tag:Family")
    # A rule below the camera's threshold cannot lower it: the camera's stays the strictest.
    camera = RuleSet(min_confidence=0.9, rules=RULES, base_rule="camera")
    assert _verdict(camera, VIV, 0.85) == ("ignored", None)
    assert _verdict(camera, VIV, 0.92) == ("known", "camera")
    assert _verdict(RuleSet(min_confidence=0.5), VIV, 0.7) == ("known", "default")


def test_a_person_rule_beats_a_tag_rule_only_when_stricter_and_names_win_ties() -> None:
    rules = RuleSet(
        rules=(
            FaceRule(tag="family", min_confidence=0.9),
            FaceRule(person="jane doe", min_confidence=0.9),
        )
    )
    assert _verdict(rules, JANE, 0.91) == ("known", "person:jane doe")  # tie: most specific
    by_id = RuleSet(rules=(FaceRule(person="p-jane", min_confidence=0.99),))
    assert _verdict(by_id, JANE, 0.98)[0] == "unknown"


def test_the_uncertain_band_edges() -> None:
    rules = RuleSet(min_confidence=0.5, uncertain_min_confidence=0.85, rules=RULES)
    assert _verdict(rules, JANE, 0.95) == ("known", "tag:Family")  # at the threshold: known
    assert _verdict(rules, JANE, 0.9499) == ("uncertain", "tag:Family")
    assert _verdict(rules, JANE, 0.85) == ("uncertain", "tag:Family")  # at the floor: uncertain
    assert _verdict(rules, JANE, 0.8499) == ("unknown", "default")  # below: an unknown face
    assert _verdict(rules, JANE, 0.4) == ("ignored", None)  # below min_confidence: ignored
    assert _verdict(rules, None, 0.6) == ("unknown", "default")


def test_without_rules_or_band_min_confidence_ignores_faces_as_before() -> None:
    rules = DEFAULT_POLICY.rule_set()
    assert DEFAULT_POLICY.uncertain_min_confidence is None
    assert DEFAULT_POLICY.rules == ()
    plain = RuleSet(min_confidence=0.7)
    assert _verdict(plain, JANE, 0.69) == ("ignored", None)
    assert _verdict(plain, None, 0.69) == ("ignored", None)
    assert _verdict(plain, JANE, 0.7) == ("known", "default")
    assert _verdict(rules, JANE, 0.01) == ("known", "default")


def test_exclusion_per_camera_and_everywhere() -> None:
    rules = RuleSet(uncertain_min_confidence=0.5, rules=RULES)
    assert _verdict(rules, BOB, 0.99, camera="shop_floor") == ("excluded", None)
    assert _verdict(rules, BOB, 0.99, camera="Shop Floor") == ("excluded", None)  # slugs
    assert _verdict(rules, BOB, 0.99, camera="back_door") == ("known", "default")
    everywhere = RuleSet(rules=(FaceRule(tag="staff", exclude=True),))
    assert _verdict(everywhere, BOB, 0.99, camera="back_door") == ("excluded", None)
    # A weak match is not Bob: it stays a stranger, without his name.
    weak = RuleSet(
        uncertain_min_confidence=0.8,
        rules=(FaceRule(person="Bob", exclude=True, min_confidence=0.9),),
    )
    judged = weak.judge(RecognitionResult((_face(BOB, 0.7),)), "shop_floor")
    assert judged.excluded == 0
    assert judged.verdicts[0].face.person is None
    assert _verdict(weak, BOB, 0.85, camera="shop_floor") == ("excluded", None)  # uncertain


def test_a_rule_needs_one_subject_and_something_to_do() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        FaceRule(person="Bob", tag="Staff", exclude=True)
    with pytest.raises(ValueError, match="min_confidence or exclude"):
        FaceRule(tag="Staff")


def _book() -> StateBook:
    settings = BookSettings(topics=TOPICS, person_fields=frozenset({"name"}), presence_timeout=60)
    return StateBook(settings, wall_clock=lambda: T0)


def _payloads(messages: list[Message]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for message in messages:
        out.setdefault(message.topic, []).append(json.loads(message.payload))
    return out


SIGHTING = Sighting("shop_floor", "shop_floor", T0)


def test_an_uncertain_face_is_in_the_recognition_event_only() -> None:
    rules = RuleSet(uncertain_min_confidence=0.8, rules=RULES)
    judged = rules.judge(RecognitionResult((_face(JANE, 0.9),)), "shop_floor")
    messages = _book().record(judged, SIGHTING, 0.0, cooldown=30)
    assert [m.topic for m in messages] == [TOPICS.events()]  # no visit, sighting, state
    event = json.loads(messages[0].payload)
    validate_payload("recognition", event)
    assert (event["outcome"], event["event_type"]) == ("uncertain", "uncertain_face")
    assert (event["known_count"], event["unknown_count"], event["uncertain_count"]) == (0, 0, 1)
    [face] = event["faces"]
    assert (face["known"], face["person"], face["uncertain"]) == (False, None, True)
    assert face["candidate"] == {"id": "p-jane", "name": "Jane Doe"}  # person_fields only
    assert face["rule"] == "tag:Family"


def test_excluded_faces_are_gone_before_anything_is_published() -> None:
    rules = RuleSet(rules=RULES)
    alone = rules.judge(RecognitionResult((_face(BOB, 0.99),)), "shop_floor")
    assert _book().record(alone, SIGHTING, 0.0, cooldown=30) == []
    assert alone.excluded == 1
    with_stranger = rules.judge(
        RecognitionResult((_face(BOB, 0.99), _face(None, 0.9))), "shop_floor"
    )
    out = _payloads(_book().record(with_stranger, SIGHTING, 0.0, cooldown=30))
    [event] = out[TOPICS.events()]
    assert (event["outcome"], event["face_count"]) == ("unknown", 1)
    assert "Bob" not in json.dumps(out)
    assert TOPICS.person_event("Bob") not in out


def test_events_name_the_deciding_rule() -> None:
    rules = RuleSet(rules=RULES)
    judged = rules.judge(RecognitionResult((_face(VIV, 0.85),)), "door")
    out = _payloads(_book().record(judged, Sighting("door", "door", T0), 0.0, cooldown=30))
    [event] = out[TOPICS.events()]
    assert event["rule"] == "tag:VIP"
    assert event["faces"][0]["rule"] == "tag:VIP"
    [visit] = out[TOPICS.camera_events("door")]
    assert visit["rule"] == "tag:VIP"
    validate_payload("visit", visit)
    [seen] = out[TOPICS.person_event("Viv")]
    assert seen["rule"] == "tag:VIP"
    validate_payload("sighting", seen)


def test_frigate_ranking_uses_the_judgement() -> None:
    rules = RuleSet(uncertain_min_confidence=0.5, rules=RULES)
    uncertain = summarise(rules.judge(RecognitionResult((_face(JANE, 0.9),)), "door"))
    assert not uncertain.known
    assert uncertain.faces == 1
    known = summarise(rules.judge(RecognitionResult((_face(VIV, 0.85),)), "door"))
    assert known.known
    assert known.rank() > uncertain.rank()
    event = recognition_event(rules.judge(RecognitionResult(()), "door"), SIGHTING)
    assert (event["outcome"], event["rule"], event["uncertain_count"]) == ("no_face", "default", 0)
