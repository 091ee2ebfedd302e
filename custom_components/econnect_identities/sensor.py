"""Sensors: the last person and face count per camera, and the engine's latency."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
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


class EconnectSourceSensor(EconnectSourceEntity, SensorEntity):
    """A per-camera sensor."""

    entity_description: EconnectSourceSensorDescription

    @property
    def native_value(self) -> StateType:
        """Return the value for the latest result."""
        return self.entity_description.value_fn(self.source_state)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return the details of the latest result."""
        return self.entity_description.attrs_fn(self.source_state)


class EconnectEngineSensor(EconnectEngineEntity, SensorEntity):
    """An engine diagnostic sensor."""

    entity_description: EconnectEngineSensorDescription

    @property
    def native_value(self) -> StateType:
        """Return the value measured by the last health check."""
        data = self.coordinator.data
        return None if data is None else self.entity_description.value_fn(data)
