"""eConnect Identities: face recognition for Home Assistant cameras.

Setup builds one client on HA's shared aiohttp session, checks the engine with a first health
refresh (test-before-setup), learns Frigate's cameras when events mode is on, then forwards the
platforms. Options changes, reauthentication and
reconfiguration all reload the entry through one update listener (reload pattern (a)).
"""

from __future__ import annotations

from homeassistant.const import CONF_URL, CONF_VERIFY_SSL, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.typing import ConfigType

from .const import DOMAIN, ISSUE_MISSING_PERMISSION, ISSUE_TLS_DISABLED, LOGGER
from .coordinator import EconnectHealthCoordinator
from .data import EconnectConfigEntry, EconnectRuntimeData
from .entity import source_device_id, tags_device_id
from .frigate import async_prepare_frigate, async_setup_frigate
from .helpers import async_connection
from .options import EntryOptions
from .recognizer import Recognizer, issue_id
from .services import async_setup_services
from .sources import async_setup_mqtt, async_setup_triggers

PLATFORMS = [Platform.BINARY_SENSOR, Platform.EVENT, Platform.IMAGE, Platform.SENSOR]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the action, whether or not an entry is loaded (action-setup)."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: EconnectConfigEntry) -> bool:
    """Connect to the engine, check it answers, and create the entities."""
    try:
        connection = await async_connection(hass, dict(entry.data))
    except (OSError, ValueError) as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="invalid_connection",
            translation_placeholders={"error": str(err)},
        ) from err
    try:
        options = EntryOptions.from_mapping(entry.options)
    except ValueError as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="invalid_options",
            translation_placeholders={"error": str(err)},
        ) from err
    _async_check_tls(hass, entry)
    coordinator = EconnectHealthCoordinator(hass, entry, connection)
    await coordinator.async_config_entry_first_refresh()
    client = connection.client()
    frigate, frigate_sources = await async_prepare_frigate(hass, entry, options.frigate)
    entry.runtime_data = EconnectRuntimeData(
        connection=connection,
        client=client,
        coordinator=coordinator,
        recognizer=Recognizer(
            hass, entry, client, coordinator, options, extra_sources=frigate_sources
        ),
        frigate=frigate,
    )
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    _async_link_devices(hass, entry)
    async_setup_triggers(hass, entry)
    await async_setup_mqtt(hass, entry)
    await async_setup_frigate(hass, entry)
    entry.async_on_unload(entry.add_update_listener(_async_reload))
    return True


async def async_unload_entry(hass: HomeAssistant, entry: EconnectConfigEntry) -> bool:
    """Unload the platforms; subscriptions and timers go with `async_on_unload`."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: EconnectConfigEntry) -> None:
    """Drop the entry's repair issues with it."""
    for kind in (ISSUE_MISSING_PERMISSION, ISSUE_TLS_DISABLED):
        ir.async_delete_issue(hass, DOMAIN, issue_id(kind, entry.entry_id))


async def _async_reload(hass: HomeAssistant, entry: EconnectConfigEntry) -> None:
    """Reload after options, reauthentication or reconfiguration changed the entry."""
    await hass.config_entries.async_reload(entry.entry_id)


def _async_check_tls(hass: HomeAssistant, entry: EconnectConfigEntry) -> None:
    """Keep a repair issue open while certificate verification is off."""
    tls_issue = issue_id(ISSUE_TLS_DISABLED, entry.entry_id)
    if entry.data.get(CONF_VERIFY_SSL, True) or not entry.data[CONF_URL].startswith("https:"):
        ir.async_delete_issue(hass, DOMAIN, tls_issue)
        return
    LOGGER.warning(
        "TLS certificate verification is off for %s: anyone on the network could impersonate "
        "the engine; set a CA file instead",
        entry.title,
    )
    ir.async_create_issue(
        hass,
        DOMAIN,
        tls_issue,
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key=ISSUE_TLS_DISABLED,
        translation_placeholders={"title": entry.title},
    )


def _async_link_devices(hass: HomeAssistant, entry: EconnectConfigEntry) -> None:
    """Hang camera and tag devices under the engine device; remove those no longer wanted.

    `via_device_id` through the registry works from 2025.4 to 2026.11, unlike
    `DeviceInfo(via_device=…)`, which is deprecated from 2026.8 (stale-devices rule too).
    """
    registry = dr.async_get(hass)
    devices = dr.async_entries_for_config_entry(registry, entry.entry_id)
    engine_ids = {(DOMAIN, entry.entry_id)}
    engine = next((d for d in devices if d.identifiers & engine_ids), None)
    sources = entry.runtime_data.recognizer.states
    wanted = {(DOMAIN, source_device_id(entry.entry_id, s)) for s in sources}
    if entry.runtime_data.recognizer.options.presence_tags:
        wanted.add((DOMAIN, tags_device_id(entry.entry_id)))
    for device in devices:
        if device.identifiers & engine_ids:
            continue
        if not device.identifiers & wanted:
            registry.async_remove_device(device.id)
        elif engine is not None and device.via_device_id != engine.id:
            registry.async_update_device(device.id, via_device_id=engine.id)
