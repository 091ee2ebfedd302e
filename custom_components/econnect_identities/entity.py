"""Base entities: naming, devices and unique ids, shared by every platform.

Unique ids come from `econnect_identities.naming` with the entry id as node id: the entry id
survives a reconfiguration of the URL (which changes the entry's unique id), so entities keep
their ids.
"""

from __future__ import annotations

from typing import Any

from homeassistant.const import EntityCategory
from homeassistant.core import callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from econnect_identities import naming
from econnect_identities.entities import EntityRow

from .const import DOMAIN
from .coordinator import EconnectHealthCoordinator
from .recognizer import SourceState, source_signal

MANUFACTURER = "eConnect"
TAGS_DEVICE_NAME = "Tag presence"


def row_fields(row: EntityRow) -> dict[str, Any]:
    """Return the description fields every platform takes from the shared entity table.

    The platform-specific ones (device and state classes, unit) are converted to the
    platform's enums where the description is made.
    """
    return {
        "key": row.key,
        "translation_key": row.translation_key,
        "entity_category": EntityCategory.DIAGNOSTIC if row.diagnostic else None,
    }


def engine_device_info(coordinator: EconnectHealthCoordinator) -> DeviceInfo:
    """Return the service device that stands for the engine."""
    entry = coordinator.config_entry
    return DeviceInfo(
        identifiers={(DOMAIN, entry.entry_id)},
        name=f"eConnect Identities {entry.title}",
        manufacturer=MANUFACTURER,
        model="Identities",
        entry_type=DeviceEntryType.SERVICE,
        configuration_url=entry.data.get("url"),
    )


def tags_device_info(coordinator: EconnectHealthCoordinator) -> DeviceInfo:
    """Return the device of the tag presence sensors: named for them, not for the host."""
    entry_id = coordinator.config_entry.entry_id
    return DeviceInfo(
        identifiers={(DOMAIN, tags_device_id(entry_id))},
        name=TAGS_DEVICE_NAME,
        manufacturer=MANUFACTURER,
        model=TAGS_DEVICE_NAME,
    )


def tags_device_id(entry_id: str) -> str:
    """Return the device identifier of the tag presence sensors."""
    return f"{entry_id}_tags"


def source_device_id(entry_id: str, source: str) -> str:
    """Return the device identifier of a watched camera or MQTT topic."""
    return f"{entry_id}_{naming.slugify(source)}"


def source_name(coordinator: EconnectHealthCoordinator, source: str) -> str:
    """Return a human name for a source: the camera's name, else its id or topic.

    An MQTT topic names its camera (`frigate/front_door/person/snapshot` → "Front door").
    """
    recognizer = coordinator.config_entry.runtime_data.recognizer
    if source in recognizer.source_names:
        return recognizer.source_names[source]
    if source in recognizer.options.mqtt_topics:
        return naming.topic_camera_name(source)
    hass = coordinator.hass
    if (state := hass.states.get(source)) is not None:
        return state.name
    if (entry := er.async_get(hass).async_get(source)) is not None:
        return entry.name or entry.original_name or source
    return source


class EconnectEntity(CoordinatorEntity[EconnectHealthCoordinator]):
    """An entity that is available while the engine is reachable."""

    _attr_has_entity_name = True

    def __init__(
        self, coordinator: EconnectHealthCoordinator, description: EntityDescription
    ) -> None:
        super().__init__(coordinator)
        self.entity_description = description


class EconnectEngineEntity(EconnectEntity):
    """A diagnostic entity of the engine's service device."""

    def __init__(
        self, coordinator: EconnectHealthCoordinator, description: EntityDescription
    ) -> None:
        super().__init__(coordinator, description)
        node_id = coordinator.config_entry.entry_id
        kind = naming.EntityKind(description.key, "sensor", "")
        self._attr_unique_id = naming.health_unique_id(node_id, kind)
        self._attr_device_info = engine_device_info(coordinator)


class EconnectSourceEntity(EconnectEntity):
    """An entity of one watched camera (or MQTT topic), updated after each recognition.

    The camera devices are linked to the engine device after setup with `via_device_id`
    (see `__init__._async_link_devices`) instead of `DeviceInfo(via_device=…)`, which is
    deprecated from 2026.8.
    """

    def __init__(
        self,
        coordinator: EconnectHealthCoordinator,
        description: EntityDescription,
        source: str,
        state: SourceState,
    ) -> None:
        super().__init__(coordinator, description)
        entry_id = coordinator.config_entry.entry_id
        self.source = source
        self.source_state = state
        kind = naming.EntityKind(description.key, "sensor", "")
        self._attr_unique_id = naming.camera_unique_id(entry_id, source, kind)
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, source_device_id(entry_id, source))},
            name=source_name(coordinator, source),
            manufacturer=MANUFACTURER,
            model="Face recognition",
        )

    async def async_added_to_hass(self) -> None:
        """Listen for this source's recognitions."""
        await super().async_added_to_hass()
        signal = source_signal(self.coordinator.config_entry.entry_id, self.source)
        self.async_on_remove(
            async_dispatcher_connect(self.hass, signal, self._async_handle_recognition)
        )

    @callback
    def _async_handle_recognition(self, state: SourceState) -> None:
        """Take a new result; platforms override to react before writing state."""
        self.source_state = state
        self.async_write_ha_state()
