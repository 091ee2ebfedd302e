"""Diagnostics: useful for a bug report, with no password, token or personal data."""

from __future__ import annotations

import json

from conftest import PASSWORD, USERNAME
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.econnect_identities.const import DOMAIN


async def test_diagnostics_are_redacted(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, hass_client: ClientSessionGenerator
) -> None:
    hass.config.allowlist_external_dirs = set()
    await hass.services.async_call(
        DOMAIN, "recognize", {"camera_entity_id": ["camera.front_door"]}, blocking=True
    )
    client = loaded_entry.runtime_data.client
    token = client._state.token
    assert token
    dump = await get_diagnostics_for_config_entry(hass, hass_client, loaded_entry)
    text = json.dumps(dump)
    for secret in (PASSWORD, token, "Jane", "0a1b2c3d-4e5f", "Las Vegas", "LoyaltyTier"):
        assert secret not in text
    assert f'"{USERNAME}"' not in text
    assert dump["engine"]["reachable"] is True
    front = dump["sources"]["camera.front_door"]
    assert front["outcome"] == "known"
    assert front["faces"][0]["person"] == "**REDACTED**"
