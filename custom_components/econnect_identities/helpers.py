"""Connection building and error mapping: the one place where library errors become HA errors."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import aiohttp
from homeassistant.const import CONF_PASSWORD, CONF_URL, CONF_USERNAME, CONF_VERIFY_SSL
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from econnect_identities import EconnectAuthenticationError, EconnectError
from econnect_identities.aio import AsyncEconnectClient, build_ssl_context

from .const import CONF_CA_FILE, CONNECT_TIMEOUT, DOMAIN, REQUEST_TIMEOUT


@dataclass(frozen=True, slots=True)
class EngineConnection:
    """Everything needed to talk to the engine, and the one client that does it."""

    session: aiohttp.ClientSession
    url: str
    username: str
    password: str = field(repr=False)
    ssl_context: ssl.SSLContext | bool
    _client: AsyncEconnectClient = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Build the client now, so that a URL that is not http(s) fails at setup."""
        client = AsyncEconnectClient(
            self.session,
            self.url,
            username=self.username,
            password=self.password,
            ssl_context=self.ssl_context,
            timeout=REQUEST_TIMEOUT,
            connect_timeout=CONNECT_TIMEOUT,
        )
        object.__setattr__(self, "_client", client)

    def client(self) -> AsyncEconnectClient:
        """Return the connection's client, over HA's shared session.

        The health check and every recognition share it, hence one token: the engine sees a
        sign-in only when that token is missing or refused, not one per caller or per check.
        """
        return self._client


async def async_connection(hass: HomeAssistant, data: dict[str, Any]) -> EngineConnection:
    """Build a connection from entry data.

    Reading a CA file blocks, so the SSL context is built in the executor.

    Raises:
        OSError: the CA file is missing or not a PEM certificate (ssl.SSLError included).
        ValueError: the URL is not an http(s) URL.
    """
    verify_ssl = bool(data.get(CONF_VERIFY_SSL, True))
    ssl_context = await hass.async_add_executor_job(
        partial(build_ssl_context, verify_ssl=verify_ssl, ca_file=data.get(CONF_CA_FILE) or None)
    )
    return EngineConnection(
        session=async_get_clientsession(hass, verify_ssl=verify_ssl),
        url=data[CONF_URL],
        username=data[CONF_USERNAME],
        password=data[CONF_PASSWORD],
        ssl_context=ssl_context,
    )


def engine_error(
    err: EconnectError, kind: type[HomeAssistantError] = HomeAssistantError
) -> HomeAssistantError:
    """Return a translated HA error for a library error; each `.code` is a translation key."""
    return kind(
        translation_domain=DOMAIN,
        translation_key=err.code,
        translation_placeholders={"error": str(err)},
    )


@contextmanager
def engine_errors(
    kind: type[HomeAssistantError] = HomeAssistantError,
    *,
    auth: type[HomeAssistantError] | None = None,
    on_error: Callable[[EconnectError], None] | None = None,
) -> Iterator[None]:
    """Raise every library error of the block as a translated HA error.

    The one mapping of engine errors for the action, the recognizer and the health check, so
    that each shows the same translated message for the same failure.

    Args:
        kind: The HA error to raise, e.g. `UpdateFailed` in a coordinator.
        auth: The HA error to raise instead for a refused password, e.g. `ConfigEntryAuthFailed`
            (which starts reauthentication); None raises `kind` for it too.
        on_error: Called with the library error before raising, for side effects such as a
            repair issue.

    Raises:
        HomeAssistantError: `kind` or `auth`, from the library error.
    """
    try:
        yield
    except EconnectError as err:
        if on_error is not None:
            on_error(err)
        refused = isinstance(err, EconnectAuthenticationError)
        raise engine_error(err, auth if auth is not None and refused else kind) from err
