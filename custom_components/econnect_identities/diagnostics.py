"""Diagnostics: settings and last results, with secrets and personal data redacted."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant

from .const import CONF_FRIGATE_PASSWORD, CONF_FRIGATE_USERNAME, CONF_RULES
from .data import EconnectConfigEntry

# Secrets, the account, and every person detail a recognition event may carry.
TO_REDACT = {
    CONF_PASSWORD,
    CONF_USERNAME,
    CONF_FRIGATE_PASSWORD,
    CONF_FRIGATE_USERNAME,
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
    "candidate",
    CONF_RULES,  # its lines name people
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
            "options": async_redact_data(dict(entry.options), {CONF_RULES}),
        },
        "recognition": _recognition(entry),
        "engine": {
            "reachable": coordinator.last_update_success,
            "latency_ms": None if coordinator.data is None else coordinator.data.latency_ms,
            "last_error": None
            if coordinator.last_exception is None
            else repr(coordinator.last_exception),
            "authentications": runtime.client.authentications,
            "renewals": runtime.client.renewals,
        },
        "frigate": _frigate(entry),
        "sources": {
            source: async_redact_data(state.event or {}, TO_REDACT)
            for source, state in runtime.recognizer.states.items()
        },
    }


def _recognition(entry: EconnectConfigEntry) -> dict[str, Any]:
    """Return how the rules judged faces since setup; the rules are counted, never named."""
    recognizer = entry.runtime_data.recognizer
    rules = recognizer.options.rules
    return {
        "rules": len(rules),
        "exclusions": sum(rule.exclude for rule in rules),
        "faces_excluded": recognizer.faces_excluded,
        "faces_uncertain": recognizer.faces_uncertain,
    }


def _frigate(entry: EconnectConfigEntry) -> dict[str, Any] | None:
    """Return what events mode did, or None when it is off."""
    frigate = entry.runtime_data.frigate
    if frigate is None:
        return None
    return {
        "url": frigate.options.url,
        "followed": frigate.followed,
        "skipped_named": frigate.skipped_named,
        "logins": frigate.client.logins,
        **asdict(frigate.counters),
    }
