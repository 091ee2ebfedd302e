"""Diagnostics: settings and last results, with secrets and personal data redacted."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant

from .data import EconnectConfigEntry

# Secrets, the account, and every person detail a recognition event may carry.
TO_REDACT = {
    CONF_PASSWORD,
    CONF_USERNAME,
    "token",
    "person",
    "persons",
    "tags",
    "name",
    "person_id",
    "face_id",
    "detect_id",
    "aliases",
    "fields",
    "addresses",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: EconnectConfigEntry
) -> dict[str, Any]:
    """Return what a bug report needs: settings, engine health and the last result per camera."""
    runtime = entry.runtime_data
    coordinator = runtime.coordinator
    return {
        "entry": {
            "title": entry.title,
            "data": async_redact_data(dict(entry.data), TO_REDACT),
            "options": dict(entry.options),
        },
        "engine": {
            "reachable": coordinator.last_update_success,
            "latency_ms": None if coordinator.data is None else coordinator.data.latency_ms,
            "last_error": None
            if coordinator.last_exception is None
            else repr(coordinator.last_exception),
            "authentications": runtime.client.authentications,
            "renewals": runtime.client.renewals,
        },
        "sources": {
            source: async_redact_data(state.event or {}, TO_REDACT)
            for source, state in runtime.recognizer.states.items()
        },
    }
