"""A day at the door through the integration: its recognizer, entities, timers and bus events.

The entry is set up against the emulator over real HTTP (sign-in, health check, the sample
cameras), then each step runs the `recognize` action on the step's camera. Only the engine's
answer is scripted, at the recognizer's boundary with the engine (`publish_with_response`),
because the emulator's confidences follow colour distances and the day needs exact ones:
0.90 for a Family face, 0.85 for a VIP. What must hold after every step is
`tests/support/scripted_day.py`'s, the same the bridge's test checks. freezegun moves both
clocks, so the presence windows and cooldowns pass as in the day.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import SampleCamera, advance
from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import EVENT_STATE_CHANGED, MATCH_ALL, STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import Event, HomeAssistant, State, callback
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.econnect_identities.const import (
    CONF_CAMERAS,
    CONF_COOLDOWN,
    CONF_LARGEST_FACE_ONLY,
    CONF_MIN_CONFIDENCE,
    CONF_PRESENCE_TAGS,
    CONF_PRESENCE_TIME,
    CONF_RULES,
    CONF_TRIGGERS,
    CONF_UNCERTAIN_CONFIDENCE,
    DOMAIN,
    EVENT_FACE,
)
from econnect_identities.models import RecognitionResult
from econnect_identities.naming import slugify
from econnect_identities.schemas import validate_payload
from tests.support.scripted_day import (
    ANY,
    CAMERAS,
    DAY,
    EXCLUDED,
    INTEGRATION_OPTIONS,
    PRESENCE_TAGS,
    Step,
    engine_answer,
    expected_faces,
    who_is_named,
)

DAY_OPTIONS = dict(INTEGRATION_OPTIONS)
ENTRY = "econnect_identities_127_0_0_1"


class ScriptedEngine:
    """The engine's answers of the day, at the recognizer's `publish_with_response` call."""

    def __init__(self) -> None:
        self.answer = RecognitionResult()
        self.asked: list[str] = []

    async def publish_with_response(
        self, image: bytes, *, detector_name: str, **_: Any
    ) -> RecognitionResult:
        self.asked.append(detector_name)
        return self.answer


def _state(hass: HomeAssistant, entity_id: str) -> State:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state


def _states(hass: HomeAssistant) -> dict[str, tuple[str, dict[str, Any]]]:
    return {s.entity_id: (s.state, dict(s.attributes)) for s in hass.states.async_all()}


def _check_states(hass: HomeAssistant, step: Step) -> None:
    for camera in CAMERAS:
        last = _state(hass, f"sensor.{camera}_last_person").state
        assert last == (step.last_person[camera] or STATE_UNKNOWN), (step.at, camera)
        known = _state(hass, f"binary_sensor.{camera}_known_person").state
        assert known == (STATE_ON if camera in step.known_at else STATE_OFF), (step.at, camera)
        unknown = _state(hass, f"binary_sensor.{camera}_unknown_face").state
        assert unknown == (STATE_ON if camera in step.unknown_at else STATE_OFF), step.at
    for tag in PRESENCE_TAGS:
        present = _state(hass, f"binary_sensor.tag_presence_{slugify(tag)}_present")
        assert present.state == (STATE_ON if tag in step.tags_present else STATE_OFF), step.at
    for camera in (*CAMERAS, ANY):
        prefix = ENTRY if camera == ANY else camera
        people = _state(hass, f"sensor.{prefix}_people_here")
        assert people.state == str(len(step.here[camera])), (step.at, camera)
        assert people.attributes["names"] == list(step.here[camera]), (step.at, camera)
        unknown_here = _state(hass, f"sensor.{prefix}_unknown_faces_here").state
        assert unknown_here == str(step.unknown_here[camera]), (step.at, camera)


def _check_answer(step: Step, answer: dict[str, Any]) -> None:
    """The action's answer is the recognition event: its type and each face's rule."""
    validate_payload("recognition", answer)
    if step.event_type is None:  # every face excluded: an empty answer
        assert (answer["face_count"], answer["faces"], answer["persons"]) == (0, [], [])
        return
    assert answer["event_type"] == step.event_type
    assert tuple(face["rule"] for face in answer["faces"]) == step.face_rules
    assert [who_is_named(face) for face in answer["faces"]] == expected_faces(step), step.at


def _check_fired(step: Step, changes: list[Event], faces: list[Event]) -> None:
    """The camera's event entity fires once per shown recognition; a bus event per person."""
    for camera in CAMERAS:
        entity_id = f"event.{camera}_recognition"
        fired = [
            dict(e.data["new_state"].attributes)
            for e in changes
            if e.data["entity_id"] == entity_id and e.data["new_state"] is not None
        ]
        if camera != step.camera or step.visit is None:
            assert fired == [], (step.at, camera)
            continue
        [attributes] = fired
        assert attributes["event_type"] == step.visit
        assert attributes["persons"] == sorted(a.person for a in step.announced)
        assert attributes["camera"] == f"camera.{camera}"
    announced = [(e.data["name"], e.data["rule"]) for e in faces]
    assert announced == [(a.person, a.rule) for a in step.announced], step.at


