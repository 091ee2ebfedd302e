"""Typed runtime data of a config entry (runtime-data rule): no hass.data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from homeassistant.config_entries import ConfigEntry

from econnect_identities.aio import AsyncEconnectClient

from .helpers import EngineConnection

if TYPE_CHECKING:
    from .coordinator import EconnectHealthCoordinator
    from .frigate import FrigateEvents
    from .recognizer import Recognizer


@dataclass(kw_only=True)
class EconnectRuntimeData:
    """What a loaded entry holds: one client, the health poller and the recognition engine.

    `frigate` is Frigate's events mode, when the options give Frigate's URL and MQTT is set up.
    """

    connection: EngineConnection
    client: AsyncEconnectClient
    coordinator: EconnectHealthCoordinator
    recognizer: Recognizer
    frigate: FrigateEvents | None = None


# A `TypeAlias` rather than a `type` statement: the repository's ruff targets Python 3.11.
EconnectConfigEntry: TypeAlias = ConfigEntry[EconnectRuntimeData]
