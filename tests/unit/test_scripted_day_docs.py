"""The docs' "A day at the door" is the day both front ends' Home Assistant tests play.

`tests/support/scripted_day.py` holds the steps and what a user sees after each; the tests in
`tests/ha/test_scripted_day_*.py` check the bridge and the integration against it. Here the
tables and the configuration shown in docs/home-assistant.md and docs/mqtt.md are compared
with it line by line, so an edit of either side that the other does not follow fails.
"""

from __future__ import annotations

import json
from pathlib import Path

from econnect_identities.rules import FaceRule
from tests.support.scripted_day import (
    BRIDGE_YAML,
    CAMERAS,
    DAY,
    INTEGRATION_OPTIONS,
    PRESENCE_PERSONS,
    PRESENCE_TAGS,
    bridge_config,
    ha_table,
    mqtt_table,
    options_table,
)

REPO = Path(__file__).resolve().parents[2]
HEADING = "## A day at the door"


def _section(name: str) -> list[str]:
    """The lines of the doc's "A day at the door" section, up to the next section."""
    lines = (REPO / "docs" / name).read_text(encoding="utf-8").splitlines()
    start = lines.index(HEADING)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return lines[start:end]


def _table(section: list[str], header: str) -> list[str]:
    """The table of `section` that starts with `header`, every row of it."""
    assert header in section, f"no table headed {header!r}"
    start = section.index(header)
    end = next(
        (i for i in range(start, len(section)) if not section[i].startswith("|")), len(section)
    )
    return section[start:end]


def _option_labels() -> dict[str, str]:
    path = REPO / "custom_components" / "econnect_identities" / "translations" / "en.json"
    labels: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))["options"]["step"][
        "init"
    ]["data"]
    return labels


def test_home_assistant_md_shows_the_day_the_integration_plays() -> None:
    section = _section("home-assistant.md")
    expected = ha_table().splitlines()
    assert _table(section, expected[0]) == expected
    assert len(expected) == 2 + len(DAY)
    options = options_table(_option_labels()).splitlines()
    assert _table(section, options[0]) == options


def test_mqtt_md_shows_the_day_the_bridge_plays() -> None:
    section = _section("mqtt.md")
    expected = mqtt_table().splitlines()
    assert _table(section, expected[0]) == expected
    start = section.index("```yaml")
    end = section.index("```", start + 1)
    assert "\n".join(section[start + 1 : end]) + "\n" == BRIDGE_YAML


def test_both_front_ends_are_configured_for_the_same_day(tmp_path: Path) -> None:
    """The bridge's configuration and the integration's options say the same thing."""
    config = bridge_config(tmp_path)
    processing = config.processing
    options = INTEGRATION_OPTIONS
    assert round(processing.camera_defaults.min_confidence * 100) == options["min_confidence"]
    uncertain = processing.camera_defaults.uncertain_min_confidence
    assert uncertain is not None
    assert round(uncertain * 100) == options["uncertain_min_confidence"]
    assert processing.camera_defaults.largest_face_only is options["largest_face_only"]
    assert (processing.cooldown, processing.presence_timeout) == (
        options["cooldown"],
        options["presence_time"],
    )
    assert config.rules == (
        FaceRule(tag="Family", min_confidence=0.9),
        FaceRule(tag="VIP", min_confidence=0.8),
        FaceRule(tag="Staff", exclude=True),
    )
    assert options["rules"] == ["tag Family: 90", "tag VIP: 80", "tag Staff: exclude"]
    assert tuple(c.name for c in config.cameras) == CAMERAS
    assert options["cameras"] == [f"camera.{camera}" for camera in CAMERAS]
    assert (config.homeassistant.persons, config.homeassistant.tags) == (
        PRESENCE_PERSONS,
        PRESENCE_TAGS,
    )
    assert options["presence_tags"] == list(PRESENCE_TAGS)