def _nowhere(hass: HomeAssistant, events: list[Event], answers: list[dict[str, Any]]) -> None:
    """The excluded person is in no entity id, state, attribute, event or answer."""
    slug = slugify(EXCLUDED)
    for state in hass.states.async_all():
        text = f"{state.entity_id} {state.state} {state.attributes}"
        for trace in (EXCLUDED, slug, "Staff"):
            assert trace not in text, state.entity_id
    assert all(EXCLUDED not in str(event.data) for event in events)
    assert all(EXCLUDED not in str(answer) for answer in answers)


@pytest.mark.parametrize("options", [DAY_OPTIONS])
async def test_a_day_at_the_door_in_the_integration(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    cameras: dict[str, SampleCamera],
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    option_keys = {CONF_CAMERAS, CONF_TRIGGERS, CONF_LARGEST_FACE_ONLY, CONF_MIN_CONFIDENCE}
    option_keys |= {CONF_UNCERTAIN_CONFIDENCE, CONF_RULES, CONF_COOLDOWN, CONF_PRESENCE_TIME}
    assert set(DAY_OPTIONS) == option_keys | {CONF_PRESENCE_TAGS}  # none silently ignored
    assert dict(loaded_entry.options) == DAY_OPTIONS
    engine = ScriptedEngine()
    client = loaded_entry.runtime_data.recognizer.client
    monkeypatch.setattr(client, "publish_with_response", engine.publish_with_response)
    everything: list[Event] = []

    @callback
    def _listen(event: Event) -> None:
        everything.append(event)

    hass.bus.async_listen(MATCH_ALL, _listen)
    answers: list[dict[str, Any]] = []
    clock = 0
    for step in DAY:
        await advance(hass, step.at - clock, freezer)
        clock = step.at
        already = len(everything)
        before = _states(hass)
        if step.camera is not None:
            engine.answer = engine_answer(step)
            response = await hass.services.async_call(
                DOMAIN,
                "recognize",
                {"camera_entity_id": [f"camera.{step.camera}"]},
                blocking=True,
                return_response=True,
            )
            await hass.async_block_till_done()
            assert response is not None
            [answer] = response["results"]  # type: ignore[call-overload]
            answers.append(dict(answer))
            _check_answer(step, dict(answer))
            assert engine.asked[-1] == f"camera.{step.camera}"
        new = everything[already:]
        changes = [e for e in new if e.event_type == EVENT_STATE_CHANGED]
        _check_fired(step, changes, [e for e in new if e.event_type == EVENT_FACE])
        _check_states(hass, step)
        if step.camera is not None and step.visit is None:  # nothing in Home Assistant moved
            assert _states(hass) == before, step.at
    _nowhere(hass, everything, answers)
