"""Engine health: a token renewal every minute decides whether entities are available."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .const import DOMAIN, HEALTH_INTERVAL, LOGGER
from .helpers import EngineConnection, engine_errors

if TYPE_CHECKING:
    from .data import EconnectConfigEntry


@dataclass(frozen=True, slots=True)
class HealthData:
    """The result of the last successful health check."""

    latency_ms: float


class EconnectHealthCoordinator(DataUpdateCoordinator[HealthData]):
    """Poll the engine by renewing the token the entry already holds.

    A renewal is a real, authorised round trip that any account may make, so it proves the
    engine answers without a sign-in: an engine that keeps audit logs or locks accounts sees a
    sign-in only when no valid token is held or the engine refuses it (the core's token flow
    decides). A refused password raises `ConfigEntryAuthFailed`, which starts
    reauthentication; any other failure marks the entities unavailable. The coordinator logs
    once when the engine goes away and once when it comes back (log-when-unavailable).
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
        self._client = connection.client()

    async def _async_update_data(self) -> HealthData:
        """Renew the token once and time the round trip."""
        start = time.monotonic()
        with engine_errors(UpdateFailed, auth=ConfigEntryAuthFailed):
            await self._client.renew()
        return HealthData(latency_ms=round((time.monotonic() - start) * 1000, 1))
