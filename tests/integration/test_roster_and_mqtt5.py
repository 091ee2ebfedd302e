"""The roster read from the engine, and the bridge over MQTT 5."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from econnect_bridge.client import EconnectClient
from econnect_bridge.roster import read_roster
from tests.integration.helpers import Probe, base_config, running_bridge, sample, write_config
from tests.support.mosquitto import MosquittoBroker

pytestmark = pytest.mark.integration


def test_roster_lists_enabled_tags_and_their_people(emulator: Any) -> None:
    with EconnectClient(emulator.url, username="bridge", password="bridge-password") as client:
        roster = read_roster(client)
        only_vip = read_roster(client, only_tags=("vip",))
    assert set(roster.tags) >= {"VIP", "Staff", "Family"}
    assert set(roster.persons) >= {"Jane Doe", "Bob Smith", "Carol White"}
    assert only_vip.tags == ("VIP",)
    assert set(only_vip.persons) == {"Jane Doe", "Carol White"}


def test_roster_without_permission_is_empty_and_says_why(
    emulator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with EconnectClient(
        emulator.url, username="publisher-only", password="publisher-password"
    ) as client:
        assert read_roster(client).tags == ()
    assert "Read All Identity" in caplog.text


def test_bridge_over_mqtt_5(
    tmp_path: Path, emulator: Any, mosquitto: MosquittoBroker, probe: Probe
) -> None:
    text = base_config(emulator.url, mosquitto.port).replace(
        "  base_topic: econnect\n", '  base_topic: econnect\n  protocol: "5"\n'
    )
    with running_bridge(write_config(tmp_path / "v5.yaml", text)):
        probe.publish("frigate/front_door/person/snapshot", sample("carol.jpg"))
        [event] = probe.wait_for("econnect/events")
    assert event.json()["persons"] == ["Carol White"]
    assert probe.on("econnect/bridge/availability")[0].payload == b"online"


def test_roster_entities_exist_before_anyone_is_seen(
    tmp_path: Path, emulator: Any, mosquitto: MosquittoBroker, probe: Probe
) -> None:
    text = base_config(emulator.url, mosquitto.port).replace(
        "  persons: [Jane Doe]\n", "  persons: [Jane Doe]\n  roster: true\n"
    )
    bob_presence = "homeassistant/binary_sensor/econnect/econnect_person_present_bob_smith/config"
    staff_presence = "homeassistant/binary_sensor/econnect/econnect_tag_present_staff/config"
    with running_bridge(write_config(tmp_path / "roster.yaml", text)):
        assert probe.wait_for(bob_presence, timeout=10)
        assert probe.wait_for(staff_presence, timeout=5)
        [state] = probe.wait_for("econnect/persons/carol_white/state", timeout=5)
    assert state.json()["presence"] == "OFF"
    assert not probe.on("econnect/events")
