"""The `recognize` action: response data, input validation, engine failures and the 403 repair."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLES, EmulatorProcess, SampleCamera, entry_data
from homeassistant.const import CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.econnect_identities.const import DOMAIN


async def call(hass: HomeAssistant, **data: Any) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN, "recognize", data, blocking=True, return_response=True
    )
    assert response is not None
    return response  # type: ignore[return-value]


async def test_response_for_camera_and_file(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    hass.config.allowlist_external_dirs = {str(SAMPLES)}
    response = await call(
        hass,
        config_entry_id=loaded_entry.entry_id,
        camera_entity_id=["camera.front_door"],
        file_path=str(SAMPLES / "bob.png"),
    )
    camera, file = response["results"]
    assert camera["camera"] == "camera.front_door"
    assert camera["schema_version"] == 1
    face = camera["faces"][0]
    assert face["known"] is True
    assert face["person"]["name"] == "Jane Doe"
    assert [t["name"] for t in face["person"]["tags"]] == ["VIP", "Family"]
    assert "addresses" not in face["person"]  # not chosen in the options
    assert file["persons"] == ["Bob Smith"]
    assert file["camera"] == "bob"
    assert file["detector_name"] == "bob"


@pytest.mark.parametrize(
    ("camera", "expected"),
    [(None, "door_cam"), ("Back Door", "back_door"), ("../etc/x", "etc_x")],
)
async def test_file_goes_by_a_camera_name_never_its_path(
    hass: HomeAssistant,
    emulator: EmulatorProcess,
    loaded_entry: MockConfigEntry,
    tmp_path: Path,
    camera: str | None,
    expected: str,
) -> None:
    image = tmp_path / "Door Cam.png"
    image.write_bytes((SAMPLES / "bob.png").read_bytes())
    hass.config.allowlist_external_dirs = {str(tmp_path)}
    data = {"file_path": str(image)} | ({} if camera is None else {"camera": camera})
    response = await call(hass, **data)
    assert response["results"][0]["camera"] == expected
    assert response["results"][0]["persons"] == ["Bob Smith"]
    detections = emulator.stats()["recent_detections"]
    assert [d["detectorName"] for d in detections] == [expected]


async def test_without_response_still_updates_entities(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    await hass.services.async_call(
        DOMAIN, "recognize", {"camera_entity_id": "camera.front_door"}, blocking=True
    )
    assert hass.states.get("sensor.front_door_last_person").state == "Jane Doe"


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({}, "no_image_source"),
        ({"camera_entity_id": ["camera.nope"]}, "camera_not_found"),
        ({"camera_entity_id": ["sensor.nope"]}, "camera_not_found"),
        ({"file_path": "/etc/passwd"}, "path_not_allowed"),
        ({"config_entry_id": "nope", "file_path": "/x"}, "entry_not_found"),
    ],
)
async def test_bad_input(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, data: dict[str, Any], key: str
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, **data)
    assert err.value.translation_key == key
    assert err.value.translation_domain == DOMAIN


async def test_unreadable_file(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, tmp_path: Path
) -> None:
    hass.config.allowlist_external_dirs = {str(tmp_path)}
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, file_path=str(tmp_path / "missing.jpg"))
    assert err.value.translation_key == "file_unreadable"


async def test_entry_must_be_loaded_or_unique(
    hass: HomeAssistant,
    emulator: EmulatorProcess,
    loaded_entry: MockConfigEntry,
) -> None:
    other = MockConfigEntry(domain=DOMAIN, data=entry_data(emulator))
    other.add_to_hass(hass)
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, config_entry_id=other.entry_id, camera_entity_id=["camera.front_door"])
    assert err.value.translation_key == "entry_not_loaded"
    await hass.config_entries.async_unload(loaded_entry.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, camera_entity_id=["camera.front_door"])
    assert err.value.translation_key == "entry_required"


async def test_camera_without_image(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, cameras: dict[str, SampleCamera]
) -> None:
    cameras["camera.front_door"].image = "missing.jpg"
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, camera_entity_id=["camera.front_door"])
    assert err.value.translation_key == "camera_image_failed"


async def test_engine_failure_is_translated(
    hass: HomeAssistant, emulator: EmulatorProcess, loaded_entry: MockConfigEntry
) -> None:
    emulator.admin("faults", {"error_rate": 1.0})
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, camera_entity_id=["camera.front_door"])
    assert err.value.translation_key == "server_error"
    assert not isinstance(err.value, ServiceValidationError)


async def test_engine_gone_marks_entities_unavailable(
    hass: HomeAssistant, emulator: EmulatorProcess, loaded_entry: MockConfigEntry
) -> None:
    emulator.stop()
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, camera_entity_id=["camera.front_door"])
    assert err.value.translation_key == "engine_unreachable"
    assert hass.states.get("sensor.front_door_last_person").state == "unavailable"


@pytest.mark.parametrize("user", [("no-publish", "no-publish-password")])
async def test_missing_permission_raises_a_repair(
    hass: HomeAssistant,
    emulator: EmulatorProcess,
    cameras: dict[str, SampleCamera],
    config_entry: MockConfigEntry,
    user: tuple[str, str],
) -> None:
    hass.config_entries.async_update_entry(
        config_entry,
        data={**config_entry.data, CONF_USERNAME: user[0], CONF_PASSWORD: user[1]},
    )
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, camera_entity_id=["camera.front_door"])
    assert err.value.translation_key == "permission_denied"
    issue_id = f"missing_permission_{config_entry.entry_id}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders["username"] == "no-publish"
    # The administrator grants the permission: the next recognition clears the repair.
    emulator.admin(
        "users", {"username": "no-publish", "permissions": ["Face Publishing", "Read All Identity"]}
    )
    await call(hass, camera_entity_id=["camera.front_door"])
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    await hass.config_entries.async_unload(config_entry.entry_id)


async def test_revoked_password_during_a_call_starts_reauth(
    hass: HomeAssistant, emulator: EmulatorProcess, loaded_entry: MockConfigEntry
) -> None:
    emulator.admin("users", {"username": "bridge", "password": "changed"})
    client = loaded_entry.runtime_data.client
    client._state.token = None
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, camera_entity_id=["camera.front_door"])
    assert err.value.translation_key == "auth_failed"
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == ["reauth"]
