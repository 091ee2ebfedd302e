"""Connection building and error mapping: the one place where library errors become HA errors."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import aiohttp
from homeassistant.const import CONF_PASSWORD, CONF_URL, CONF_USERNAME, CONF_VERIFY_SSL
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from econnect_identities import EconnectError
from econnect_identities.aio import AsyncEconnectClient, build_ssl_context

from .const import CONF_CA_FILE, CONNECT_TIMEOUT, DOMAIN, REQUEST_TIMEOUT


@dataclass(frozen=True, slots=True)
class EngineConnection:
    """Everything needed to open a client: kept so the health probe can sign in afresh."""

    session: aiohttp.ClientSession
    url: str
    username: str
    password: str = field(repr=False)
    ssl_context: ssl.SSLContext | bool

    def client(self) -> AsyncEconnectClient:
        """Return a new client with no token, over HA's shared session."""
        return AsyncEconnectClient(
            self.session,
            self.url,
            username=self.username,
            password=self.password,
            ssl_context=self.ssl_context,
            timeout=REQUEST_TIMEOUT,
            connect_timeout=CONNECT_TIMEOUT,
        )


async def async_connection(hass: HomeAssistant, data: dict[str, Any]) -> EngineConnection:
    """Build a connection from entry data.

    Reading a CA file blocks, so the SSL context is built in the executor. Raises OSError
    (including ssl.SSLError) when the CA file is missing or not a PEM certificate, and
    ValueError when the URL is not an http(s) URL.
    """
    verify_ssl = bool(data.get(CONF_VERIFY_SSL, True))
    ssl_context = await hass.async_add_executor_job(
        partial(build_ssl_context, verify_ssl=verify_ssl, ca_file=data.get(CONF_CA_FILE) or None)
    )
    connection = EngineConnection(
        session=async_get_clientsession(hass, verify_ssl=verify_ssl),
        url=data[CONF_URL],
        username=data[CONF_USERNAME],
        password=data[CONF_PASSWORD],
        ssl_context=ssl_context,
    )
    connection.client()  # validates the URL now rather than at the first call
    return connection


def engine_error(err: EconnectError) -> HomeAssistantError:
    """Return a translated HA error for a library error; each `.code` is a translation key."""
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key=err.code,
        translation_placeholders={"error": str(err)},
    )
