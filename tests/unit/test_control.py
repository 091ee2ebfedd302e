"""The control loop and the discovery announcer, driven with an injected clock (no sleeps)."""

from __future__ import annotations

import logging

import pytest

from econnect_bridge.announcer import DiscoveryAnnouncer
from econnect_bridge.control import (
    DISCOVERY_SETTLE,
    HEALTH_EVERY,
    ROSTER_WAIT,
    ControlEvent,
    ControlLoop,
)
from econnect_bridge.discovery import DiscoveryContext, device_messages, device_topic
from econnect_bridge.messages import Incoming
from econnect_bridge.roster import Roster
from tests.support.device_discovery import announced

CONTEXT = DiscoveryContext()
BRIDGE_DEVICE = device_topic(CONTEXT, "econnect")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """A publisher and a pipeline in one: records what the loop asked for."""

    def __init__(self) -> None:
        self.published: list[tuple[str, bytes, bool]] = []
        self.first_states: list[tuple[str, ...]] = []
        self.subjects: list[tuple[tuple[str, ...], tuple[str, ...], bool]] = []
        self.ticks = 0
        self.health = 0

    def publish(
        self, topic: str, payload: bytes | str, *, retain: bool = False, qos: int | None = None
    ) -> bool:
        data = payload.encode() if isinstance(payload, str) else payload
        self.published.append((topic, data, retain))
        return True

    def add_subjects(
        self, *, persons: tuple[str, ...], tags: tuple[str, ...], announce: bool
    ) -> None:
        self.subjects.append((persons, tags, announce))

    def tick(self) -> None:
        self.ticks += 1

    def publish_health(self) -> None:
        self.health += 1

    def publish_health_if_changed(self) -> bool:
        return False

    def configs(self) -> list[str]:
        return [topic for topic, payload, _ in self.published if payload]

    def removals(self) -> list[str]:
        return [topic for topic, payload, _ in self.published if not payload]

    def entities(self, topic: str | None = None) -> dict[str, dict[str, object]]:
        """The entities announced so far (on one device config's `topic` if given)."""
        sent = [(t, payload) for t, payload, _ in self.published if topic in (None, t)]
        return announced(sent)


def build(
    *, cameras: tuple[str, ...] = ("front_door",), dynamic: bool = False, roster: bool = False
) -> tuple[ControlLoop, DiscoveryAnnouncer, Recorder, FakeClock]:
    recorder = Recorder()
    clock = FakeClock()
    announcer = DiscoveryAnnouncer(
        context=DiscoveryContext(cameras=cameras, tags=("VIP",)),
        publisher=recorder,
        first_states=recorder.first_states.append,
        dynamic=dynamic,
    )
    loop = ControlLoop(announcer=announcer, pipeline=recorder, roster_expected=roster, clock=clock)
    return loop, announcer, recorder, clock


def camera_entities(recorder: Recorder, camera: str) -> list[str]:
    """The unique ids announced on the camera's device, each of them the camera's own."""
    found = list(recorder.entities(device_topic(CONTEXT, f"econnect_{camera}")))
    assert all(unique_id.startswith(f"econnect_{camera}_") for unique_id in found)
    return found


def test_announce_waits_for_the_retained_configs_then_sends_every_entity() -> None:
    loop, _, recorder, clock = build()
    loop.step(ControlEvent("connected"))
    assert recorder.published == []
    clock.now += DISCOVERY_SETTLE
    loop.step(None)
    expected = device_messages(DiscoveryContext(cameras=("front_door",), tags=("VIP",)))
    sent = {topic: payload for topic, payload, _ in recorder.published}
    assert sent == {m.topic: m.encode() for m in expected}
    assert recorder.removals() == []
    assert all(retain for _, _, retain in recorder.published)
    assert recorder.first_states == [("front_door",)]
    assert camera_entities(recorder, "front_door")


def test_home_assistant_online_announces_camera_entities_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop, _, recorder, clock = build(dynamic=True)
    loop.step(ControlEvent("connected"))
    clock.now += DISCOVERY_SETTLE
    loop.step(None)
    loop.step(ControlEvent("camera", "yard"))
    recorder.published.clear()
    with caplog.at_level(logging.INFO, logger="econnect_bridge.app"):
        loop.step(ControlEvent("ha_online"))
    assert camera_entities(recorder, "front_door")
    assert camera_entities(recorder, "yard")
    lines = [r.getMessage() for r in caplog.records if "Announced" in r.getMessage()]
    assert lines == [f"Announced {len(recorder.entities())} Home Assistant entities"]
    assert recorder.first_states == [("front_door",)]  # first states once, not per announce


