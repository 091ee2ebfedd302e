"""Image entity per camera: the last snapshot with faces, boxes and names drawn on it."""

from __future__ import annotations

import io
from functools import cache

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

PLACEHOLDER_SIZE = (640, 360)
PLACEHOLDER_BACKGROUND = (224, 224, 224)
PLACEHOLDER_FIGURE = (189, 189, 189)


@cache
def placeholder_jpeg() -> bytes:
    """Return a neutral grey 16:9 JPEG with a faint head-and-shoulders outline.

    Made with Pillow (Home Assistant ships it) once per run, in the executor.
    """
    from PIL import Image, ImageDraw

    width, height = PLACEHOLDER_SIZE
    canvas = Image.new("RGB", PLACEHOLDER_SIZE, PLACEHOLDER_BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    centre, unit = width // 2, height // 8
    draw.ellipse(
        (centre - unit, 2 * unit, centre + unit, 4 * unit), fill=PLACEHOLDER_FIGURE
    )  # the head
    draw.pieslice(
        (centre - 2 * unit, int(4.5 * unit), centre + 2 * unit, int(8.5 * unit)),
        180,
        360,
        fill=PLACEHOLDER_FIGURE,
    )  # the shoulders
    output = io.BytesIO()
    canvas.save(output, format="JPEG", quality=80)
    return output.getvalue()


async def async_setup_entry(
    hass: HomeAssistant, entry: EconnectConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    """Add one annotated-image entity per watched source."""
    runtime = entry.runtime_data
    placeholder = await hass.async_add_executor_job(placeholder_jpeg)
    async_add_entities(
        EconnectAnnotatedImage(runtime.coordinator, source, state, placeholder)
        for source, state in runtime.recognizer.states.items()
    )


class EconnectAnnotatedImage(EconnectSourceEntity, ImageEntity):
    """The last annotated face image of one camera, or a placeholder until there is one.

    The picture itself is kept in memory only (snapshots of faces are personal data and are
    not written to Home Assistant's storage), so a new camera, and every camera after a reload
    or restart, has no picture until its next recognition with faces. Until then the proxy
    serves a neutral placeholder JPEG rather than an error: the dashboard shows a grey frame
    where the faces will appear instead of a broken picture, and the more-info dialog keeps
    its layout. The state stays unknown (`image_last_updated` is None) while the placeholder
    is shown, so the state still says when faces were last drawn and automations can tell
    "no picture yet" from a real one; the first real picture sets the time, which makes the
    frontend fetch it.
    """

    _attr_content_type = "image/jpeg"

    def __init__(
        self,
        coordinator: EconnectHealthCoordinator,
        source: str,
        state: SourceState,
        placeholder: bytes,
    ) -> None:
        EconnectSourceEntity.__init__(self, coordinator, ANNOTATED, source, state)
        ImageEntity.__init__(self, coordinator.hass)
        self._placeholder = placeholder
        self._attr_image_last_updated = state.image_time

    @callback
    def _async_handle_recognition(self, state: SourceState) -> None:
        """Publish a new image time so the frontend fetches the new picture."""
        self._attr_image_last_updated = state.image_time
        super()._async_handle_recognition(state)

    async def async_image(self) -> bytes | None:
        """Return the annotated JPEG, or the placeholder while there is none."""
        return self.source_state.image or self._placeholder
