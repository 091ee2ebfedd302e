"""Binary sensors: known person / unknown face per camera, tag presence, engine reachability.

Sightings switch a sensor on and it stays on for the presence time after the last sighting,
so a person standing at the door keeps it on without flapping between snapshots.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.event import async_call_later
from homeassistant.util import dt as dt_util

from econnect_identities import DetectedFace, RecognitionResult, entities, naming
from econnect_identities.entities import EntityRow
from econnect_identities.events import utc_iso

from .coordinator import EconnectHealthCoordinator
from .data import EconnectConfigEntry
from .entity import (
    EconnectEngineEntity,
    EconnectEntity,
    EconnectSourceEntity,
    engine_device_info,
    row_fields,
)
from .recognizer import SourceState, TagSighting, tags_signal

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class EconnectSightingDescription(BinarySensorEntityDescription):
    """A per-camera presence sensor: `seen_fn` says whether a result counts as a sighting."""

    seen_fn: Callable[[RecognitionResult], bool]


def _binary_fields(row: EntityRow) -> dict[str, Any]:
    """The shared row as binary sensor description fields (Home Assistant's enums)."""
    device_class = None if row.device_class is None else BinarySensorDeviceClass(row.device_class)
    return {**row_fields(row), "device_class": device_class}


SOURCE_BINARY_SENSORS: tuple[EconnectSightingDescription, ...] = (
    EconnectSightingDescription(
        **_binary_fields(entities.KNOWN_PERSON),
        seen_fn=lambda result: bool(result.known_faces),
    ),
    EconnectSightingDescription(
        **_binary_fields(entities.UNKNOWN_FACE),
        seen_fn=lambda result: bool(result.unknown_faces),
    ),
)

TAG_PRESENT = BinarySensorEntityDescription(**_binary_fields(entities.TAG_PRESENT))

API_REACHABLE = BinarySensorEntityDescription(**_binary_fields(entities.API_REACHABLE))


async def async_setup_entry(
    hass: HomeAssistant, entry: EconnectConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    """Add sighting sensors per source, presence sensors per tag and the reachability sensor."""
    runtime = entry.runtime_data
    coordinator = runtime.coordinator
    presence = runtime.recognizer.options.presence_time
    added: list[BinarySensorEntity] = [
        EconnectSightingSensor(coordinator, description, source, state, presence)
        for source, state in runtime.recognizer.states.items()
        for description in SOURCE_BINARY_SENSORS
    ]
    states = runtime.recognizer.states
    added.extend(
        EconnectTagPresenceSensor(coordinator, tag, presence, states)
        for tag in runtime.recognizer.options.presence_tags
    )
    added.append(EconnectReachableSensor(coordinator, API_REACHABLE))
    async_add_entities(added)


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
        self,
        coordinator: EconnectHealthCoordinator,
        tag: str,
        presence_time: float,
        states: Mapping[str, SourceState],
    ) -> None:
        super().__init__(coordinator, TAG_PRESENT)
        self.tag = tag
        self._states = states
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
            self._attr_extra_state_attributes = self._sighting_attributes(sighting.source)
            self._async_seen()
            self.async_write_ha_state()

    def _sighting_attributes(self, source: str) -> dict[str, Any]:
        """Name the camera, the person carrying the tag and the time, as the bridge does."""
        face = self._tag_bearer(self._states.get(source))
        person = None if face is None or face.person is None else face.person.display_name
        return {
            "last_camera": source,
            "last_person": person,
            "last_seen": utc_iso(dt_util.utcnow()),
        }

    def _tag_bearer(self, state: SourceState | None) -> DetectedFace | None:
        """Return the most confident known face carrying this tag in the source's result."""
        if state is None or state.result is None:
            return None
        wanted = self.tag.casefold()
        bearers = [
            face
            for face in state.result.known_faces
            if face.person and wanted in {tag.casefold() for tag in face.person.tag_names}
        ]
        return max(bearers, key=lambda face: face.confidence, default=None)


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
