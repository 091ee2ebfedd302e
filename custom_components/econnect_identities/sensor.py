"""Sensors: the last person and face count per camera, who is here, and the engine's latency.

The camera sensors restore their value and attributes after a reload or restart (Home
Assistant's `RestoreSensor`), so "last person" still names the last person seen instead of
turning unknown until the next recognition.

*People here* and *Unknown faces here*, per camera and for the entry, read the recognizer's
`HereBook`. Each stores the sightings it shows and seeds the book with them when it is added
again, so after a reload or restart the lists are right until the presence time after each
sighting has passed; a timer takes a person off the list when their time passes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorExtraStoredData,
    SensorStateClass,
)
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.helpers.restore_state import ExtraStoredData, RestoreEntity
from homeassistant.helpers.typing import StateType
from homeassistant.util import dt as dt_util

from econnect_identities import entities
from econnect_identities.entities import EntityRow
from econnect_identities.events import utc_iso
from econnect_identities.here import Present, people_attributes

from .coordinator import EconnectHealthCoordinator, HealthData
from .data import EconnectConfigEntry
from .entity import EconnectEngineEntity, EconnectSourceEntity, row_fields
from .recognizer import HereBook, SourceState, here_signal

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


@dataclass(frozen=True, kw_only=True)
class EconnectHereSensorDescription(SensorEntityDescription):
    """A *here* sensor: its value and attributes at a source (None: the whole entry)."""

    value_fn: Callable[[HereBook, datetime, str | None], int]
    attrs_fn: Callable[[HereBook, datetime, str | None], dict[str, Any] | None] = lambda *_: None


def _people_attrs(book: HereBook, now: datetime, source: str | None) -> dict[str, Any]:
    return people_attributes(book.people_here(now, source))


def _here_descriptions(
    people: EntityRow, unknown: EntityRow
) -> tuple[EconnectHereSensorDescription, ...]:
    """*People here* and *Unknown faces here* of one scope (per source, or the entry)."""
    return (
        EconnectHereSensorDescription(
            **_sensor_fields(people),
            value_fn=lambda book, now, source: len(book.people_here(now, source)),
            attrs_fn=_people_attrs,
        ),
        EconnectHereSensorDescription(
            **_sensor_fields(unknown),
            value_fn=lambda book, now, source: book.unknown_here(now, source),
        ),
    )


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

SOURCE_HERE_SENSORS = _here_descriptions(entities.PEOPLE_HERE, entities.UNKNOWN_FACES_HERE)
ENTRY_HERE_SENSORS = _here_descriptions(entities.ALL_PEOPLE_HERE, entities.ALL_UNKNOWN_FACES_HERE)

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
    entities.extend(
        EconnectSourceHereSensor(coordinator, description, source, state)
        for source, state in runtime.recognizer.states.items()
        for description in SOURCE_HERE_SENSORS
    )
    entities.extend(EconnectEntryHereSensor(coordinator, d) for d in ENTRY_HERE_SENSORS)
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


@dataclass
class HereStoredData(ExtraStoredData):
    """The sightings a *here* sensor shows, to seed the book with after a restart."""

    data: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """Return the sightings as JSON-ready data."""
        return self.data


def export_here(book: HereBook, now: datetime, source: str | None) -> dict[str, Any]:
    """The sightings inside the window at `source` (None: all), in the stored form."""
    people = [
        {
            "name": p.name,
            "person_id": p.person_id,
            "tags": list(p.tags),
            "source": p.camera,
            "source_name": p.camera_name,
            "last_seen": utc_iso(p.last_seen),
        }
        for p in book.people_here(now, source)
    ]
    unknown = {
        where: [count, utc_iso(when)]
        for where, (count, when) in book.unknown.items()
        if source in (None, where) and book.unknown_here(now, where)
    }
    return {"people": people, "unknown": unknown}


def seed_here(book: HereBook, stored: dict[str, Any]) -> None:
    """Give the book the stored sightings; what does not read as one is skipped."""
    for item in stored.get("people") or []:
        present = _stored_person(item)
        if present is not None:
            book.seen_person(present)
    unknown = stored.get("unknown")
    for where, value in (unknown if isinstance(unknown, dict) else {}).items():
        if isinstance(value, list) and len(value) == 2 and isinstance(value[0], int):
            when = dt_util.parse_datetime(str(value[1]))
            if when is not None:
                book.seen_unknown(str(where), value[0], when)


def _stored_person(item: object) -> Present | None:
    """One stored person, or None when it is not what `export_here` wrote."""
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        return None
    when = dt_util.parse_datetime(str(item.get("last_seen")))
    source = item.get("source")
    if when is None or not isinstance(source, str):
        return None
    tags = item.get("tags")
    person_id = item.get("person_id")
    return Present(
        name=item["name"],
        person_id=person_id if isinstance(person_id, str) else None,
        tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
        camera=source,
        camera_name=str(item.get("source_name") or source),
        last_seen=when,
    )


class HereSensorMixin(RestoreEntity, SensorEntity):
    """Who is here at `here_source` (None: the entry), from the recognizer's book.

    Restores by seeding the book with its stored sightings (sightings are kept only while
    their window is open, so a restart after it lists nobody) and keeps a timer for the
    next window to pass, so the count drops on time without a recognition.
    """

    entity_description: EconnectHereSensorDescription
    coordinator: EconnectHealthCoordinator
    here_source: str | None = None
    _here_timer: CALLBACK_TYPE | None = None

    @property
    def _book(self) -> HereBook:
        return self.coordinator.config_entry.runtime_data.recognizer.here

    async def async_added_to_hass(self) -> None:
        """Seed the book with what was stored, follow recognitions, start the timer."""
        await super().async_added_to_hass()
        if (extra := await self.async_get_last_extra_data()) is not None:
            seed_here(self._book, extra.as_dict())
        signal = here_signal(self.coordinator.config_entry.entry_id)
        self.async_on_remove(async_dispatcher_connect(self.hass, signal, self._async_here))
        self.async_on_remove(self._cancel_here_timer)
        self._schedule_here()

    @callback
    def _async_here(self, _book: HereBook) -> None:
        """A recognition changed the book: show it and move the timer."""
        self._schedule_here()
        self.async_write_ha_state()

    @callback
    def _async_window_passed(self, _now: datetime) -> None:
        self._here_timer = None
        self._async_here(self._book)

    def _schedule_here(self) -> None:
        self._cancel_here_timer()
        when = self._book.next_change(dt_util.utcnow())
        if when is not None:
            self._here_timer = async_track_point_in_utc_time(
                self.hass, self._async_window_passed, when
            )

    @callback
    def _cancel_here_timer(self) -> None:
        if self._here_timer is not None:
            self._here_timer()
            self._here_timer = None

    @property
    def native_value(self) -> StateType:
        """Return how many are here now."""
        return self.entity_description.value_fn(self._book, dt_util.utcnow(), self.here_source)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return who is here (*People here*), else nothing."""
        return self.entity_description.attrs_fn(self._book, dt_util.utcnow(), self.here_source)

    @property
    def extra_restore_state_data(self) -> HereStoredData:
        """Store the sightings shown, with their times."""
        return HereStoredData(export_here(self._book, dt_util.utcnow(), self.here_source))


class EconnectSourceHereSensor(HereSensorMixin, EconnectSourceEntity):
    """Who is here at one camera (or MQTT topic)."""

    def __init__(
        self,
        coordinator: EconnectHealthCoordinator,
        description: EconnectHereSensorDescription,
        source: str,
        state: SourceState,
    ) -> None:
        super().__init__(coordinator, description, source, state)
        self.here_source = source


class EconnectEntryHereSensor(HereSensorMixin, EconnectEngineEntity):
    """Who is here at any of the entry's cameras (on the engine's device)."""
