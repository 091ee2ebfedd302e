"""Binary sensors: known person / unknown face per camera, tag presence, engine reachability.

Sightings switch a sensor on and it stays on for the presence time after the last sighting,
so a person standing at the door keeps it on without flapping between snapshots.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.event import async_call_later

from econnect_identities import RecognitionResult, naming

from .coordinator import EconnectHealthCoordinator
from .data import EconnectConfigEntry
from .entity import (
    EconnectEngineEntity,
    EconnectEntity,
    EconnectSourceEntity,
    engine_device_info,
)
from .recognizer import SourceState, TagSighting, tags_signal

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class EconnectSightingDescription(BinarySensorEntityDescription):
    """A per-camera presence sensor: `seen_fn` says whether a result counts as a sighting."""

    seen_fn: Callable[[RecognitionResult], bool]


SOURCE_BINARY_SENSORS: tuple[EconnectSightingDescription, ...] = (
    EconnectSightingDescription(
        key=naming.KNOWN_PERSON.key,
        translation_key=naming.KNOWN_PERSON.key,
        device_class=BinarySensorDeviceClass.OCCUPANCY,
        seen_fn=lambda result: bool(result.known_faces),
    ),
    EconnectSightingDescription(
        key=naming.UNKNOWN_FACE.key,
        translation_key=naming.UNKNOWN_FACE.key,
        device_class=BinarySensorDeviceClass.OCCUPANCY,
        seen_fn=lambda result: bool(result.unknown_faces),
    ),
)

TAG_PRESENT = BinarySensorEntityDescription(
    key=naming.TAG_PRESENT.key,
    translation_key=naming.TAG_PRESENT.key,
    device_class=BinarySensorDeviceClass.PRESENCE,
)

API_REACHABLE = BinarySensorEntityDescription(
    key=naming.API_REACHABLE.key,
    translation_key=naming.API_REACHABLE.key,
    device_class=BinarySensorDeviceClass.CONNECTIVITY,
    entity_category=EntityCategory.DIAGNOSTIC,
)


async def async_setup_entry(
    hass: HomeAssistant, entry: EconnectConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    """Add sighting sensors per source, presence sensors per tag and the reachability sensor."""
    runtime = entry.runtime_data
    coordinator = runtime.coordinator
    presence = runtime.recognizer.options.presence_time
    entities: list[BinarySensorEntity] = [
        EconnectSightingSensor(coordinator, description, source, state, presence)
        for source, state in runtime.recognizer.states.items()
        for description in SOURCE_BINARY_SENSORS
    ]
    entities.extend(
        EconnectTagPresenceSensor(coordinator, tag, presence)
        for tag in runtime.recognizer.options.presence_tags
    )
    entities.append(EconnectReachableSensor(coordinator, API_REACHABLE))
    async_add_entities(entities)


class _AutoOff(BinarySensorEntity):
    """Base: `_async_seen` turns the sensor on and schedules it off after the presence time."""

    _presence_time: float
    _cancel_off: CALLBACK_TYPE | None = None

    async def async_will_remove_from_hass(self) -> None:
        """Cancel a pending switch-off."""
        self._async_cancel_off()
        await super().async_will_remove_from_hass()

    @callback
    def _async_seen(self) -> None:
        self._async_cancel_off()
        self._attr_is_on = True
        self._cancel_off = async_call_later(self.hass, self._presence_time, self._async_off)

    @callback
    def _async_off(self, _now: datetime) -> None:
        self._cancel_off = None
        self._attr_is_on = False
        self.async_write_ha_state()

    @callback
    def _async_cancel_off(self) -> None:
        if self._cancel_off is not None:
            self._cancel_off()
            self._cancel_off = None


class EconnectSightingSensor(EconnectSourceEntity, _AutoOff):
    """Known person or unknown face seen on one camera within the presence time."""

    entity_description: EconnectSightingDescription
    _attr_is_on = False

    def __init__(
        self,
        coordinator: EconnectHealthCoordinator,
        description: EconnectSightingDescription,
        source: str,
        state: SourceState,
        presence_time: float,
    ) -> None:
        super().__init__(coordinator, description, source, state)
        self._presence_time = presence_time

    @callback
    def _async_handle_recognition(self, state: SourceState) -> None:
        """Turn on if this result is a sighting; otherwise leave the timer running."""
        if state.result is not None and self.entity_description.seen_fn(state.result):
            self._async_seen()
        super()._async_handle_recognition(state)


class EconnectTagPresenceSensor(EconnectEntity, _AutoOff):
    """Someone carrying a tag (e.g. VIP) was seen on any camera within the presence time."""

    _attr_is_on = False

    def __init__(
        self, coordinator: EconnectHealthCoordinator, tag: str, presence_time: float
    ) -> None:
        super().__init__(coordinator, TAG_PRESENT)
        self.tag = tag
        self._presence_time = presence_time
        entry_id = coordinator.config_entry.entry_id
        self._attr_unique_id = naming.subject_unique_id(entry_id, tag, naming.TAG_PRESENT)
        self._attr_translation_placeholders = {"name": tag}
        self._attr_device_info = engine_device_info(coordinator)

    async def async_added_to_hass(self) -> None:
        """Listen for tags seen on any camera."""
        await super().async_added_to_hass()
        signal = tags_signal(self.coordinator.config_entry.entry_id)
        self.async_on_remove(async_dispatcher_connect(self.hass, signal, self._async_tags))

    @callback
    def _async_tags(self, sighting: TagSighting) -> None:
        # Tag names are matched case-insensitively: users type them by hand in the options.
        if self.tag.casefold() in {tag.casefold() for tag in sighting.tags}:
            self._attr_extra_state_attributes = {"camera": sighting.source}
            self._async_seen()
            self.async_write_ha_state()


class EconnectReachableSensor(EconnectEngineEntity, BinarySensorEntity):
    """Whether the last health check reached the engine; never unavailable itself."""

    @property
    def available(self) -> bool:
        """Stay available so the outage shows as 'disconnected', not 'unavailable'."""
        return True

    @property
    def is_on(self) -> bool:
        """Return whether the engine answered the last health check."""
        return self.coordinator.last_update_success
