"""Config flow: set up, reauthenticate and reconfigure around one credential check; options."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import voluptuous as vol
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.const import CONF_PASSWORD, CONF_URL, CONF_USERNAME, CONF_VERIFY_SSL
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import selector

from econnect_identities import (
    EconnectAuthenticationError,
    EconnectConnectionError,
    EconnectError,
    EconnectPermissionError,
    EconnectStrictTLSError,
    EconnectTLSError,
)

from .const import (
    CONF_CA_FILE,
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
    DOMAIN,
    LOGGER,
    PERSON_SECTIONS,
)
from .helpers import async_connection

_TEXT = selector.TextSelector()
_URL = selector.TextSelector(selector.TextSelectorConfig(type=selector.TextSelectorType.URL))
_PASSWORD = selector.TextSelector(
    selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD)
)
_CONNECTION_FIELDS: dict[vol.Marker, Any] = {
    vol.Required(CONF_URL): _URL,
    vol.Required(CONF_VERIFY_SSL, default=True): selector.BooleanSelector(),
    vol.Optional(CONF_CA_FILE): _TEXT,
}
USER_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_URL): _URL,
        vol.Required(CONF_USERNAME): _TEXT,
        vol.Required(CONF_PASSWORD): _PASSWORD,
        **{key: value for key, value in _CONNECTION_FIELDS.items() if key != CONF_URL},
    }
)
RECONFIGURE_SCHEMA = vol.Schema(_CONNECTION_FIELDS)
REAUTH_SCHEMA = vol.Schema({vol.Required(CONF_PASSWORD): _PASSWORD})


#: The form error of each library error, most specific first (a strict TLS error is also a
#: TLS error, which is also a connection error); any other library error is `engine_error`.
FORM_ERRORS: tuple[tuple[type[EconnectError], str], ...] = (
    (EconnectStrictTLSError, "tls_strict"),
    (EconnectTLSError, "tls_error"),
    (EconnectAuthenticationError, "invalid_auth"),
    (EconnectPermissionError, "missing_permission"),
    (EconnectConnectionError, "cannot_connect"),
)


def form_error(err: EconnectError) -> str:
    """Return the form's error key for a library error that stopped the sign-in."""
    return next((key for kind, key in FORM_ERRORS if isinstance(err, kind)), "engine_error")


def entry_unique_id(url: str, username: str) -> str:
    """Return the id that stops the same server and account from being added twice."""
    return f"{url}|{username}".lower()


async def _async_validate_input(
    hass: HomeAssistant, data: dict[str, Any]
) -> tuple[dict[str, str], str | None]:
    """Sign in with `data`; return (errors, normalised URL).

    Signing in is the whole check: probing Face Publishing would need a publish, which
    creates a detection on the engine. A missing permission surfaces as a repair on the
    first recognition instead (see quality_scale.yaml, test-before-configure).
    """
    try:
        client = (await async_connection(hass, data)).client()
    except ValueError:
        return {CONF_URL: "invalid_url"}, None
    except OSError:
        return {CONF_CA_FILE: "invalid_ca_file"}, None
    try:
        await client.authenticate()
    except EconnectError as err:
        if isinstance(err, EconnectStrictTLSError):
            # The form can only say "strict verification"; the log names the missing extension.
            LOGGER.warning("%s", err)
        return {"base": form_error(err)}, None
    except Exception:  # noqa: BLE001 - the flow must show an error, never a traceback
        LOGGER.exception("Unexpected error while signing in to the engine")
        return {"base": "unknown"}, None
    return {}, client.base_url


def _clean(user_input: dict[str, Any]) -> dict[str, Any]:
    """Drop an empty CA file path so that "no CA file" is stored one way."""
    data = dict(user_input)
    if not str(data.get(CONF_CA_FILE) or "").strip():
        data.pop(CONF_CA_FILE, None)
    return data


class EconnectConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add an engine and account; the credentials are checked before anything is saved."""

    VERSION = 1

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> EconnectOptionsFlow:
        """Return the options flow (constructed without arguments, as 2025.12+ requires)."""
        return EconnectOptionsFlow()

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the engine's URL and the account."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _clean(user_input)
            errors, url = await _async_validate_input(self.hass, data)
            if url is not None:
                await self.async_set_unique_id(entry_unique_id(url, data[CONF_USERNAME]))
                self._abort_if_unique_id_configured()
                title = urlsplit(url).hostname or url
                return self.async_create_entry(title=title, data={**data, CONF_URL: url})
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(USER_SCHEMA, user_input),
            errors=errors,
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Start reauthentication: the engine refused the stored password."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the new password of the same account."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**entry.data, CONF_PASSWORD: user_input[CONF_PASSWORD]}
            errors, _url = await _async_validate_input(self.hass, data)
            if not errors:
                return self._async_update_and_abort(entry, "reauth_successful", data=data)
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=REAUTH_SCHEMA,
            errors=errors,
            description_placeholders={
                CONF_USERNAME: entry.data[CONF_USERNAME],
                CONF_URL: entry.data[CONF_URL],
            },
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the URL or TLS settings of an entry without deleting it."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**entry.data, CONF_CA_FILE: None, **_clean(user_input)}
            data = _clean(data)
            errors, url = await _async_validate_input(self.hass, data)
            if url is not None:
                unique_id = entry_unique_id(url, data[CONF_USERNAME])
                other = self.hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, unique_id)
                if other is not None and other.entry_id != entry.entry_id:
                    return self.async_abort(reason="already_configured")
                return self._async_update_and_abort(
                    entry,
                    "reconfigure_successful",
                    data={**data, CONF_URL: url},
                    unique_id=unique_id,
                    title=urlsplit(url).hostname or url,
                )
        suggested = user_input if user_input is not None else dict(entry.data)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(RECONFIGURE_SCHEMA, suggested),
            errors=errors,
        )

    def _async_update_and_abort(
        self, entry: ConfigEntry, reason: str, **changes: Any
    ) -> ConfigFlowResult:
        """Store the changes and finish (reload pattern (a) of the compatibility notes).

        A loaded entry reloads through its update listener; an entry whose setup failed has
        no listener, so it is reloaded here. `async_update_reload_and_abort` is avoided: it
        must not be combined with an update listener from 2026.6.
        """
        self.hass.config_entries.async_update_entry(entry, **changes)
        if entry.state is not ConfigEntryState.LOADED:
            self.hass.config_entries.async_schedule_reload(entry.entry_id)
        return self.async_abort(reason=reason)


def _options_schema(with_mqtt: bool) -> vol.Schema:
    """Build the options form; MQTT topics only appear when MQTT is set up."""
    seconds = selector.NumberSelectorConfig(
        min=0, max=3600, step=1, unit_of_measurement="s", mode=selector.NumberSelectorMode.BOX
    )
    percent = selector.NumberSelectorConfig(
        min=0, max=100, step=1, unit_of_measurement="%", mode=selector.NumberSelectorMode.SLIDER
    )
    fields: dict[vol.Marker, Any] = {
        vol.Optional(CONF_CAMERAS, default=[]): selector.EntitySelector(
            selector.EntitySelectorConfig(domain="camera", multiple=True)
        ),
        vol.Optional(CONF_TRIGGERS, default=[]): selector.EntitySelector(
            selector.EntitySelectorConfig(domain="binary_sensor", multiple=True)
        ),
    }
    if with_mqtt:
        fields[vol.Optional(CONF_MQTT_TOPICS, default=[])] = selector.TextSelector(
            selector.TextSelectorConfig(multiple=True)
        )
    fields.update(
        {
            vol.Required(
                CONF_LARGEST_FACE_ONLY, default=DEFAULT_LARGEST_FACE_ONLY
            ): selector.BooleanSelector(),
            vol.Optional(
                CONF_PERSON_SECTIONS, default=DEFAULT_PERSON_SECTIONS
            ): selector.SelectSelector(
                selector.SelectSelectorConfig(
                    options=list(PERSON_SECTIONS),
                    multiple=True,
                    translation_key=CONF_PERSON_SECTIONS,
                    mode=selector.SelectSelectorMode.LIST,
                )
            ),
            vol.Required(CONF_MIN_CONFIDENCE, default=DEFAULT_MIN_CONFIDENCE): (
                selector.NumberSelector(percent)
            ),
            vol.Required(CONF_MIN_QUALITY, default=DEFAULT_MIN_QUALITY): (
                selector.NumberSelector(percent)
            ),
            vol.Required(CONF_COOLDOWN, default=DEFAULT_COOLDOWN): selector.NumberSelector(seconds),
            vol.Required(CONF_PRESENCE_TIME, default=DEFAULT_PRESENCE_TIME): (
                selector.NumberSelector(seconds)
            ),
            vol.Optional(CONF_PRESENCE_TAGS, default=[]): selector.TextSelector(
                selector.TextSelectorConfig(multiple=True)
            ),
        }
    )
    return vol.Schema(fields)


class EconnectOptionsFlow(OptionsFlow):
    """Choose what to watch and how to judge results; saving reloads the entry."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show the one options form."""
        if user_input is not None:
            return self.async_create_entry(data=user_input)
        schema = _options_schema("mqtt" in self.hass.config.components)
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(schema, self.config_entry.options),
        )
