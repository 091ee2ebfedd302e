"""Every translation key the code uses exists in translations/en.json, with the bridge's names."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from custom_components.econnect_identities import (
    binary_sensor,
    event,
    image,
    sensor,
)
from econnect_identities import entities, errors, naming

PACKAGE = Path(__file__).resolve().parents[2] / "custom_components" / "econnect_identities"
EN: dict[str, Any] = json.loads((PACKAGE / "translations" / "en.json").read_text())
ICONS: dict[str, Any] = json.loads((PACKAGE / "icons.json").read_text())
SOURCE = "\n".join(p.read_text() for p in PACKAGE.glob("*.py"))


def _descriptions() -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = [
        ("sensor", d) for d in (*sensor.SOURCE_SENSORS, *sensor.ENGINE_SENSORS)
    ]
    found += [("sensor", d) for d in (*sensor.SOURCE_HERE_SENSORS, *sensor.ENTRY_HERE_SENSORS)]
    found += [("binary_sensor", d) for d in binary_sensor.SOURCE_BINARY_SENSORS]
    found += [("binary_sensor", binary_sensor.TAG_PRESENT)]
    found += [("binary_sensor", binary_sensor.API_REACHABLE)]
    found += [("event", event.RECOGNITION), ("image", image.ANNOTATED)]
    found += [("image", image.LAST_UNKNOWN_FACE), ("image", image.PERSON_FACE)]
    return found


def test_entity_names_match_bridge_naming() -> None:
    kinds = {
        value.key: value
        for value in (*vars(naming).values(), *vars(entities).values())
        if isinstance(value, naming.EntityKind)
    }
    for platform, description in _descriptions():
        key = description.translation_key
        assert EN["entity"][platform][key]["name"] == kinds[key].name, key
        assert kinds[key].platform == platform
        assert key in ICONS["entity"][platform], key


def test_event_types_are_translated() -> None:
    states = EN["entity"]["event"]["recognition"]["state_attributes"]["event_type"]["state"]
    assert set(states) == set(naming.EVENT_TYPES)


def test_exception_keys_exist() -> None:
    used = set(re.findall(r'translation_key="([a-z_]+)"', SOURCE))
    used |= set(re.findall(r'_invalid\(\s*"([a-z_]+)"', SOURCE))
    used |= {
        cls.code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.EconnectError)
    }
    used -= {"person_sections"}  # a selector translation key, checked below
    assert used - set(EN["exceptions"]) == set()


def test_config_errors_and_aborts_exist() -> None:
    source = (PACKAGE / "config_flow.py").read_text()
    errors_used = set(re.findall(r'"(?:base|url|ca_file)": "([a-z_]+)"', source))
    errors_used |= set(re.findall(r'\{CONF_(?:URL|CA_FILE): "([a-z_]+)"\}', source))
    assert errors_used
    # The options flow's errors (rules, Frigate's events mode) are in options.error.
    options_errors = set(re.findall(r'\{CONF_(?:FRIGATE_[A-Z_]+|RULES): "([a-z_]+)"\}', source))
    options_errors.update(*re.findall(r'"base": "([a-z_]+)" if \w+ else "([a-z_]+)"', source))
    assert options_errors == set(EN["options"]["error"])
    assert errors_used - set(EN["config"]["error"]) - options_errors == set()
    aborts = set(re.findall(r'reason="([a-z_]+)"', source))
    aborts |= set(re.findall(r'"([a-z_]+_successful)"', source))
    aborts.add("already_configured")
    assert aborts - set(EN["config"]["abort"]) == set()
    for step in ("user", "reauth_confirm", "reconfigure"):
        assert EN["config"]["step"][step]["data"]
        assert set(EN["config"]["step"][step]["data"]) == set(
            EN["config"]["step"][step]["data_description"]
        )
    for step in ("init", "frigate"):
        options = EN["options"]["step"][step]
        assert set(options["data"]) == set(options["data_description"])
    assert set(EN["selector"]["person_sections"]["options"]) == {
        "names",
        "tags",
        "fields",
        "addresses",
    }


def test_issues_exist() -> None:
    for key in ("missing_permission", "tls_verification_disabled"):
        assert {"title", "description"} <= set(EN["issues"][key])


def test_services_are_described() -> None:
    services = yaml.safe_load((PACKAGE / "services.yaml").read_text())
    for name, spec in services.items():
        text = EN["services"][name]
        assert text["name"]
        assert text["description"]
        assert set(spec["fields"]) == set(text["fields"])
        assert name in ICONS["services"]
