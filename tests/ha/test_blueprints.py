"""The blueprints in blueprints/automation/econnect_bridge/ load and work in Home Assistant.

Each file is parsed with Home Assistant's own blueprint schema (`!input` resolved by HA's YAML
loader), then instantiated as a real automation from a temporary config directory: the
automation must set up without errors, fire on the right event type and call the notify action
with the expected data. The event states mimic both the bridge's MQTT event entity and the
integration's (state: time of the event; attributes: `event_type`, `camera`, `persons`, `tags`).
"""

from __future__ import annotations

import asyncio
import inspect
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint import models
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from homeassistant.util.yaml import load_yaml
from pytest_homeassistant_custom_component.common import (
    async_fire_time_changed,
    async_mock_service,
)

REPO = Path(__file__).resolve().parents[2]
FOLDER = REPO / "blueprints" / "automation" / "econnect_bridge"
TAG_ARRIVAL = "econnect_bridge/notify_tag_arrival.yaml"
UNKNOWN_FACE = "econnect_bridge/notify_unknown_face.yaml"
EVENT = "event.econnect_front_door_recognition"
IMAGE = "image.econnect_front_door_annotated"


def blueprint_files() -> list[Path]:
    return sorted(FOLDER.glob("*.yaml"))


def parse(path: Path) -> models.Blueprint:
    """Build a Blueprint the way HA does, whichever keyword arguments this HA version takes."""
    kwargs: dict[str, Any] = {"expected_domain": "automation", "path": str(path)}
    if "schema" in inspect.signature(models.Blueprint).parameters:
        kwargs["schema"] = AUTOMATION_BLUEPRINT_SCHEMA
    data = load_yaml(path)
    assert isinstance(data, dict)
    return models.Blueprint(data, **kwargs)


def test_both_blueprints_exist() -> None:
    assert [p.name for p in blueprint_files()] == [
        "notify_tag_arrival.yaml",
        "notify_unknown_face.yaml",
    ]


@pytest.mark.parametrize("path", blueprint_files(), ids=lambda p: p.name)
def test_blueprint_parses_with_home_assistants_schema(path: Path) -> None:
    blueprint = parse(path)
    assert blueprint.domain == "automation"
    assert blueprint.name.startswith("eConnect - ")
    assert blueprint.validate() is None  # min_version is met by the oldest supported HA
    for key, spec in blueprint.inputs.items():
        assert spec.get("name"), f"input {key} has no name"
        assert "selector" in spec, f"input {key} has no selector"


# -- as real automations ------------------------------------------------------------------


@pytest.fixture
async def config_dir(hass: HomeAssistant, tmp_path: Path) -> Path:
    """Point HA at a temporary config dir holding the blueprints, as a user would copy them."""
    target = tmp_path / "blueprints" / "automation" / "econnect_bridge"
    target.mkdir(parents=True)
    for path in blueprint_files():
        shutil.copy(path, target / path.name)
    hass.config.config_dir = str(tmp_path)
    return tmp_path


async def setup_automation(hass: HomeAssistant, path: str, inputs: dict[str, Any]) -> None:
    config = {
        "automation": [{"id": "under_test", "use_blueprint": {"path": path, "input": inputs}}]
    }
    assert await async_setup_component(hass, "automation", config)
    await hass.async_block_till_done()
    (state,) = hass.states.async_all("automation")
    assert state.state == "on", f"the automation did not set up: {state.attributes}"


async def settle(hass: HomeAssistant) -> None:
    """Let triggered runs progress without waiting for their delays.

    `hass.async_block_till_done()` would wait for a run's cooldown `delay` in real time; the
    delays are ended by `later()` instead, which moves HA's clock.
    """
    for _ in range(20):
        await asyncio.sleep(0)


async def later(hass: HomeAssistant, seconds: float) -> None:
    """Move HA's clock on, firing the timers of delays and waits that are due by then."""
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=seconds))
    await settle(hass)


@pytest.fixture(autouse=True)
async def finish_runs(hass: HomeAssistant) -> AsyncIterator[None]:
    """End the runs' cooldowns after each test, so no task is left pending at teardown."""
    yield
    for _ in range(3):
        await later(hass, 3600)
    await hass.async_block_till_done()


def fire_event(hass: HomeAssistant, entity_id: str, event_type: str, **attributes: Any) -> None:
    """Set an event entity's state as HA does when it fires: a new timestamp, new attributes."""
    now = dt_util.utcnow().isoformat(timespec="microseconds")
    hass.states.async_set(
        entity_id,
        now,
        {"event_type": event_type, "event_types": ["known_person", "unknown_face", "no_face"]}
        | attributes,
    )


