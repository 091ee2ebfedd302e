"""The recognition policy: one set of defaults and units behind the bridge's configuration."""

from __future__ import annotations

import pytest

from econnect_bridge.config.schema import PERSON_FIELDS, ROOT
from econnect_identities import events
from econnect_identities.entities import ENTITY_TABLE, rows_for
from econnect_identities.policy import (
    DEFAULT_POLICY,
    PERSON_SECTIONS,
    fields_for,
    from_percent,
    sections_for,
    to_percent,
)


def _defaults(section: str) -> dict[str, object]:
    return {key: opt.default for key, opt in ROOT.options[section].check.options.items()}  # type: ignore[attr-defined]


def test_the_bridge_schema_takes_its_defaults_from_the_policy() -> None:
    processing = _defaults("processing")
    assert processing["largest_face_only"] is DEFAULT_POLICY.largest_face_only is True
    assert processing["min_confidence"] == DEFAULT_POLICY.min_confidence == 0.0
    assert processing["min_face_quality"] == DEFAULT_POLICY.min_face_quality == 0.0
    assert processing["min_face_size"] == DEFAULT_POLICY.min_face_size == 0
    assert processing["cooldown"] == DEFAULT_POLICY.cooldown == 30.0
    assert processing["presence_timeout"] == DEFAULT_POLICY.presence_timeout == 60.0
    publish = _defaults("publish")
    assert publish["person_fields"] == ["name", "aliases", "tags"]
    assert frozenset(publish["person_fields"]) == DEFAULT_POLICY.person_fields  # type: ignore[arg-type]
    assert PERSON_FIELDS == events.PERSON_FIELDS


def test_person_sections_and_fields_are_one_vocabulary() -> None:
    assert DEFAULT_POLICY.person_sections == ("names", "tags")
    assert fields_for(("names", "tags")) == DEFAULT_POLICY.person_fields
    assert fields_for(()) == frozenset({"name"})
    assert sections_for(events.PERSON_FIELDS) == PERSON_SECTIONS
    with pytest.raises(ValueError, match="unknown person fields"):
        sections_for(("name", "shoe_size"))


@pytest.mark.parametrize(("fraction", "percent"), [(0.0, 0.0), (0.8, 80.0), (1.0, 100.0)])
def test_percent_is_converted_only_at_the_form(fraction: float, percent: float) -> None:
    assert to_percent(fraction) == percent
    assert from_percent(percent) == pytest.approx(fraction)


def test_the_entity_table_is_well_formed() -> None:
    keys = [(row.scope, row.key) for row in ENTITY_TABLE]
    assert len(keys) == len(set(keys))
    assert set(rows_for("integration")) <= set(rows_for("bridge")) == set(ENTITY_TABLE)
    for row in ENTITY_TABLE:
        assert row.translation_key == row.key
        if row.platform == "binary_sensor":
            assert row.device_class is not None, row.key
