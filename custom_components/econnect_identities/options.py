"""The entry's options as one frozen value, with defaults, read once per setup."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from econnect_identities import PublishOptions, protocol
from econnect_identities import policy as shared
from econnect_identities.policy import RecognitionPolicy
from econnect_identities.rules import FaceRule
from econnect_identities.tracking import FollowPolicy

from .const import (
    CONF_CAMERAS,
    CONF_COOLDOWN,
    CONF_FACE_PICTURES,
    CONF_FRIGATE_CAMERAS,
    CONF_FRIGATE_CONFIDENT_SCORE,
    CONF_FRIGATE_LABELS,
    CONF_FRIGATE_MAX_ATTEMPTS,
    CONF_FRIGATE_MAX_SECONDS,
    CONF_FRIGATE_OVERWRITE_SUB_LABEL,
    CONF_FRIGATE_POLL_INTERVAL,
    CONF_FRIGATE_PREFIX,
    CONF_FRIGATE_SKIP_NAMED,
    CONF_FRIGATE_SUB_LABEL_MIN_SCORE,
    CONF_FRIGATE_URL,
    CONF_FRIGATE_WRITE_SUB_LABEL,
    CONF_FRIGATE_ZONES,
    CONF_LARGEST_FACE_ONLY,
    CONF_MIN_CONFIDENCE,
    CONF_MIN_QUALITY,
    CONF_MQTT_TOPICS,
    CONF_PERSON_SECTIONS,
    CONF_PRESENCE_TAGS,
    CONF_PRESENCE_TIME,
    CONF_RULES,
    CONF_TRIGGERS,
    CONF_UNCERTAIN_CONFIDENCE,
    DEFAULT_COOLDOWN,
    DEFAULT_FACE_PICTURES,
    DEFAULT_FRIGATE_CONFIDENT_SCORE,
    DEFAULT_FRIGATE_LABELS,
    DEFAULT_FRIGATE_MAX_ATTEMPTS,
    DEFAULT_FRIGATE_MAX_SECONDS,
    DEFAULT_FRIGATE_OVERWRITE_SUB_LABEL,
    DEFAULT_FRIGATE_POLL_INTERVAL,
    DEFAULT_FRIGATE_PREFIX,
    DEFAULT_FRIGATE_SKIP_NAMED,
    DEFAULT_FRIGATE_SUB_LABEL_MIN_SCORE,
    DEFAULT_FRIGATE_WRITE_SUB_LABEL,
    DEFAULT_LARGEST_FACE_ONLY,
    DEFAULT_MIN_CONFIDENCE,
    DEFAULT_MIN_QUALITY,
    DEFAULT_PERSON_SECTIONS,
    DEFAULT_PRESENCE_TIME,
    DEFAULT_UNCERTAIN_CONFIDENCE,
)

_RULE_KINDS = ("person", "tag")


def parse_rule(line: str) -> FaceRule:
    """Read one line of the rules option: `tag Family: 95` or `person Bob: exclude @ cam, cam`.

    The form has no list-of-mappings field, so a rule is one line: who (`person <name or id>`
    or `tag <name>`), a colon, a percent threshold or `exclude`, and optionally `@` and the
    sources it applies to (camera entity ids, MQTT topics or Frigate cameras).

    Raises:
        ValueError: A line that does not say who, or neither a percent nor `exclude`.
    """
    text, _, where = str(line).partition("@")
    who, colon, what = text.partition(":")
    kind, _, name = who.strip().partition(" ")
    what = what.strip().lower()
    if not colon or kind.lower() not in _RULE_KINDS or not name.strip() or not what:
        msg = f"expected 'tag Family: 95' or 'person Bob: exclude', not {line!r}"
        raise ValueError(msg)
    cameras = frozenset(c.strip() for c in where.split(",") if c.strip())
    person = name.strip() if kind.lower() == "person" else None
    tag = None if person is not None else name.strip()
    if what == "exclude":
        return FaceRule(person=person, tag=tag, exclude=True, cameras=cameras)
    percent = float(what.rstrip("%").strip())
    if not 0 <= percent <= 100:
        msg = f"a threshold from 0 to 100 %, not {what!r}"
        raise ValueError(msg)
    threshold = shared.from_percent(percent)
    return FaceRule(person=person, tag=tag, min_confidence=threshold, cameras=cameras)


def parse_rules(lines: Iterable[str]) -> tuple[FaceRule, ...]:
    """Read every line of the rules option (empty lines are skipped)."""
    return tuple(parse_rule(line) for line in lines if str(line).strip())


def parse_zones(lines: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Read "camera: zone, zone" lines into the zones each camera's objects must enter.

    The form has no mapping field, so each camera is one line of a text list; a camera given
    twice gets the zones of both lines.

    Raises:
        ValueError: A line without a camera name before ":" or without any zone after it.
    """
    zones: dict[str, tuple[str, ...]] = {}
    for line in lines:
        camera, colon, names = str(line).partition(":")
        wanted = tuple(zone.strip() for zone in names.split(",") if zone.strip())
        if not colon or not camera.strip() or not wanted:
            msg = f"expected 'camera: zone, zone', not {line!r}"
            raise ValueError(msg)
        known = zones.get(camera.strip(), ())
        zones[camera.strip()] = tuple(dict.fromkeys((*known, *wanted)))
    return zones


