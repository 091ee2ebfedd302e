"""Setup, unload, reload, availability, reauth and repairs of an entry against the emulator."""

from __future__ import annotations

import logging

import pytest
from conftest import USERNAME, EmulatorProcess, SampleCamera, advance
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import CONF_URL, CONF_VERIFY_SSL, STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.econnect_identities.const import CONF_CA_FILE, CONF_CAMERAS, DOMAIN

REACHABLE = "binary_sensor.econnect_identities_127_0_0_1_api_reachable"
LAST_PERSON = "sensor.front_door_last_person"


async def test_setup_unload_reload(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    assert loaded_entry.state is ConfigEntryState.LOADED
    assert hass.states.get(REACHABLE).state == STATE_ON
    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert loaded_entry.state is ConfigEntryState.LOADED
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert loaded_entry.state is ConfigEntryState.NOT_LOADED
    assert hass.services.has_service(DOMAIN, "recognize")  # action-setup: stays registered


async def test_devices_hang_under_the_engine(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    registry = dr.async_get(hass)
    devices = dr.async_entries_for_config_entry(registry, loaded_entry.entry_id)
    engine = next(d for d in devices if (DOMAIN, loaded_entry.entry_id) in d.identifiers)
    cameras = [d for d in devices if d.id != engine.id]
    assert sorted(d.name for d in cameras) == ["Front door", "Garden", "Tag presence"]
    assert all(d.via_device_id == engine.id for d in cameras)
    assert engine.entry_type is dr.DeviceEntryType.SERVICE


async def test_options_change_reloads_and_removes_stale_devices(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    hass.config_entries.async_update_entry(
        loaded_entry, options={**loaded_entry.options, CONF_CAMERAS: ["camera.front_door"]}
    )
    await hass.async_block_till_done()
    assert loaded_entry.state is ConfigEntryState.LOADED
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), loaded_entry.entry_id)
    assert sorted(d.name for d in devices) == [
        "Front door",
        "Tag presence",
        "eConnect Identities 127.0.0.1",
    ]
    assert hass.states.get("sensor.garden_last_person") is None


async def test_engine_down_at_start_retries(
    hass: HomeAssistant, cameras: dict[str, SampleCamera], config_entry: MockConfigEntry
) -> None:
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, CONF_URL: "http://127.0.0.1:9"}
    )
    await hass.config_entries.async_setup(config_entry.entry_id)
    assert config_entry.state is ConfigEntryState.SETUP_RETRY


async def test_bad_ca_file_is_a_setup_error(
    hass: HomeAssistant, cameras: dict[str, SampleCamera], config_entry: MockConfigEntry
) -> None:
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, CONF_CA_FILE: "/nonexistent.pem"}
    )
    await hass.config_entries.async_setup(config_entry.entry_id)
    assert config_entry.state is ConfigEntryState.SETUP_ERROR


async def test_wrong_password_at_start_asks_to_reauthenticate(
    hass: HomeAssistant,
    emulator: EmulatorProcess,
    cameras: dict[str, SampleCamera],
    config_entry: MockConfigEntry,
) -> None:
    emulator.admin("users", {"username": USERNAME, "password": "changed"})
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == [SOURCE_REAUTH]
    # The user types the new password: the entry comes back without a restart.
    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"], {"password": "changed"}
    )
    await hass.async_block_till_done()
    assert result["reason"] == "reauth_successful"
    assert config_entry.state is ConfigEntryState.LOADED
    await hass.config_entries.async_unload(config_entry.entry_id)


async def test_health_checks_renew_the_token_instead_of_signing_in(
    hass: HomeAssistant, emulator: EmulatorProcess, loaded_entry: MockConfigEntry
) -> None:
    """Checks and recognitions share one token: the setup's sign-in is the only one."""
    for _ in range(5):
        await advance(hass, 61)
    await hass.services.async_call(
        DOMAIN, "recognize", {"camera_entity_id": ["camera.front_door"]}, blocking=True
    )
    stats = emulator.stats()
    assert stats["authentications"] == 1
    assert stats["renewals"] == 6  # the setup's check and five more
    assert stats["requests"]["renewToken"] == {"200": 6}
    assert hass.states.get(REACHABLE).state == STATE_ON
    client = loaded_entry.runtime_data.client
    assert (client.authentications, client.renewals) == (1, 6)


async def test_refused_token_signs_in_again_without_reauth(
    hass: HomeAssistant, emulator: EmulatorProcess, loaded_entry: MockConfigEntry
) -> None:
    emulator.restart()  # a new signing key: the held token is refused with 401
    await advance(hass, 61)
    stats = emulator.stats()
    assert stats["requests"]["renewToken"] == {"401": 1, "200": 1}
    assert (stats["authentications"], stats["renewals"]) == (1, 1)
    assert hass.states.get(REACHABLE).state == STATE_ON
    assert hass.config_entries.flow.async_progress_by_handler(DOMAIN) == []


async def test_password_change_while_running_starts_reauth(
    hass: HomeAssistant,
    emulator: EmulatorProcess,
    loaded_entry: MockConfigEntry,
) -> None:
    """The password is checked when the engine stops honouring the held token."""
    emulator.restart()  # the engine refuses the tokens issued before the change
    emulator.admin("users", {"username": USERNAME, "password": "changed"})
    await advance(hass, 61)
    assert emulator.stats()["authentication_failures"] == 1
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == [SOURCE_REAUTH]
    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"], {"password": "changed"}
    )
    await hass.async_block_till_done()
    assert result["reason"] == "reauth_successful"
    assert loaded_entry.state is ConfigEntryState.LOADED


async def test_unavailable_and_back_logs_once_each(
    hass: HomeAssistant,
    emulator: EmulatorProcess,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="custom_components.econnect_identities")
    emulator.stop()
    for _ in range(3):  # three failed health checks: still one log line
        await advance(hass, 61)
    assert hass.states.get(LAST_PERSON).state == STATE_UNAVAILABLE
    assert hass.states.get(REACHABLE).state == STATE_OFF
    emulator.start()
    await advance(hass, 61)
    assert hass.states.get(LAST_PERSON).state != STATE_UNAVAILABLE
    assert hass.states.get(REACHABLE).state == STATE_ON
    ours = [r for r in caplog.records if r.name == "custom_components.econnect_identities"]
    assert len([r for r in ours if r.levelno == logging.ERROR]) == 1
    assert len([r for r in ours if "recovered" in r.getMessage()]) == 1


async def test_tls_verification_off_raises_a_repair(
    hass: HomeAssistant, cameras: dict[str, SampleCamera], config_entry: MockConfigEntry
) -> None:
    """The repair is for https only; the emulator speaks http, so setup itself retries."""
    https_url = config_entry.data[CONF_URL].replace("http:", "https:")
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, CONF_VERIFY_SSL: False, CONF_URL: https_url}
    )
    await hass.config_entries.async_setup(config_entry.entry_id)
    issue_id = f"tls_verification_disabled_{config_entry.entry_id}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "tls_verification_disabled"
    await hass.config_entries.async_remove(config_entry.entry_id)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
