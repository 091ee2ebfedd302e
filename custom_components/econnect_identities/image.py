"""Image entities: the last faces per camera, and the face pictures when the option is on.

Per camera the last snapshot with faces boxed and named; with the *Face pictures* option on,
per camera its last unknown face and per person of the engine's roster their last known face
(`econnect_identities.face_picture`).

Every picture is kept in memory only: nothing is written to disk or to Home Assistant's
storage. Home Assistant serves an image entity through its own API (`/api/image_proxy/`),
so a notification can attach one without opening any other port.
"""

from __future__ import annotations

import io
from datetime import datetime
from functools import cache
from typing import ClassVar

from homeassistant.components.image import ImageEntity, ImageEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from econnect_identities import EconnectError, entities, naming
from econnect_identities.rules import hidden_everywhere

from .const import LOGGER, MAX_FACE_PERSONS
from .coordinator import EconnectHealthCoordinator
from .data import EconnectConfigEntry
from .entity import EconnectEntity, EconnectSourceEntity, engine_device_info, row_fields
from .recognizer import Recognizer, SourceState, faces_signal

PARALLEL_UPDATES = 0

ANNOTATED = ImageEntityDescription(**row_fields(entities.ANNOTATED))
LAST_UNKNOWN_FACE = ImageEntityDescription(**row_fields(entities.LAST_UNKNOWN_FACE))
PERSON_FACE = ImageEntityDescription(**row_fields(entities.PERSON_FACE))

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
    """Add the annotated image per source, and the face pictures when the option is on."""
    runtime = entry.runtime_data
    coordinator, recognizer = runtime.coordinator, runtime.recognizer
    placeholder = await hass.async_add_executor_job(placeholder_jpeg)
    added: list[ImageEntity] = [
        EconnectAnnotatedImage(coordinator, source, state, placeholder)
        for source, state in recognizer.states.items()
    ]
    if recognizer.options.face_pictures:
        added.extend(
            EconnectUnknownFaceImage(coordinator, source, state, placeholder)
            for source, state in recognizer.states.items()
        )
        persons = await async_roster_persons(recognizer)
        recognizer.face_names = frozenset(persons)
        slugs = naming.NameSlugs(persons)  # persons whose names slug alike keep distinct ids
        added.extend(
            EconnectPersonFaceImage(coordinator, person, slugs.slug(person), placeholder)
            for person in persons
        )
    async_add_entities(added)


async def async_roster_persons(recognizer: Recognizer) -> list[str]:
    """Return the display names of the people carrying an enabled tag on the engine.

    Needs the account's "Read All Identity" permission; without it (or when the engine does
    not answer) no person gets a face picture entity, and the log says why. A roster larger
    than `MAX_FACE_PERSONS` is not turned into entities. People a rule excludes on every
    camera get none either: an entity named after them would say what the rule keeps quiet.
    """
    rules = recognizer.options.policy.rules
    persons: dict[str, None] = {}
    hidden: set[str] = set()
    try:
        for tag in await recognizer.client.tags():
            if not tag.disabled:
                for person in await recognizer.client.people(tag.tag_id):
                    if hidden_everywhere(rules, person, tag.name):
                        hidden.add(person.display_name)
                    else:
                        persons[person.display_name] = None
    except EconnectError as err:
        LOGGER.warning("Face pictures: could not read the people from the engine: %s", err)
        return []
    for name in hidden:  # hidden through one tag, whichever other tag listed them
        persons.pop(name, None)
    if len(persons) > MAX_FACE_PERSONS:
        LOGGER.warning("Face pictures: more than %d people on the engine", MAX_FACE_PERSONS)
        return []
    return list(persons)


class _SourcePicture(EconnectSourceEntity, ImageEntity):
    """A picture one camera's results keep in memory, and a placeholder until there is one.

    Subclasses name the description and the `SourceState` fields of the picture and its time.
    """

    _attr_content_type = "image/jpeg"
    description: ClassVar[ImageEntityDescription]
    picture_field: ClassVar[str]
    time_field: ClassVar[str]

    def __init__(
        self,
        coordinator: EconnectHealthCoordinator,
        source: str,
        state: SourceState,
        placeholder: bytes,
    ) -> None:
        EconnectSourceEntity.__init__(self, coordinator, self.description, source, state)
        ImageEntity.__init__(self, coordinator.hass)
        self._placeholder = placeholder
        self._attr_image_last_updated = self._taken(state)

    def _taken(self, state: SourceState) -> datetime | None:
        taken: datetime | None = getattr(state, self.time_field)
        return taken

    @callback
    def _async_handle_recognition(self, state: SourceState) -> None:
        """Publish a new image time so the frontend fetches the new picture."""
        self._attr_image_last_updated = self._taken(state)
        super()._async_handle_recognition(state)

    async def async_image(self) -> bytes | None:
        """Return the picture, or the placeholder while there is none."""
        picture: bytes | None = getattr(self.source_state, self.picture_field)
        return picture or self._placeholder


class EconnectAnnotatedImage(_SourcePicture):
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

    description = ANNOTATED
    picture_field, time_field = "image", "image_time"


class EconnectUnknownFaceImage(_SourcePicture):
    """The last face one camera's results judged unknown, cut small; a placeholder until then.

    Only a face the shared rules call unknown is shown: an uncertain or excluded face never
    is. In memory only, like the annotated image.
    """

    description = LAST_UNKNOWN_FACE
    picture_field, time_field = "unknown_face", "unknown_face_time"


class EconnectPersonFaceImage(EconnectEntity, ImageEntity):
    """One person's last known face (any camera), cut small; a placeholder until then.

    On the engine's device, named "<person> face" as the bridge names it. Only a face the
    shared rules call known for this person is shown. In memory only.
    """

    _attr_content_type = "image/jpeg"

    def __init__(
        self,
        coordinator: EconnectHealthCoordinator,
        person: str,
        slug: str,
        placeholder: bytes,
    ) -> None:
        EconnectEntity.__init__(self, coordinator, PERSON_FACE)
        ImageEntity.__init__(self, coordinator.hass)
        self.person = person
        self._placeholder = placeholder
        entry_id = coordinator.config_entry.entry_id
        self._attr_unique_id = naming.subject_unique_id(
            entry_id, person, entities.PERSON_FACE.kind, slug=slug
        )
        self._attr_translation_placeholders = {"name": person}
        self._attr_device_info = engine_device_info(coordinator)
        self._attr_image_last_updated = self._face_time()

    def _face_time(self) -> datetime | None:
        face = self.coordinator.config_entry.runtime_data.recognizer.faces.get(self.person)
        return None if face is None else face.time

    async def async_added_to_hass(self) -> None:
        """Listen for new face pictures."""
        await super().async_added_to_hass()
        signal = faces_signal(self.coordinator.config_entry.entry_id)
        self.async_on_remove(async_dispatcher_connect(self.hass, signal, self._async_faces))

    @callback
    def _async_faces(self, names: frozenset[str]) -> None:
        if self.person in names:
            self._attr_image_last_updated = self._face_time()
            self.async_write_ha_state()

    async def async_image(self) -> bytes | None:
        """Return the person's last known face, or the placeholder while there is none."""
        face = self.coordinator.config_entry.runtime_data.recognizer.faces.get(self.person)
        return self._placeholder if face is None else face.picture