async def test_tag_arrival_notifies_once_per_visit(hass: HomeAssistant, config_dir: Path) -> None:
    calls: list[ServiceCall] = async_mock_service(hass, "notify", "mobile_app_phone")
    hass.states.async_set(EVENT, "unknown")
    await setup_automation(
        hass,
        TAG_ARRIVAL,
        {
            "recognition_events": [EVENT],
            "tag": "vip",
            "notify_action": "notify.mobile_app_phone",
            "cooldown": 60,
        },
    )
    fire_event(hass, EVENT, "known_person", camera="front_door", persons=["Bob"], tags=["Staff"])
    fire_event(hass, EVENT, "unknown_face", camera="front_door", persons=[], tags=[])
    await settle(hass)
    assert calls == [], "neither a person without the tag nor an unknown face notifies"

    fire_event(hass, EVENT, "known_person", camera="front_door", persons=["Jane Doe"], tags=["VIP"])
    await settle(hass)
    assert len(calls) == 1
    assert calls[0].data == {
        "title": "vip at front_door",
        "message": "Jane Doe (vip) was recognised at front_door.",
    }

    fire_event(hass, EVENT, "known_person", camera="front_door", persons=["Jane Doe"], tags=["VIP"])
    await settle(hass)
    assert len(calls) == 1, "a second sighting within the cooldown is silent"

    await later(hass, 61)
    fire_event(hass, EVENT, "known_person", camera="front_door", persons=["Jane Doe"], tags=["VIP"])
    await settle(hass)
    assert len(calls) == 2


async def test_tag_arrival_ignores_availability_changes(
    hass: HomeAssistant, config_dir: Path
) -> None:
    calls: list[ServiceCall] = async_mock_service(hass, "notify", "notify")
    fire_event(hass, EVENT, "known_person", camera="front_door", persons=["Jane"], tags=["VIP"])
    await setup_automation(hass, TAG_ARRIVAL, {"recognition_events": [EVENT]})
    old = hass.states.get(EVENT)
    assert old is not None
    hass.states.async_set(EVENT, "unavailable", old.attributes)
    await settle(hass)
    hass.states.async_set(EVENT, old.state, old.attributes)  # restored, not a new event
    await settle(hass)
    assert calls == []


async def test_unknown_face_notifies_with_the_annotated_image(
    hass: HomeAssistant, config_dir: Path
) -> None:
    calls: list[ServiceCall] = async_mock_service(hass, "notify", "mobile_app_phone")
    hass.states.async_set(EVENT, "unknown")
    picture = f"/api/image_proxy/{IMAGE}?token=abc"
    hass.states.async_set(IMAGE, "2025-05-01T12:00:00+00:00", {"entity_picture": picture})
    await setup_automation(
        hass,
        UNKNOWN_FACE,
        {
            "recognition_event": EVENT,
            "annotated_image": IMAGE,
            "notify_action": "notify.mobile_app_phone",
            "image_wait": 5,
        },
    )
    fire_event(hass, EVENT, "known_person", camera="front_door", persons=["Jane"], tags=[])
    await settle(hass)
    assert calls == []

    fire_event(hass, EVENT, "unknown_face", camera="front_door", unknown_count=2)
    await settle(hass)
    assert calls == [], "it waits for this snapshot's image"
    new_picture = f"/api/image_proxy/{IMAGE}?token=def"
    hass.states.async_set(IMAGE, "2025-05-01T12:00:03+00:00", {"entity_picture": new_picture})
    await settle(hass)
    assert len(calls) == 1
    assert calls[0].data == {
        "title": "Unknown face at front_door",
        "message": "2 unknown face(s) at front_door.",
        "data": {"image": new_picture, "entity_id": IMAGE},
    }


async def test_unknown_face_goes_without_a_new_image_after_the_wait(
    hass: HomeAssistant, config_dir: Path
) -> None:
    calls: list[ServiceCall] = async_mock_service(hass, "notify", "notify")
    hass.states.async_set(EVENT, "unknown")
    hass.states.async_set(IMAGE, "2025-05-01T12:00:00+00:00", {"entity_picture": "/old"})
    await setup_automation(
        hass, UNKNOWN_FACE, {"recognition_event": EVENT, "annotated_image": IMAGE}
    )
    fire_event(hass, EVENT, "unknown_face", camera="front_door", unknown_count=1)
    await settle(hass)
    assert calls == []
    await later(hass, 6)
    assert len(calls) == 1
    assert calls[0].data["data"]["image"] == "/old"
