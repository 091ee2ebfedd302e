"""The announcer over a run: first start of this version, later starts, cameras and rosters."""

from __future__ import annotations

import json

from econnect_bridge.announcer import DiscoveryAnnouncer
from econnect_bridge.discovery import DiscoveryContext, device_messages, discovery_messages
from econnect_bridge.discovery_migration import MIGRATION_PAUSE
from econnect_bridge.messages import Incoming

CTX = DiscoveryContext(cameras=("front_door",), tags=("VIP",))
PAUSE = ("pause", b"", False)


class Broker:
    """Records publishes (and pauses) in order, and keeps what a broker would retain."""

    def __init__(self, retained: dict[str, bytes] | None = None) -> None:
        self.retained = dict(retained or {})
        self.sent: list[tuple[str, bytes, bool]] = []
        self.pauses: list[float] = []

    def publish(
        self, topic: str, payload: bytes | str, *, retain: bool = False, qos: int | None = None
    ) -> bool:
        data = payload.encode() if isinstance(payload, str) else payload
        assert qos == 1
        self.sent.append((topic, data, retain))
        if retain and data:
            self.retained[topic] = data
        elif retain:
            self.retained.pop(topic, None)
        return True

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.sent.append(PAUSE)

    def topics(self) -> list[str]:
        return [topic for topic, _, _ in self.sent if (topic, b"", False) != PAUSE]


def start(
    broker: Broker, ctx: DiscoveryContext = CTX, *, dynamic: bool = False
) -> tuple[DiscoveryAnnouncer, list[tuple[str, ...]]]:
    first_states: list[tuple[str, ...]] = []
    announcer = DiscoveryAnnouncer(
        context=ctx,
        publisher=broker,
        first_states=first_states.append,
        dynamic=dynamic,
        sleep=broker.sleep,
    )
    for topic, payload in broker.retained.items():
        announcer.note_retained(Incoming(topic, payload, retain=True, qos=1))
    return announcer, first_states


def test_a_fresh_broker_gets_the_device_configs_only() -> None:
    broker = Broker()
    announcer, first_states = start(broker)
    assert announcer.announce() == len(discovery_messages(CTX))
    assert broker.topics() == [m.topic for m in device_messages(CTX)]
    assert broker.pauses == []
    assert first_states == [("front_door",)]
    assert all(retain for _, _, retain in broker.sent)


def test_first_start_of_this_version_migrates_in_order_then_a_second_start_does_not() -> None:
    old = {m.topic: m.encode() for m in discovery_messages(CTX)}
    broker = Broker(old)
    announcer, _ = start(broker)
    announcer.announce()
    pause = broker.sent.index(PAUSE)
    migrations, rest = broker.sent[:pause], broker.sent[pause + 1 :]
    assert sorted(t for t, _, _ in migrations) == sorted(old)
    assert all(json.loads(p) == {"migrate_discovery": True} for _, p, _ in migrations)
    devices = [m.topic for m in device_messages(CTX)]
    assert [t for t, _, _ in rest[: len(devices)]] == devices
    assert sorted(t for t, p, _ in rest[len(devices) :] if p == b"") == sorted(old)
    assert broker.pauses == [MIGRATION_PAUSE]
    assert sorted(broker.retained) == sorted(devices)

    again = Broker(broker.retained)
    second, _ = start(again)
    second.announce()
    assert again.pauses == []
    assert again.topics() == devices
    assert not any(b"migrate_discovery" in payload or not payload for _, payload, _ in again.sent)


def test_a_configuration_that_dropped_a_camera_removes_it() -> None:
    before = DiscoveryContext(cameras=("front_door", "garage"), tags=("VIP",))
    broker = Broker({m.topic: m.encode() for m in device_messages(before)})
    announcer, _ = start(broker)
    announcer.announce()
    assert "homeassistant/device/econnect/econnect_garage/config" not in broker.retained
    assert ("homeassistant/device/econnect/econnect_garage/config", b"", True) in broker.sent


def test_home_assistant_online_resends_the_devices_without_removals_or_migrations() -> None:
    old = {m.topic: m.encode() for m in discovery_messages(CTX)}
    broker = Broker(old)
    announcer, first_states = start(broker)
    announcer.announce()
    broker.sent.clear()
    announcer.announce()
    assert broker.topics() == [m.topic for m in device_messages(CTX)]
    assert all(payload for _, payload, _ in broker.sent)
    assert broker.pauses == [MIGRATION_PAUSE]  # the first start's only
    assert first_states == [("front_door",)]


def test_a_camera_learnt_later_is_migrated_when_it_appears() -> None:
    both = DiscoveryContext(cameras=("front_door", "yard"), tags=("VIP",))
    old = {m.topic: m.encode() for m in discovery_messages(both)}
    broker = Broker(old)
    announcer, _ = start(broker, dynamic=True)
    announcer.announce()
    yard = sorted(t for t in old if "_yard_" in t)
    assert not any(t in yard for t in broker.topics())  # not known yet: left alone
    broker.sent.clear()
    assert announcer.add_camera("yard") == len(yard)
    assert announcer.add_camera("yard") == 0
    pause = broker.sent.index(PAUSE)
    assert sorted(t for t, _, _ in broker.sent[:pause]) == yard
    after = broker.sent[pause + 1 :]
    assert after[0][0] == "homeassistant/device/econnect/econnect_yard/config"
    assert sorted(t for t, p, _ in after if not p) == yard
    assert not any(t.endswith("/econnect_front_door/config") for t, _, _ in broker.sent)


def test_a_roster_resends_the_bridge_device_only() -> None:
    broker = Broker()
    announcer, _ = start(broker)
    assert announcer.add_subjects(tags=("Staff",), persons=()) is True  # before: context only
    assert broker.sent == []
    announcer.announce()
    broker.sent.clear()
    assert announcer.add_subjects(tags=("Staff",), persons=("Jane Doe",)) is True
    assert broker.topics() == ["homeassistant/device/econnect/econnect/config"]
    assert announcer.add_subjects(tags=(), persons=("Jane Doe",)) is False


def test_discovery_off_publishes_nothing() -> None:
    broker = Broker({m.topic: m.encode() for m in discovery_messages(CTX)})
    announcer = DiscoveryAnnouncer(
        context=CTX,
        publisher=broker,
        first_states=lambda _c: None,
        dynamic=False,
        enabled=False,
        sleep=broker.sleep,
    )
    assert announcer.announce() == 0
    assert announcer.add_camera("yard") == 0
    assert broker.sent == []
