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
from econnect_identities.frigate_http import FrigateApiError

from .const import (
    CONF_CA_FILE,
    CONF_CAMERAS,
    CONF_COOLDOWN,
    CONF_FACE_PICTURES,
    CONF_FRIGATE_CAMERAS,
    CONF_FRIGATE_CONFIDENT_SCORE,
    CONF_FRIGATE_LABELS,
    CONF_FRIGATE_MAX_ATTEMPTS,
    CONF_FRIGATE_MAX_SECONDS,
    CONF_FRIGATE_OVERWRITE_SUB_LABEL,
    CONF_FRIGATE_PASSWORD,
    CONF_FRIGATE_POLL_INTERVAL,
    CONF_FRIGATE_PREFIX,
    CONF_FRIGATE_SKIP_NAMED,
    CONF_FRIGATE_SUB_LABEL_MIN_SCORE,
    CONF_FRIGATE_URL,
    CONF_FRIGATE_USERNAME,
    CONF_FRIGATE_WRITE_SUB_LABEL,
    CONF_FRIGATE_ZONES,
    CONF_LARGEST_FACE_ONLY,
    CONF_MIN_CONFIDENCE,
    CONF_MIN_QUALITY,
    CONF_MQTT_TOPICS,
    CONF_PERSON_SECTIONS,
    CONF_PRESENCE_TAGS,
    CONF_PRESENCE_TIME,
    CONF_RULES,
    CONF_TRIGGERS,
    CONF_UNCERTAIN_CONFIDENCE,
    DEFAULT_COOLDOWN,
    DEFAULT_FACE_PICTURES,
    DEFAULT_FRIGATE_CONFIDENT_SCORE,
    DEFAULT_FRIGATE_LABELS,
    DEFAULT_FRIGATE_MAX_ATTEMPTS,
    DEFAULT_FRIGATE_MAX_SECONDS,
    DEFAULT_FRIGATE_OVERWRITE_SUB_LABEL,
    DEFAULT_FRIGATE_POLL_INTERVAL,
    DEFAULT_FRIGATE_PREFIX,
    DEFAULT_FRIGATE_SKIP_NAMED,
    DEFAULT_FRIGATE_SUB_LABEL_MIN_SCORE,
    DEFAULT_FRIGATE_WRITE_SUB_LABEL,
    DEFAULT_LARGEST_FACE_ONLY,
    DEFAULT_MIN_CONFIDENCE,
    DEFAULT_MIN_QUALITY,
    DEFAULT_PERSON_SECTIONS,
    DEFAULT_PRESENCE_TIME,
    DEFAULT_UNCERTAIN_CONFIDENCE,
    DOMAIN,
    LOGGER,
    PERSON_SECTIONS,
)
from .frigate import frigate_client, frigate_session
from .helpers import async_connection
from .options import FrigateOptions, parse_rules, parse_zones

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
            vol.Required(CONF_UNCERTAIN_CONFIDENCE, default=DEFAULT_UNCERTAIN_CONFIDENCE): (
                selector.NumberSelector(percent)
            ),
            vol.Optional(CONF_RULES, default=[]): selector.TextSelector(
                selector.TextSelectorConfig(multiple=True)
            ),
            vol.Required(CONF_COOLDOWN, default=DEFAULT_COOLDOWN): selector.NumberSelector(seconds),
            vol.Required(CONF_PRESENCE_TIME, default=DEFAULT_PRESENCE_TIME): (
                selector.NumberSelector(seconds)
            ),
            vol.Optional(CONF_PRESENCE_TAGS, default=[]): selector.TextSelector(
                selector.TextSelectorConfig(multiple=True)
            ),
            vol.Required(
                CONF_FACE_PICTURES, default=DEFAULT_FACE_PICTURES
            ): selector.BooleanSelector(),
        }
    )
    return vol.Schema(fields)


def _frigate_schema() -> vol.Schema:
    """Build the events-mode form; its defaults are the core's `FollowPolicy()`."""
    seconds = selector.NumberSelectorConfig(
        min=0, max=600, step=0.5, unit_of_measurement="s", mode=selector.NumberSelectorMode.BOX
    )
    percent = selector.NumberSelectorConfig(
        min=1, max=100, step=1, unit_of_measurement="%", mode=selector.NumberSelectorMode.SLIDER
    )
    attempts = selector.NumberSelectorConfig(min=1, max=20, step=1)
    texts = selector.TextSelector(selector.TextSelectorConfig(multiple=True))
    return vol.Schema(
        {
            vol.Optional(CONF_FRIGATE_URL): _URL,
            vol.Optional(CONF_FRIGATE_USERNAME): _TEXT,
            vol.Optional(CONF_FRIGATE_PASSWORD): _PASSWORD,
            vol.Optional(CONF_FRIGATE_PREFIX, default=DEFAULT_FRIGATE_PREFIX): _TEXT,
            vol.Optional(CONF_FRIGATE_CAMERAS, default=[]): texts,
            vol.Optional(CONF_FRIGATE_LABELS, default=DEFAULT_FRIGATE_LABELS): texts,
            vol.Optional(CONF_FRIGATE_ZONES, default=[]): texts,
            vol.Required(CONF_FRIGATE_MAX_ATTEMPTS, default=DEFAULT_FRIGATE_MAX_ATTEMPTS): (
                selector.NumberSelector(attempts)
            ),
            vol.Required(CONF_FRIGATE_MAX_SECONDS, default=DEFAULT_FRIGATE_MAX_SECONDS): (
                selector.NumberSelector(seconds)
            ),
            vol.Required(CONF_FRIGATE_POLL_INTERVAL, default=DEFAULT_FRIGATE_POLL_INTERVAL): (
                selector.NumberSelector(seconds)
            ),
            vol.Required(
                CONF_FRIGATE_CONFIDENT_SCORE, default=DEFAULT_FRIGATE_CONFIDENT_SCORE
            ): selector.NumberSelector(percent),
            vol.Required(
                CONF_FRIGATE_WRITE_SUB_LABEL, default=DEFAULT_FRIGATE_WRITE_SUB_LABEL
            ): selector.BooleanSelector(),
            vol.Required(
                CONF_FRIGATE_SUB_LABEL_MIN_SCORE, default=DEFAULT_FRIGATE_SUB_LABEL_MIN_SCORE
            ): selector.NumberSelector(percent),
            vol.Required(
                CONF_FRIGATE_OVERWRITE_SUB_LABEL, default=DEFAULT_FRIGATE_OVERWRITE_SUB_LABEL
            ): selector.BooleanSelector(),
            vol.Required(CONF_FRIGATE_SKIP_NAMED, default=DEFAULT_FRIGATE_SKIP_NAMED): (
                selector.BooleanSelector()
            ),
        }
    )


