"""Image entity per camera: the last snapshot with faces, boxes and names drawn on it."""

from __future__ import annotations

from homeassistant.components.image import ImageEntity, ImageEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from econnect_identities import entities

from .coordinator import EconnectHealthCoordinator
from .data import EconnectConfigEntry
from .entity import EconnectSourceEntity, row_fields
from .recognizer import SourceState

PARALLEL_UPDATES = 0

ANNOTATED = ImageEntityDescription(**row_fields(entities.ANNOTATED))


async def async_setup_entry(
    hass: HomeAssistant, entry: EconnectConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    """Add one annotated-image entity per watched source."""
    runtime = entry.runtime_data
    async_add_entities(
        EconnectAnnotatedImage(runtime.coordinator, source, state)
        for source, state in runtime.recognizer.states.items()
    )


class EconnectAnnotatedImage(EconnectSourceEntity, ImageEntity):
    """The last annotated face image of one camera."""

    _attr_content_type = "image/jpeg"

    def __init__(
        self, coordinator: EconnectHealthCoordinator, source: str, state: SourceState
    ) -> None:
        EconnectSourceEntity.__init__(self, coordinator, ANNOTATED, source, state)
        ImageEntity.__init__(self, coordinator.hass)
        self._attr_image_last_updated = state.image_time

    @callback
    def _async_handle_recognition(self, state: SourceState) -> None:
        """Publish a new image time so the frontend fetches the new picture."""
        self._attr_image_last_updated = state.image_time
        super()._async_handle_recognition(state)

    async def async_image(self) -> bytes | None:
        """Return the annotated JPEG."""
        return self.source_state.image
