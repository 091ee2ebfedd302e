"""Rules per person and per tag in the integration: the same judgement as the bridge's.

"Family needs 95 %" with an uncertain band from 85 %: Jane close to her reference is known,
a little off is uncertain (in the action's answer, no entity or bus event moves); Bob is
excluded on the garden camera (nothing shown, counted in diagnostics, never named there).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import DEFAULT_OPTIONS, EmulatorProcess, SampleCamera, entry_data
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.econnect_identities.const import (
    CONF_RULES,
    CONF_UNCERTAIN_CONFIDENCE,
    DOMAIN,
    EVENT_FACE,
)
from econnect_identities.schemas import validate_payload

RULES = ["tag Family: 95", "person Bob Smith: exclude @ camera.garden"]
RULE_OPTIONS = {**DEFAULT_OPTIONS, CONF_RULES: RULES, CONF_UNCERTAIN_CONFIDENCE: 85}


def jane_a_little_off(folder: Path) -> str:
    """Jane's face 30 colour levels off her reference (the emulator answers about 0.9)."""
    from econnect_bridge.emulator.imagegen import SAMPLE_COLOURS, make_snapshot

    red, green, blue = SAMPLE_COLOURS["jane"]
    path = folder / "jane_off.jpg"
    path.write_bytes(make_snapshot([(red, green, blue + 30)]))
    return str(path)  # absolute: the sample camera serves it instead of a sample


async def recognize(hass: HomeAssistant, camera: str) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN, "recognize", {"camera_entity_id": [camera]}, blocking=True, return_response=True
    )
    assert response is not None
    [result] = response["results"]  # type: ignore[call-overload]
    return dict(result)


def _face_events(hass: HomeAssistant) -> list[Event]:
    events: list[Event] = []

    @callback
    def _listen(event: Event) -> None:
        events.append(event)

    hass.bus.async_listen(EVENT_FACE, _listen)
    return events


@pytest.mark.parametrize("options", [RULE_OPTIONS])
async def test_uncertain_then_known_by_the_family_rule(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    cameras: dict[str, SampleCamera],
    tmp_path: Path,
) -> None:
    events = _face_events(hass)
    recognizer = loaded_entry.runtime_data.recognizer
    cameras["camera.front_door"].image = jane_a_little_off(tmp_path)
    uncertain = await recognize(hass, "camera.front_door")
    await hass.async_block_till_done()
    validate_payload("recognition", uncertain)
    assert (uncertain["outcome"], uncertain["uncertain_count"]) == ("uncertain", 1)
    [face] = uncertain["faces"]
    assert (face["known"], face["person"], face["rule"]) == (False, None, "tag:Family")
    assert face["candidate"]["name"] == "Jane Doe"
    assert recognizer.states["camera.front_door"].result is None  # no entity moved
    assert events == []
    cameras["camera.front_door"].image = "jane.jpg"
    known = await recognize(hass, "camera.front_door")
    await hass.async_block_till_done()
    assert (known["outcome"], known["rule"]) == ("known", "tag:Family")
    assert recognizer.states["camera.front_door"].result is not None
    [event] = events
    assert (event.data["name"], event.data["rule"]) == ("Jane Doe", "tag:Family")


@pytest.mark.parametrize("options", [RULE_OPTIONS])
async def test_an_excluded_person_is_never_shown_on_that_camera(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    cameras: dict[str, SampleCamera],
    hass_client: ClientSessionGenerator,
) -> None:
    events = _face_events(hass)
    recognizer = loaded_entry.runtime_data.recognizer
    cameras["camera.garden"].image = "bob.png"
    garden = await recognize(hass, "camera.garden")
    await hass.async_block_till_done()
    assert (garden["face_count"], garden["persons"], garden["faces"]) == (0, [], [])
    assert recognizer.states["camera.garden"].result is None
    assert events == []
    cameras["camera.front_door"].image = "bob.png"  # not excluded at the front door
    front = await recognize(hass, "camera.front_door")
    await hass.async_block_till_done()
    assert front["persons"] == ["Bob Smith"]
    assert [e.data["name"] for e in events] == ["Bob Smith"]
    hass.config.allowlist_external_dirs = set()
    dump = await get_diagnostics_for_config_entry(hass, hass_client, loaded_entry)
    assert dump["recognition"] == {
        "rules": 2,
        "exclusions": 1,
        "faces_excluded": 1,
        "faces_uncertain": 0,
    }
    assert "Bob" not in json.dumps({**dump, "sources": {}})


async def test_options_flow_checks_the_rules(
    hass: HomeAssistant, emulator: EmulatorProcess
) -> None:
    entry = MockConfigEntry(domain=DOMAIN, title="127.0.0.1", data=entry_data(emulator))
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    fields = {str(key) for key in result["data_schema"].schema}
    assert {CONF_RULES, CONF_UNCERTAIN_CONFIDENCE} <= fields
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_RULES: ["Family 95"]}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_RULES: "invalid_rules"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_RULES: RULES, CONF_UNCERTAIN_CONFIDENCE: 85}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_RULES] == RULES
    assert entry.options[CONF_UNCERTAIN_CONFIDENCE] == 85
