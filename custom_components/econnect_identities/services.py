"""The `recognize` action: camera snapshots or an allowed file → faces and persons as response."""

from __future__ import annotations

from pathlib import Path

import voluptuous as vol
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.util.json import JsonValueType

from econnect_identities.naming import slugify

from .const import (
    ATTR_CAMERA,
    ATTR_CAMERA_ENTITY_ID,
    ATTR_CONFIG_ENTRY_ID,
    ATTR_FILE_PATH,
    DOMAIN,
    SERVICE_RECOGNIZE,
)
from .data import EconnectConfigEntry

RECOGNIZE_SCHEMA = vol.Schema(
    {
        vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Optional(ATTR_CAMERA_ENTITY_ID, default=[]): cv.entity_ids,
        vol.Optional(ATTR_FILE_PATH): cv.string,
        vol.Optional(ATTR_CAMERA): cv.string,
    }
)


def async_setup_services(hass: HomeAssistant) -> None:
    """Register the action once for the integration (action-setup)."""

    async def _async_recognize(call: ServiceCall) -> ServiceResponse:
        return await async_recognize(hass, call)

    hass.services.async_register(
        DOMAIN,
        SERVICE_RECOGNIZE,
        _async_recognize,
        schema=RECOGNIZE_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )


def _invalid(key: str, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


def _loaded_entry(hass: HomeAssistant, entry_id: str | None) -> EconnectConfigEntry:
    """Return the entry named by the call, or the only loaded one."""
    if entry_id is None:
        loaded = [
            entry
            for entry in hass.config_entries.async_entries(DOMAIN)
            if entry.state is ConfigEntryState.LOADED
        ]
        if len(loaded) != 1:
            raise _invalid("entry_required")
        return loaded[0]
    entry = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise _invalid("entry_not_found", entry_id=entry_id)
    if entry.state is not ConfigEntryState.LOADED:
        raise _invalid("entry_not_loaded", entry_id=entry_id)
    return entry


async def _async_read_file(hass: HomeAssistant, path: str) -> bytes:
    """Read an image the user's configuration allows (allowlist_external_dirs)."""
    if not hass.config.is_allowed_path(path):
        raise _invalid("path_not_allowed", path=path)
    try:
        return await hass.async_add_executor_job(Path(path).read_bytes)
    except OSError as err:
        raise _invalid("file_unreadable", path=path, error=str(err)) from err


def file_source(path: str, camera: str | None) -> str:
    """Return the camera name a file's recognition goes by: the engine's `detectorName`.

    The engine stores the name with each detection and the response repeats it, so it must
    never be a filesystem path: the `camera` field if given, else the file's stem, slugged
    either way (`/media/Door Cam.jpg` → `door_cam`).
    """
    return slugify(camera or Path(path).stem)


async def async_recognize(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    """Recognise each camera's snapshot and the file, in order; return every result."""
    entry = _loaded_entry(hass, call.data.get(ATTR_CONFIG_ENTRY_ID))
    cameras: list[str] = call.data[ATTR_CAMERA_ENTITY_ID]
    path: str | None = call.data.get(ATTR_FILE_PATH)
    if not cameras and not path:
        raise _invalid("no_image_source")
    for camera in cameras:
        if hass.states.get(camera) is None or not camera.startswith("camera."):
            raise _invalid("camera_not_found", camera=camera)
    image = None if path is None else await _async_read_file(hass, path)
    recognizer = entry.runtime_data.recognizer
    results: list[JsonValueType] = [
        await recognizer.async_recognize_camera(camera) for camera in cameras
    ]
    if path is not None and image is not None:
        source = file_source(path, call.data.get(ATTR_CAMERA))
        results.append(await recognizer.async_recognize_image(source, image))
    return {"results": results}
