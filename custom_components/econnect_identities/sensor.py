"""Sensors: the last person and face count per camera, and the engine's latency.

The camera sensors restore their value and attributes after a reload or restart (Home
Assistant's `RestoreSensor`), so "last person" still names the last person seen instead of
turning unknown until the next recognition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorExtraStoredData,
    SensorStateClass,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.typing import StateType

from econnect_identities import entities
from econnect_identities.entities import EntityRow
from econnect_identities.events import utc_iso

from .coordinator import HealthData
from .data import EconnectConfigEntry
from .entity import EconnectEngineEntity, EconnectSourceEntity, row_fields
from .recognizer import SourceState

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class EconnectSourceSensorDescription(SensorEntityDescription):
    """A per-camera sensor read from the source's latest state."""

    value_fn: Callable[[SourceState], StateType]
    attrs_fn: Callable[[SourceState], dict[str, Any] | None] = lambda _: None
    attributes: tuple[str, ...] = ()  # the names `attrs_fn` gives, from the shared table


@dataclass(frozen=True, kw_only=True)
class EconnectEngineSensorDescription(SensorEntityDescription):
    """An engine sensor read from the last health check."""

    value_fn: Callable[[HealthData], StateType]


def _last_person(state: SourceState) -> StateType:
    face = state.last_known
    return face.person.display_name if face and face.person else None


def _last_person_attrs(state: SourceState) -> dict[str, Any] | None:
    face = state.last_known
    if face is None or face.person is None or state.last_known_time is None:
        return None
    return {
        "person_id": face.person.person_id,
        "tags": list(face.person.tag_names),
        "confidence": round(face.confidence, 4),
        "quality": round(face.quality, 4),
        "last_seen": utc_iso(state.last_known_time),
        "frigate_event_id": state.last_known_frigate_event_id,
    }


def _sensor_fields(row: EntityRow) -> dict[str, Any]:
    """The shared row as sensor description fields (Home Assistant's enums)."""
    return {
        **row_fields(row),
        "device_class": None if row.device_class is None else SensorDeviceClass(row.device_class),
        "state_class": None if row.state_class is None else SensorStateClass(row.state_class),
        "native_unit_of_measurement": row.unit,
    }


SOURCE_SENSORS: tuple[EconnectSourceSensorDescription, ...] = (
    EconnectSourceSensorDescription(
        **_sensor_fields(entities.LAST_PERSON),
        value_fn=_last_person,
        attrs_fn=_last_person_attrs,
        attributes=entities.LAST_PERSON.attributes,
    ),
    EconnectSourceSensorDescription(
        **_sensor_fields(entities.FACE_COUNT),
        value_fn=lambda state: None if state.result is None else len(state.result.faces),
    ),
)

ENGINE_SENSORS: tuple[EconnectEngineSensorDescription, ...] = (
    EconnectEngineSensorDescription(
        **_sensor_fields(entities.API_LATENCY),
        entity_registry_enabled_default=False,  # changes every minute: noisy history
        value_fn=lambda data: data.latency_ms,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant, entry: EconnectConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    """Add the sensors of every watched source and of the engine."""
    runtime = entry.runtime_data
    coordinator = runtime.coordinator
    entities: list[SensorEntity] = [
        EconnectSourceSensor(coordinator, description, source, state)
        for source, state in runtime.recognizer.states.items()
        for description in SOURCE_SENSORS
    ]
    entities.extend(EconnectEngineSensor(coordinator, d) for d in ENGINE_SENSORS)
    async_add_entities(entities)


@dataclass
class SourceSensorStoredData(SensorExtraStoredData):
    """The sensor's stored value plus its attributes.

    The attributes are kept in the extra data rather than read back from the last state:
    a state written while the engine was unreachable is `unavailable` and has none.
    """

    attributes: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the value, the unit and the attributes as JSON-ready data."""
        return {**super().as_dict(), "attributes": self.attributes}

    @classmethod
    def from_dict(cls, restored: dict[str, Any]) -> Self | None:
        """Read what `as_dict` stored; None when the value is missing or malformed."""
        sensor = SensorExtraStoredData.from_dict(restored)
        if sensor is None:
            return None
        attributes = restored.get("attributes")
        return cls(
            sensor.native_value,
            sensor.native_unit_of_measurement,
            attributes if isinstance(attributes, dict) else None,
        )


class EconnectSourceSensor(EconnectSourceEntity, RestoreSensor):
    """A per-camera sensor; shows its restored value until the camera's next result.

    "Last person" keeps the restored person until a known person is seen again (a recognition
    with only unknown faces does not change who was seen last); "face count" takes the count
    of the next recognition.
    """

    entity_description: EconnectSourceSensorDescription
    _restored_value: StateType = None
    _restored_attributes: dict[str, Any] | None = None

    async def async_added_to_hass(self) -> None:
        """Restore the value and attributes the sensor had before the reload or restart."""
        await super().async_added_to_hass()
        if (extra := await self.async_get_last_extra_data()) is None:
            return
        if (stored := SourceSensorStoredData.from_dict(extra.as_dict())) is None:
            return
        if isinstance(stored.native_value, str | int | float):
            self._restored_value = stored.native_value
        if stored.attributes is not None and self._restored_value is not None:
            wanted = self.entity_description.attributes
            self._restored_attributes = {
                key: stored.attributes[key] for key in wanted if key in stored.attributes
            } or None

    @property
    def native_value(self) -> StateType:
        """Return the value for the latest result, else the restored one."""
        value = self.entity_description.value_fn(self.source_state)
        return self._restored_value if value is None else value

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return the details of the latest result, else the restored ones."""
        if self.entity_description.value_fn(self.source_state) is None:
            return self._restored_attributes
        return self.entity_description.attrs_fn(self.source_state)

    @property
    def extra_restore_state_data(self) -> SourceSensorStoredData:
        """Store the value shown and its attributes."""
        return SourceSensorStoredData(
            self.native_value, self.native_unit_of_measurement, self.extra_state_attributes
        )


class EconnectEngineSensor(EconnectEngineEntity, SensorEntity):
    """An engine diagnostic sensor."""

    entity_description: EconnectEngineSensorDescription

    @property
    def native_value(self) -> StateType:
        """Return the value measured by the last health check."""
        data = self.coordinator.data
        return None if data is None else self.entity_description.value_fn(data)