_FRIGATE_CREDENTIALS = (CONF_FRIGATE_USERNAME, CONF_FRIGATE_PASSWORD)


def _rule_errors(user_input: Mapping[str, Any]) -> dict[str, str]:
    """Check the rules lines of the main form (the same rules the bridge's `rules:` holds)."""
    try:
        parse_rules(user_input.get(CONF_RULES, ()))
    except ValueError:
        return {CONF_RULES: "invalid_rules"}
    return {}


def _frigate_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Return the events-mode part of stored options (kept when the Frigate form is skipped)."""
    return {key: value for key, value in options.items() if key.startswith("frigate_")}


async def _async_validate_frigate(
    hass: HomeAssistant, data: Mapping[str, Any], user_input: Mapping[str, Any]
) -> tuple[dict[str, str], dict[str, str]]:
    """Check the events-mode form; return (errors, Frigate credentials for the entry data).

    An empty password keeps the stored one, so the form never has to show it. With a URL,
    Frigate is asked its version (with a login when a user is given), the cheapest call that
    proves the address and the account, and, when names are to be written back, whether the
    user may write them (a probe Frigate refuses either way, so nothing is written).
    """
    username = str(user_input.get(CONF_FRIGATE_USERNAME) or "").strip()
    password = str(user_input.get(CONF_FRIGATE_PASSWORD) or data.get(CONF_FRIGATE_PASSWORD) or "")
    credentials = {CONF_FRIGATE_USERNAME: username, CONF_FRIGATE_PASSWORD: password}
    if not username:
        credentials = {}
    elif not password:
        return {CONF_FRIGATE_PASSWORD: "frigate_password_missing"}, {}
    try:
        parse_zones(user_input.get(CONF_FRIGATE_ZONES, ()))
    except ValueError:
        return {CONF_FRIGATE_ZONES: "invalid_zones"}, {}
    try:
        options = FrigateOptions.from_mapping(user_input)
    except ValueError:
        return {CONF_FRIGATE_URL: "invalid_frigate_url"}, {}
    if options is None:
        return {}, credentials
    session = frigate_session(hass, auto_cleanup=False)
    try:
        client = frigate_client(session, credentials, options)
        await client.version()
        writable = not options.follow.write_sub_label or await client.can_write_sub_labels()
    except FrigateApiError as err:
        auth = err.code in {"frigate_auth_failed", "frigate_forbidden"}
        return {"base": "frigate_invalid_auth" if auth else "frigate_cannot_connect"}, {}
    finally:
        session.detach()
    if not writable:
        return {CONF_FRIGATE_WRITE_SUB_LABEL: "frigate_cannot_write"}, {}
    return {}, credentials


class EconnectOptionsFlow(OptionsFlow):
    """Choose what to watch and how to judge results, then Frigate's events mode."""

    def __init__(self) -> None:
        self._options: dict[str, Any] = {}

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show the main options form; Frigate's form follows when MQTT is set up."""
        with_mqtt = "mqtt" in self.hass.config.components
        errors = {} if user_input is None else _rule_errors(user_input)
        if user_input is not None and not errors:
            self._options = {**_frigate_options(self.config_entry.options), **user_input}
            if not with_mqtt:
                return self.async_create_entry(data=self._options)
            return await self.async_step_frigate()
        schema = _options_schema(with_mqtt)
        suggested = self.config_entry.options if user_input is None else user_input
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            errors=errors,
        )

    async def async_step_frigate(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the events-mode form; the Frigate login goes to the entry data, not options."""
        entry = self.config_entry
        errors: dict[str, str] = {}
        if user_input is not None:
            errors, credentials = await _async_validate_frigate(self.hass, entry.data, user_input)
            if not errors:
                self._store_credentials(credentials)
                options = {k: v for k, v in user_input.items() if k not in _FRIGATE_CREDENTIALS}
                return self.async_create_entry(data={**self._options, **options})
        suggested = dict(user_input or entry.options)
        if user_input is None and CONF_FRIGATE_USERNAME in entry.data:
            suggested[CONF_FRIGATE_USERNAME] = entry.data[CONF_FRIGATE_USERNAME]
        suggested.pop(CONF_FRIGATE_PASSWORD, None)  # never sent back to the browser
        return self.async_show_form(
            step_id="frigate",
            data_schema=self.add_suggested_values_to_schema(_frigate_schema(), suggested),
            errors=errors,
        )

    def _store_credentials(self, credentials: dict[str, str]) -> None:
        """Keep Frigate's user and password with the engine's, in the entry data."""
        entry = self.config_entry
        data = {k: v for k, v in entry.data.items() if k not in _FRIGATE_CREDENTIALS}
        data.update(credentials)
        if data != dict(entry.data):
            self.hass.config_entries.async_update_entry(entry, data=data)
