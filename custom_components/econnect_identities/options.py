"""The entry's options as one frozen value, with defaults, read once per setup."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from econnect_identities import PublishOptions
from econnect_identities import policy as shared
from econnect_identities.policy import RecognitionPolicy

from .const import (
    CONF_CAMERAS,
    CONF_COOLDOWN,
    CONF_LARGEST_FACE_ONLY,
    CONF_MIN_CONFIDENCE,
    CONF_MIN_QUALITY,
    CONF_MQTT_TOPICS,
    CONF_PERSON_SECTIONS,
    CONF_PRESENCE_TAGS,
    CONF_PRESENCE_TIME,
    CONF_TRIGGERS,
    DEFAULT_COOLDOWN,
    DEFAULT_LARGEST_FACE_ONLY,
    DEFAULT_MIN_CONFIDENCE,
    DEFAULT_MIN_QUALITY,
    DEFAULT_PERSON_SECTIONS,
    DEFAULT_PRESENCE_TIME,
)


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
    cooldown: float = DEFAULT_COOLDOWN
    presence_time: float = DEFAULT_PRESENCE_TIME
    presence_tags: tuple[str, ...] = ()

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
            cooldown=float(options.get(CONF_COOLDOWN, DEFAULT_COOLDOWN)),
            presence_time=float(options.get(CONF_PRESENCE_TIME, DEFAULT_PRESENCE_TIME)),
            presence_tags=tuple(dict.fromkeys(options.get(CONF_PRESENCE_TAGS, ()))),
        )

    @property
    def sources(self) -> tuple[str, ...]:
        """Return every watched source: camera entity ids, then MQTT topics."""
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
        The minimum face size has no field in the form, so it keeps the shared default.
        """
        return RecognitionPolicy(
            largest_face_only=self.largest_face_only,
            min_confidence=shared.from_percent(self.min_confidence),
            min_face_quality=shared.from_percent(self.min_quality),
            cooldown=self.cooldown,
            presence_timeout=self.presence_time,
            person_fields=self.person_fields,
        )
