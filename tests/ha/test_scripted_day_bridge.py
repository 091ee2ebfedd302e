"""A day at the door through the bridge, as Home Assistant's own MQTT integration shows it.

The bridge's real code runs from the engine's answer onward: its configuration read by its
own loader, the rules' judgement and thresholds (`delivery.Delivery`), the state book, the
presence timers and the discovery payloads. Each message it publishes is handed to Home
Assistant's MQTT integration as the broker would deliver it (`async_fire_mqtt_message`), so
the entities are built from the bridge's own discovery configs. Only the engine is scripted:
its answers are `tests/support/scripted_day.py`'s, and so is everything expected after each
step. The bridge's timers run on an injected clock that the steps move.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from homeassistant.const import EVENT_STATE_CHANGED, MATCH_ALL, STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import Event, HomeAssistant, State, callback
from pytest_homeassistant_custom_component.common import async_fire_mqtt_message

from econnect_bridge.app import book_settings, discovery_context, fixed_cameras, topic_subjects
from econnect_bridge.config.model import BridgeConfig
from econnect_bridge.delivery import CameraRules, Delivery
from econnect_bridge.discovery import device_messages
from econnect_bridge.reporting import Reporter
from econnect_bridge.sources import Snapshot, Source, sources_from_config
from econnect_bridge.statebook import StateBook
from econnect_bridge.states import Topics
from econnect_identities.naming import CameraSlugs, slugify
from econnect_identities.schemas import validate_payload
from tests.support.scripted_day import (
    ANY,
    CAMERAS,
    DAY,
    EXCLUDED,
    PRESENCE_PERSONS,
    PRESENCE_TAGS,
    Step,
    bridge_config,
    engine_answer,
    expected_faces,
    who_is_named,
)

Setup = Callable[[], Awaitable[Any]]
START = datetime(2026, 6, 1, 8, 0, 0, tzinfo=UTC)
SNAPSHOT = b"\xff\xd8\xff\xe0scripted-snapshot\xff\xd9"  # the engine is scripted: never decoded


@dataclass
class Broker:
    """The bridge's `Publisher`: every message goes to Home Assistant as a broker delivers it.

    A live publish reaches a subscriber with the retain flag clear, even when it was published
    retained; the messages are kept, in order, for the MQTT side of the checks.
    """

    hass: HomeAssistant
    sent: list[tuple[str, bytes, bool]] = field(default_factory=list)

    def publish(
        self, topic: str, payload: bytes | str, *, retain: bool = False, qos: int | None = None
    ) -> bool:
        data = payload.encode() if isinstance(payload, str) else payload
        self.sent.append((topic, data, retain))
        async_fire_mqtt_message(self.hass, topic, data, qos=1, retain=False)
        return True


@dataclass
class Clock:
    """The bridge's two clocks, moved by the steps: monotonic seconds and the wall clock."""

    seconds: float = 0.0

    def monotonic(self) -> float:
        return 1000.0 + self.seconds

    def wall(self) -> datetime:
        return START + timedelta(seconds=self.seconds)


@dataclass
class Bridge:
    """The bridge's delivery stage, wired as `app.py` wires it, and what it published."""

    config: BridgeConfig
    topics: Topics
    delivery: Delivery
    broker: Broker
    clock: Clock
    sources: dict[str, Source]

    def play(self, step: Step) -> list[tuple[str, bytes, bool]]:
        """Move the clock to the step, let presence expire, deliver its answer; return output."""
        before = len(self.broker.sent)
        self.clock.seconds = step.at
        self.delivery.expire()
        if step.camera is not None:
            source = self.sources[step.camera]
            snapshot = Snapshot(
                camera=step.camera,
                topic=f"cameras/{step.camera}/snapshot",
                image=SNAPSHOT,
                content_type="image/jpeg",
                detect_time=self.clock.wall(),
            )
            self.delivery.deliver(snapshot, source, engine_answer(step), 120.0, delayed=False)
        return self.broker.sent[before:]