def test_first_announce_removes_configs_the_configuration_dropped() -> None:
    loop, announcer, recorder, clock = build()
    stale = "homeassistant/sensor/econnect/econnect_old_camera_last_person/config"
    announcer.note_retained(Incoming(stale, b"{}", qos=1, retain=True))
    loop.step(ControlEvent("connected"))
    clock.now += DISCOVERY_SETTLE
    loop.step(None)
    assert recorder.removals() == [stale]
    recorder.published.clear()
    loop.step(ControlEvent("ha_online"))
    assert recorder.removals() == []


def test_a_new_camera_after_the_announce_sends_only_its_entities() -> None:
    loop, _, recorder, clock = build(dynamic=True)
    loop.step(ControlEvent("connected"))
    clock.now += DISCOVERY_SETTLE
    loop.step(None)
    before = recorder.entities()
    recorder.published.clear()
    loop.step(ControlEvent("camera", "yard"))
    assert recorder.configs() == [device_topic(CONTEXT, "econnect_yard")]
    assert camera_entities(recorder, "yard")
    assert set(recorder.entities()).isdisjoint(before)
    recorder.published.clear()
    loop.step(ControlEvent("camera", "yard"))
    assert recorder.published == []


def test_first_announce_waits_for_the_roster_at_most_roster_wait() -> None:
    loop, _, recorder, clock = build(roster=True)
    loop.step(ControlEvent("connected"))
    clock.now += DISCOVERY_SETTLE + ROSTER_WAIT / 2
    loop.step(None)
    assert recorder.configs() == []
    loop.step(ControlEvent("roster", roster=Roster(tags=("Family",), persons=("Jane Doe",))))
    jane = recorder.entities().get("econnect_person_present_jane_doe")
    assert jane is not None, "the roster's person was not announced"
    assert jane["platform"] == "binary_sensor"
    assert recorder.subjects == [(("Jane Doe",), ("VIP", "Family"), False)]


def test_without_a_roster_the_announce_goes_out_after_roster_wait() -> None:
    loop, _, recorder, clock = build(roster=True)
    loop.step(ControlEvent("connected"))
    clock.now += DISCOVERY_SETTLE + ROSTER_WAIT - 0.1
    loop.step(None)
    assert recorder.configs() == []
    clock.now += 0.2
    loop.step(None)
    assert recorder.configs()


def test_a_roster_after_the_announce_adds_its_people_as_absent() -> None:
    loop, _, recorder, clock = build()
    loop.step(ControlEvent("connected"))
    clock.now += DISCOVERY_SETTLE
    loop.step(None)
    before = recorder.entities(BRIDGE_DEVICE)
    recorder.published.clear()
    loop.step(ControlEvent("roster", roster=Roster(persons=("Bob",))))
    assert recorder.configs() == [BRIDGE_DEVICE]  # the cameras' devices are not sent again
    after = recorder.entities(BRIDGE_DEVICE)
    added = set(after) - set(before)
    assert added
    assert all("bob" in unique_id for unique_id in added)
    assert set(before) <= set(after)  # the bridge's other entities stay
    assert recorder.subjects == [(("Bob",), ("VIP",), True)]


def test_health_is_published_at_connect_and_every_health_every() -> None:
    loop, _, recorder, clock = build()
    loop.step(None)
    assert recorder.health == 1
    clock.now += HEALTH_EVERY - 1
    loop.step(None)
    assert recorder.health == 1
    loop.step(ControlEvent("connected"))
    assert recorder.health == 2
    clock.now += HEALTH_EVERY
    loop.step(None)
    assert recorder.health == 3
    assert recorder.ticks == 4


def test_the_previous_states_are_restored_once_before_the_first_announce() -> None:
    recorder, clock = Recorder(), FakeClock()
    order: list[str] = []
    announcer = DiscoveryAnnouncer(
        context=DiscoveryContext(cameras=("front_door",)),
        publisher=recorder,
        first_states=lambda _cameras: order.append("first states"),
        dynamic=False,
        enabled=False,  # discovery off: the states are restored all the same
    )
    loop = ControlLoop(
        announcer=announcer,
        pipeline=recorder,
        restore=lambda: order.append("restore"),
        clock=clock,
    )
    loop.step(ControlEvent("connected"))
    assert order == []  # the retained states are still arriving
    clock.now += DISCOVERY_SETTLE
    loop.step(None)
    loop.step(ControlEvent("connected"))  # a reconnect does not restore again
    clock.now += DISCOVERY_SETTLE
    loop.step(None)
    assert order == ["restore"]
