"""The bridge and the integration make the same entities from the same inputs.

Both front ends get camera "Front door", tag "VIP" and person "Jane Doe", face pictures on: the
bridge through its discovery context, the integration through its options, the engine's roster
and a recognition of Jane Doe.
Every entity both create must agree on key, platform, device class, name and attribute names,
and each front end must create exactly the rows the shared table gives it.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.econnect_identities.const import DOMAIN
from custom_components.econnect_identities.options import EntryOptions
from econnect_bridge.discovery import DiscoveryContext, discovery_messages
from econnect_identities import RecognitionResult, entities
from econnect_identities.entities import EntityRow
from econnect_identities.events import Sighting, recognition_event
from econnect_identities.naming import camera_unique_id, health_unique_id, subject_unique_id
from econnect_identities.policy import DEFAULT_POLICY, RecognitionPolicy

CAMERA, TAG, PERSON = "Front door", "VIP", "Jane Doe"
NODE = "econnect"
# Attributes every Home Assistant entity may have; they are not the entity's own data.
_HA_ATTRIBUTES = {
    "friendly_name",
    "device_class",
    "icon",
    "unit_of_measurement",
    "state_class",
    "event_type",
    "event_types",
    "entity_picture",
    "access_token",
}
Described = dict[str, tuple[str, str | None, str, tuple[str, ...]]]


def _bridge_unique_id(row: EntityRow) -> str:
    if row.scope in {"health", "bridge"}:
        return health_unique_id(NODE, row.kind)
    if row.scope in {"tag", "person"}:
        return subject_unique_id(NODE, TAG if row.scope == "tag" else PERSON, row.kind)
    suffix = "_vip" if row.scope == "camera_tag" else ""
    return camera_unique_id(NODE, CAMERA, row.kind) + suffix


def _bridge_attributes(payload: dict[str, Any]) -> tuple[str, ...]:
    if payload["default_entity_id"].startswith("event."):
        return entities.RECOGNITION.attributes  # the event payload's keys, checked below
    template = payload.get("json_attributes_template", "")
    return tuple(re.findall(r"'([a-z_]+)': value_json", template))


def test_the_bridge_event_payload_carries_the_event_attributes() -> None:
    sighting = Sighting(camera=CAMERA, detector_name=CAMERA, detect_time=datetime.now(UTC))
    payload = recognition_event(RecognitionResult(), sighting)
    assert set(entities.RECOGNITION.attributes) <= set(payload)


def _bridge() -> Described:
    ctx = DiscoveryContext(
        cameras=(CAMERA,), tags=(TAG,), persons=(PERSON,), annotated=True, face_pictures=True
    )
    payloads = {
        p["unique_id"]: p for p in (json.loads(m.encode()) for m in discovery_messages(ctx))
    }
    found: Described = {}
    for row in entities.rows_for("bridge"):
        payload = payloads.pop(_bridge_unique_id(row))
        platform = payload["default_entity_id"].split(".")[0]
        found[f"{row.scope}:{row.key}"] = (
            platform,
            payload.get("device_class"),
            payload["name"],
            _bridge_attributes(payload),
        )
    assert payloads == {}  # nothing outside the table
    return found


def _integration(hass: HomeAssistant, entry: MockConfigEntry) -> Described:
    registry, devices = er.async_get(hass), dr.async_get(hass)
    found: Described = {}
    for item in er.async_entries_for_config_entry(registry, entry.entry_id):
        state = hass.states.get(item.entity_id)
        assert state is not None, item.entity_id
        device = devices.async_get(item.device_id) if item.device_id else None
        assert device is not None
        assert device.name
        name = str(state.attributes["friendly_name"]).removeprefix(f"{device.name} ")
        scope = _integration_scope(item.unique_id, entry.entry_id.lower())
        if scope == "person" and not item.unique_id.endswith("_jane_doe"):
            continue  # the roster's other people; the bridge's context names Jane Doe only
        attributes = tuple(k for k in state.attributes if k not in _HA_ATTRIBUTES)
        found[f"{scope}:{item.translation_key}"] = (
            item.domain,
            state.attributes.get("device_class"),
            name,
            attributes,
        )
    return found


def _integration_scope(unique_id: str, node: str) -> str:
    if unique_id.startswith(f"{node}_camera_front_door_"):
        return "camera"
    if unique_id.startswith(f"{node}_person_face_"):
        return "person"
    if unique_id.endswith(("_people_here", "_unknown_faces_here")):
        return "bridge"  # the entry's, on the engine's device
    return "tag" if unique_id.endswith("_vip") else "health"


@pytest.mark.parametrize(
    "options",
    [
        {
            "cameras": ["camera.front_door"],
            "presence_tags": [TAG],
            "presence_time": 60,
            "face_pictures": True,
        }
    ],
)
async def test_both_front_ends_make_the_same_entities(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    registry = er.async_get(hass)
    for item in er.async_entries_for_config_entry(registry, loaded_entry.entry_id):
        if item.disabled_by is not None:  # the latency sensor is off by default
            registry.async_update_entity(item.entity_id, disabled_by=None)
    await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    await hass.services.async_call(
        DOMAIN, "recognize", {"camera_entity_id": ["camera.front_door"]}, blocking=True
    )
    await hass.async_block_till_done()

    bridge, integration = _bridge(), _integration(hass, loaded_entry)
    expected = {f"{row.scope}:{row.key}" for row in entities.rows_for("integration")}
    assert set(integration) == expected
    for key, described in integration.items():
        assert described == bridge[key], key
    assert bridge["camera:last_person"][3] == (
        "person_id",
        "tags",
        "confidence",
        "quality",
        "last_seen",
        "frigate_event_id",
    )
    assert bridge["tag:tag_present"][1:3] == ("occupancy", "VIP present")


def test_the_options_give_the_shared_policy_in_fractions() -> None:
    options = EntryOptions.from_mapping({"min_confidence": 80, "min_quality": 50})
    assert options.policy == RecognitionPolicy(
        min_confidence=0.8, min_face_quality=0.5, person_fields=DEFAULT_POLICY.person_fields
    )
    assert EntryOptions.from_mapping({}).policy == DEFAULT_POLICY