def _bridge(hass: HomeAssistant, folder: Path) -> Bridge:
    config = bridge_config(folder)
    topics = Topics(
        config.mqtt.base_topic, CameraSlugs(fixed_cameras(config)[0]), topic_subjects(config)
    )
    clock = Clock()
    broker = Broker(hass)
    reporter = Reporter(broker, topics, retain_state=True, clock=clock.monotonic)
    delivery = Delivery(
        book=StateBook(book_settings(config, topics), wall_clock=clock.wall),
        reporter=reporter,
        publisher=broker,
        topics=topics,
        clock=clock.monotonic,
        wall_clock=clock.wall,
        rules=CameraRules(config.rules, config.processing.camera_defaults),
    )
    sources = {source.fixed_camera: source for source in sources_from_config(config)}
    return Bridge(config, topics, delivery, broker, clock, sources)


@pytest.fixture
def expected_lingering_timers() -> bool:
    """HA's MQTT client keeps a housekeeping timer past the test; it is not ours."""
    return True


@pytest.fixture
async def bridge(
    hass: HomeAssistant, mock_hass_config: None, mqtt_mock_entry: Setup, tmp_path: Path
) -> AsyncIterator[Bridge]:
    """Home Assistant's MQTT integration with the bridge's discovery, states and availability."""
    await mqtt_mock_entry()
    bridge = _bridge(hass, tmp_path)
    context = discovery_context(bridge.config, bridge.topics.slugs, bridge.topics.subjects)
    for message in device_messages(context):  # what the bridge publishes
        async_fire_mqtt_message(hass, message.topic, message.encode(), qos=1, retain=True)
        await hass.async_block_till_done()
    async_fire_mqtt_message(hass, bridge.topics.availability(), b"online", qos=1, retain=True)
    bridge.delivery.initial(CAMERAS)
    await hass.async_block_till_done()
    yield bridge
    for entry in hass.config_entries.async_entries("mqtt"):
        await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


def _state(hass: HomeAssistant, entity_id: str) -> State:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state


def _fired(events: list[Event], entity_id: str) -> list[dict[str, Any]]:
    """The attributes of each firing of an event entity (each one is a state change)."""
    return [
        dict(e.data["new_state"].attributes)
        for e in events
        if e.data["entity_id"] == entity_id and e.data["new_state"] is not None
    ]


def _check_states(hass: HomeAssistant, step: Step) -> None:
    for camera in CAMERAS:
        last = _state(hass, f"sensor.econnect_{camera}_last_person").state
        assert last == (step.last_person[camera] or STATE_UNKNOWN), (step.at, camera)
        known = _state(hass, f"binary_sensor.econnect_{camera}_known_person").state
        assert known == (STATE_ON if camera in step.known_at else STATE_OFF), (step.at, camera)
        unknown = _state(hass, f"binary_sensor.econnect_{camera}_unknown_face").state
        assert unknown == (STATE_ON if camera in step.unknown_at else STATE_OFF), step.at
    for person in PRESENCE_PERSONS:
        present = _state(hass, f"binary_sensor.econnect_person_present_{slugify(person)}")
        assert present.state == (STATE_ON if person in step.persons_present else STATE_OFF)
    for tag in PRESENCE_TAGS:
        present = _state(hass, f"binary_sensor.econnect_tag_present_{slugify(tag)}")
        assert present.state == (STATE_ON if tag in step.tags_present else STATE_OFF), step.at
    for camera in (*CAMERAS, ANY):
        prefix = "econnect" if camera == ANY else f"econnect_{camera}"
        people = _state(hass, f"sensor.{prefix}_people_here")
        assert people.state == str(len(step.here[camera])), (step.at, camera)
        assert people.attributes["names"] == list(step.here[camera]), (step.at, camera)
        unknown_here = _state(hass, f"sensor.{prefix}_unknown_faces_here").state
        assert unknown_here == str(step.unknown_here[camera]), (step.at, camera)


