"""Binary sensors: known person / unknown face per camera, tag presence, engine reachability.

Sightings switch a sensor on and it stays on for the presence time after the last sighting,
so a person standing at the door keeps it on without flapping between snapshots.

The sighting and tag sensors restore themselves after a reload or restart (`RestoreEntity`):
one that was on stays on until the presence time after its last sighting has passed, and
turns off at once if that time passed while Home Assistant was stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Self

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import STATE_ON
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, State, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.event import async_call_later, async_track_point_in_utc_time
from homeassistant.helpers.restore_state import ExtraStoredData, RestoreEntity
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
    row_fields,
    source_name,
    tags_device_info,
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
    added.extend(_tag_sensors(hass, entry))
    added.append(EconnectReachableSensor(coordinator, API_REACHABLE))
    async_add_entities(added)


def _tag_sensors(
    hass: HomeAssistant, entry: EconnectConfigEntry
) -> list[EconnectTagPresenceSensor]:
    """One presence sensor per chosen tag, each with a unique id of its own."""
    recognizer = entry.runtime_data.recognizer
    tags = recognizer.options.presence_tags
    slugs = naming.TagSlugs(tags)  # other tags that slug alike keep distinct unique ids
    sensors = []
    for tag in _distinct_tags(tags):
        slug = slugs.slug(tag)
        sensors.append(
            EconnectTagPresenceSensor(
                entry.runtime_data.coordinator,
                tag,
                recognizer.options.presence_time,
                recognizer.states,
                slug,
            )
        )
    return sensors


def _distinct_tags(tags: Iterable[str]) -> list[str]:
    """The tags, each once: two spellings of one tag (`VIP`, `vip`) are one sensor."""
    first: dict[str, str] = {}
    for tag in tags:
        first.setdefault(naming.tag_key(tag), tag)
    return list(first.values())


def _parse_utc(value: Any) -> datetime | None:
    """Return an ISO time as an aware UTC datetime (naive ones are taken as UTC), else None."""
    parsed = dt_util.parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        return None
    return parsed.replace(tzinfo=dt_util.UTC) if parsed.tzinfo is None else dt_util.as_utc(parsed)


@dataclass
class PresenceStoredData(ExtraStoredData):
    """What a presence sensor needs to pick up where it was: on or off, when last seen, details.

    The last sighting is stored because the state's `last_changed` is the time it turned on:
    later sightings extend the window without changing the state.
    """

    is_on: bool
    last_seen: datetime | None
    attributes: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the data as JSON-ready values."""
        return {
            "is_on": self.is_on,
            "last_seen": None if self.last_seen is None else self.last_seen.isoformat(),
            "attributes": self.attributes,
        }

    @classmethod
    def from_dict(cls, restored: dict[str, Any]) -> Self | None:
        """Read what `as_dict` stored; None when it is not there or malformed."""
        is_on, last_seen = restored.get("is_on"), restored.get("last_seen")
        if not isinstance(is_on, bool):
            return None
        attributes = restored.get("attributes")
        return cls(
            is_on, _parse_utc(last_seen), attributes if isinstance(attributes, dict) else None
        )


class _AutoOff(BinarySensorEntity, RestoreEntity):
    """Base: `_async_seen` turns the sensor on and schedules it off after the presence time.

    After a reload or restart the previous run's state is reconciled with the presence time
    from the last sighting (stored with the state).
    """

    _presence_time: float
    _cancel_off: CALLBACK_TYPE | None = None
    _last_seen: datetime | None = None
    _kept_attributes: tuple[str, ...] = ()  # the attribute names restored with the state

    async def async_added_to_hass(self) -> None:
        """Restore the state of the previous run, then listen."""
        await super().async_added_to_hass()
        if (last := await self.async_get_last_state()) is None:
            return
        extra = await self.async_get_last_extra_data()
        stored = None if extra is None else PresenceStoredData.from_dict(extra.as_dict())
        if stored is None:
            stored = self._stored_from_state(last)
        if (attributes := self._restored_attributes(stored.attributes)) is not None:
            self._attr_extra_state_attributes = attributes
        self._last_seen = stored.last_seen
        if not stored.is_on or stored.last_seen is None:
            return
        off_at = stored.last_seen + timedelta(seconds=self._presence_time)
        if off_at <= dt_util.utcnow():
            return  # the presence time ran out while the entity was gone: off at once
        self._attr_is_on = True
        self._cancel_off = async_track_point_in_utc_time(self.hass, self._async_off, off_at)

    def _restored_attributes(self, stored: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """The kept attributes of the previous run, when it stored them all."""
        names = self._kept_attributes
        if not names or not stored or not all(key in stored for key in names):
            return None
        return {key: stored[key] for key in names}

    def _stored_from_state(self, last: State) -> PresenceStoredData:
        """Rebuild the data from a state alone: the `last_seen` attribute, else `last_changed`."""
        attributes = dict(last.attributes)
        last_seen = _parse_utc(attributes.get("last_seen"))
        return PresenceStoredData(
            last.state == STATE_ON, last_seen or last.last_changed, attributes
        )

    @property
    def extra_restore_state_data(self) -> PresenceStoredData:
        """Store whether it is on, the last sighting and the attributes shown."""
        shown = self.extra_state_attributes if self._kept_attributes else None
        attributes = None if shown is None else dict(shown)
        return PresenceStoredData(bool(self.is_on), self._last_seen, attributes)

    async def async_will_remove_from_hass(self) -> None:
        """Cancel a pending switch-off."""
        self._async_cancel_off()
        await super().async_will_remove_from_hass()

    @callback
    def _async_seen(self) -> None:
        self._async_cancel_off()
        self._last_seen = dt_util.utcnow()
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
    _kept_attributes = entities.TAG_PRESENT.attributes

    def __init__(
        self,
        coordinator: EconnectHealthCoordinator,
        tag: str,
        presence_time: float,
        states: Mapping[str, SourceState],
        slug: str | None = None,
    ) -> None:
        super().__init__(coordinator, TAG_PRESENT)
        self.tag = tag
        self._states = states
        self._presence_time = presence_time
        entry_id = coordinator.config_entry.entry_id
        self._attr_unique_id = naming.subject_unique_id(
            entry_id, tag, naming.TAG_PRESENT, slug=slug
        )
        self._attr_translation_placeholders = {"name": tag}
        self._attr_device_info = tags_device_info(coordinator)

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
            "last_camera_name": source_name(self.coordinator, source),
            "last_person": person,
            "last_seen": utc_iso(dt_util.utcnow()),
        }

    def _restored_attributes(self, stored: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """Attributes stored by an earlier version lack the camera's name: name it now."""
        if stored and "last_camera" in stored and "last_camera_name" not in stored:
            name = source_name(self.coordinator, str(stored["last_camera"]))
            stored = {**stored, "last_camera_name": name}
        return super()._restored_attributes(stored)

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
