"""Event entity per camera: `known_person`, `unknown_face` or `no_face` after each recognition."""

from __future__ import annotations

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from econnect_identities import entities, naming

from .data import EconnectConfigEntry
from .entity import EconnectSourceEntity, row_fields
from .recognizer import SourceState

PARALLEL_UPDATES = 0

RECOGNITION = EventEntityDescription(
    **row_fields(entities.RECOGNITION),
    event_types=list(naming.EVENT_TYPES),
)

# Event attributes: a summary that automations can test without personal field details; the
# shared table names them (the bridge's events carry the same keys).
_ATTRIBUTES = tuple(key for key in entities.RECOGNITION.attributes if key != "camera")


async def async_setup_entry(
    hass: HomeAssistant, entry: EconnectConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    """Add one event entity per watched source."""
    runtime = entry.runtime_data
    async_add_entities(
        EconnectRecognitionEvent(runtime.coordinator, RECOGNITION, source, state)
        for source, state in runtime.recognizer.states.items()
    )


class EconnectRecognitionEvent(EconnectSourceEntity, EventEntity):
    """Fires the outcome of every recognition on one camera."""

    @callback
    def _async_handle_recognition(self, state: SourceState) -> None:
        """Trigger the event type that matches the outcome."""
        if state.result is not None and state.event is not None:
            attributes = {key: state.event[key] for key in _ATTRIBUTES}
            attributes["camera"] = self.source
            self._trigger_event(naming.OUTCOME_EVENT_TYPE[state.result.outcome], attributes)
        super()._async_handle_recognition(state)