def _check_messages(bridge: Bridge, step: Step, sent: list[tuple[str, bytes, bool]]) -> None:
    """What went out on MQTT: the recognition event, visits and sightings, with their rules."""
    topics = bridge.topics
    payloads = {topic: [json.loads(p) for t, p, _ in sent if t == topic] for topic, _, _ in sent}
    recognitions = payloads.get(topics.events(), [])
    if step.event_type is None:
        assert recognitions == [], step.at
    else:
        [event] = recognitions
        validate_payload("recognition", event)
        assert event["event_type"] == step.event_type
        assert tuple(face["rule"] for face in event["faces"]) == step.face_rules
        assert [who_is_named(face) for face in event["faces"]] == expected_faces(step), step.at
    visits = [v for camera in CAMERAS for v in payloads.get(topics.camera_events(camera), [])]
    if step.visit == "known_person":
        expected = [("known_person", a.person, a.rule) for a in step.announced]
    else:
        expected = [] if step.visit is None else [(step.visit, None, "default")]
    assert [(v["event_type"], v["person"], v["rule"]) for v in visits] == expected, step.at
    seen = [
        (p["person"]["name"], p["rule"])
        for person in PRESENCE_PERSONS
        for p in payloads.get(topics.person_event(person), [])
    ]
    assert sorted(seen) == sorted((a.person, a.rule) for a in step.announced), step.at
    if step.camera is None:  # time passing: states only, never an event
        assert all(retain for _, _, retain in sent), step.at


def _check_retained(bridge: Bridge, step: Step) -> None:
    """The retained states a new subscriber would get now: presence and who is here."""
    retained = {topic: json.loads(p) for topic, p, retain in bridge.broker.sent if retain}
    topics = bridge.topics
    for person in PRESENCE_PERSONS:
        state = retained[topics.person_state(person)]
        assert state["presence"] == ("ON" if person in step.persons_present else "OFF")
    for tag in PRESENCE_TAGS:
        state = retained[topics.tag_state(tag)]
        assert state["presence"] == ("ON" if tag in step.tags_present else "OFF"), step.at
    for camera in (*CAMERAS, ANY):
        topic = topics.here() if camera == ANY else topics.camera_here(camera)
        here = retained[topic]
        validate_payload("here_state", here)
        assert (here["names"], here["people_count"]) == (
            list(step.here[camera]),
            len(step.here[camera]),
        ), (step.at, camera)
        assert here["unknown_count"] == step.unknown_here[camera], (step.at, camera)
    for camera in CAMERAS:
        state = retained[topics.camera_state(camera)]
        assert state["last_person"] == step.last_person[camera], step.at
        assert state["known_person"] == ("ON" if camera in step.known_at else "OFF"), step.at
        assert state["unknown_face"] == ("ON" if camera in step.unknown_at else "OFF"), step.at


def _nowhere(hass: HomeAssistant, events: list[Event], sent: list[tuple[str, bytes, bool]]) -> None:
    """The excluded person is in no message, entity id, state, attribute or event."""
    slug = slugify(EXCLUDED)
    for topic, payload, _ in sent:
        assert slug not in topic
        assert EXCLUDED.encode() not in payload, topic
        assert b"Staff" not in payload, topic
    for state in hass.states.async_all():
        text = f"{state.entity_id} {state.state} {state.attributes}"
        for trace in (EXCLUDED, slug, "Staff"):
            assert trace not in text, state.entity_id
    assert all(EXCLUDED not in str(event.data) for event in events)


async def test_a_day_at_the_door_through_the_bridge(hass: HomeAssistant, bridge: Bridge) -> None:
    events: list[Event] = []

    @callback
    def _listen(event: Event) -> None:
        events.append(event)

    everything: list[Event] = []

    @callback
    def _any(event: Event) -> None:
        everything.append(event)

    hass.bus.async_listen(EVENT_STATE_CHANGED, _listen)
    hass.bus.async_listen(MATCH_ALL, _any)
    for step in DAY:
        already = len(events)
        before = {s.entity_id: (s.state, dict(s.attributes)) for s in hass.states.async_all()}
        sent = bridge.play(step)
        await hass.async_block_till_done()
        _check_messages(bridge, step, sent)
        _check_retained(bridge, step)
        _check_states(hass, step)
        for camera in CAMERAS:
            fired = _fired(events[already:], f"event.econnect_{camera}_recognition")
            if camera != step.camera or step.visit is None:
                assert fired == [], (step.at, camera)
                continue
            expected = [a.person for a in step.announced] or [None]
            assert [f["person"] for f in fired] == expected, step.at
            assert all(f["event_type"] == step.visit for f in fired)
            rules = [a.rule for a in step.announced] or ["default"]
            assert [f["rule"] for f in fired] == rules, step.at
        if step.camera is not None and step.visit is None:  # nothing in Home Assistant moved
            after = {s.entity_id: (s.state, dict(s.attributes)) for s in hass.states.async_all()}
            assert after == before, step.at
    _nowhere(hass, everything, bridge.broker.sent)
