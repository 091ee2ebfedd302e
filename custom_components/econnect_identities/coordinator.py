"""Engine health: a sign-in every minute decides whether entities are available."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from econnect_identities import EconnectAuthenticationError, EconnectError

from .const import DOMAIN, HEALTH_INTERVAL, LOGGER
from .helpers import EngineConnection

if TYPE_CHECKING:
    from .data import EconnectConfigEntry


@dataclass(frozen=True, slots=True)
class HealthData:
    """The result of the last successful health check."""

    latency_ms: float


class EconnectHealthCoordinator(DataUpdateCoordinator[HealthData]):
    """Poll the engine with a fresh sign-in.

    A fresh client per check forces a real round trip (a cached token would prove nothing) and
    notices a changed password within a minute, which starts reauthentication. The coordinator
    logs once when the engine goes away and once when it comes back (log-when-unavailable).
    """

    config_entry: EconnectConfigEntry

    def __init__(
        self, hass: HomeAssistant, entry: EconnectConfigEntry, connection: EngineConnection
    ) -> None:
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {connection.url}",
            update_interval=HEALTH_INTERVAL,
            always_update=False,
        )
        self._connection = connection

    async def _async_update_data(self) -> HealthData:
        """Sign in once and time it."""
        start = time.monotonic()
        try:
            await self._connection.client().authenticate()
        except EconnectAuthenticationError as err:
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN,
                translation_key=err.code,
                translation_placeholders={"error": str(err)},
            ) from err
        except EconnectError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key=err.code,
                translation_placeholders={"error": str(err)},
            ) from err
        return HealthData(latency_ms=round((time.monotonic() - start) * 1000, 1))