@dataclass(frozen=True, slots=True, kw_only=True)
class FrigateOptions:
    """Frigate's events mode: where Frigate is, which topics it uses and how hard to try."""

    url: str
    topic_prefix: str = DEFAULT_FRIGATE_PREFIX
    follow: FollowPolicy = field(default_factory=FollowPolicy)

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> FrigateOptions | None:
        """Read the Frigate part of the options; None when events mode is off (no URL).

        Scores are stored in percent, as the form shows them, and converted here once.
        """
        url = str(options.get(CONF_FRIGATE_URL) or "").strip()
        if not url:
            return None
        pct = shared.from_percent
        follow = FollowPolicy(
            labels=frozenset(options.get(CONF_FRIGATE_LABELS) or DEFAULT_FRIGATE_LABELS),
            cameras=frozenset(options.get(CONF_FRIGATE_CAMERAS, ())),
            required_zones={
                camera: frozenset(zones)
                for camera, zones in parse_zones(options.get(CONF_FRIGATE_ZONES, ())).items()
            },
            max_attempts=int(options.get(CONF_FRIGATE_MAX_ATTEMPTS, DEFAULT_FRIGATE_MAX_ATTEMPTS)),
            max_seconds=float(options.get(CONF_FRIGATE_MAX_SECONDS, DEFAULT_FRIGATE_MAX_SECONDS)),
            poll_interval=float(
                options.get(CONF_FRIGATE_POLL_INTERVAL, DEFAULT_FRIGATE_POLL_INTERVAL)
            ),
            confident_score=pct(
                float(options.get(CONF_FRIGATE_CONFIDENT_SCORE, DEFAULT_FRIGATE_CONFIDENT_SCORE))
            ),
            write_sub_label=bool(
                options.get(CONF_FRIGATE_WRITE_SUB_LABEL, DEFAULT_FRIGATE_WRITE_SUB_LABEL)
            ),
            sub_label_min_score=pct(
                float(
                    options.get(
                        CONF_FRIGATE_SUB_LABEL_MIN_SCORE, DEFAULT_FRIGATE_SUB_LABEL_MIN_SCORE
                    )
                )
            ),
            overwrite_sub_label=bool(
                options.get(CONF_FRIGATE_OVERWRITE_SUB_LABEL, DEFAULT_FRIGATE_OVERWRITE_SUB_LABEL)
            ),
            skip_named=bool(options.get(CONF_FRIGATE_SKIP_NAMED, DEFAULT_FRIGATE_SKIP_NAMED)),
        )
        prefix = str(options.get(CONF_FRIGATE_PREFIX) or DEFAULT_FRIGATE_PREFIX).strip("/ ")
        return cls(url=protocol.normalise_base_url(url), topic_prefix=prefix, follow=follow)

    @property
    def events_topic(self) -> str:
        """Return Frigate's tracked-object events topic."""
        return f"{self.topic_prefix}/events"

    @property
    def face_updates_topic(self) -> str:
        """Return the topic of Frigate's own face recognition results."""
        return f"{self.topic_prefix}/tracked_object_update"


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryOptions:
    """What to watch and how to judge what the engine answers.

    Thresholds are in percent, as the options form shows them; `policy` gives fractions.
    """

    cameras: tuple[str, ...] = ()
    mqtt_topics: tuple[str, ...] = ()
    triggers: tuple[str, ...] = ()
    largest_face_only: bool = DEFAULT_LARGEST_FACE_ONLY
    person_sections: frozenset[str] = frozenset(DEFAULT_PERSON_SECTIONS)
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    min_quality: float = DEFAULT_MIN_QUALITY
    uncertain_min_confidence: float = DEFAULT_UNCERTAIN_CONFIDENCE  # 0: no uncertain band
    rules: tuple[FaceRule, ...] = ()
    cooldown: float = DEFAULT_COOLDOWN
    presence_time: float = DEFAULT_PRESENCE_TIME
    presence_tags: tuple[str, ...] = ()
    face_pictures: bool = DEFAULT_FACE_PICTURES
    frigate: FrigateOptions | None = None

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> EntryOptions:
        """Read the options flow's output, filling defaults for anything missing."""
        return cls(
            cameras=tuple(options.get(CONF_CAMERAS, ())),
            mqtt_topics=tuple(options.get(CONF_MQTT_TOPICS, ())),
            triggers=tuple(options.get(CONF_TRIGGERS, ())),
            largest_face_only=bool(options.get(CONF_LARGEST_FACE_ONLY, DEFAULT_LARGEST_FACE_ONLY)),
            person_sections=frozenset(options.get(CONF_PERSON_SECTIONS, DEFAULT_PERSON_SECTIONS)),
            min_confidence=float(options.get(CONF_MIN_CONFIDENCE, DEFAULT_MIN_CONFIDENCE)),
            min_quality=float(options.get(CONF_MIN_QUALITY, DEFAULT_MIN_QUALITY)),
            uncertain_min_confidence=float(
                options.get(CONF_UNCERTAIN_CONFIDENCE, DEFAULT_UNCERTAIN_CONFIDENCE)
            ),
            rules=parse_rules(options.get(CONF_RULES, ())),
            cooldown=float(options.get(CONF_COOLDOWN, DEFAULT_COOLDOWN)),
            presence_time=float(options.get(CONF_PRESENCE_TIME, DEFAULT_PRESENCE_TIME)),
            presence_tags=tuple(dict.fromkeys(options.get(CONF_PRESENCE_TAGS, ()))),
            face_pictures=bool(options.get(CONF_FACE_PICTURES, DEFAULT_FACE_PICTURES)),
            frigate=FrigateOptions.from_mapping(options),
        )

    @property
    def sources(self) -> tuple[str, ...]:
        """Return every watched source: camera entity ids, then MQTT topics.

        Frigate's cameras are sources too, but only Frigate knows them all: the setup adds
        them (`frigate.async_frigate_sources`).
        """
        return self.cameras + self.mqtt_topics

    @property
    def publish_options(self) -> PublishOptions:
        """Return the engine switches: person data only for the chosen sections."""
        sections = self.person_sections
        return PublishOptions(
            largest_face_only=self.largest_face_only,
            include_person=True,
            include_names="names" in sections,
            include_tags="tags" in sections,
            include_fields="fields" in sections,
            include_addresses="addresses" in sections,
        )

    @property
    def person_fields(self) -> frozenset[str]:
        """Return the event schema's person fields; the display name is always kept."""
        return shared.fields_for(self.person_sections)

    @property
    def policy(self) -> RecognitionPolicy:
        """Return the options as the shared policy, thresholds back in fractions (0..1).

        The form stores thresholds in percent; this is the one place they are converted.
        The minimum face size has no field in the form, so it keeps the shared default; an
        uncertain threshold of 0 % is the policy's "no uncertain band".
        """
        uncertain = self.uncertain_min_confidence
        return RecognitionPolicy(
            largest_face_only=self.largest_face_only,
            min_confidence=shared.from_percent(self.min_confidence),
            uncertain_min_confidence=shared.from_percent(uncertain) if uncertain > 0 else None,
            rules=self.rules,
            min_face_quality=shared.from_percent(self.min_quality),
            cooldown=self.cooldown,
            presence_timeout=self.presence_time,
            person_fields=self.person_fields,
        )
