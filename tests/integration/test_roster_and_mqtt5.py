"""The roster read from the engine, and the bridge over MQTT 5."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from econnect_bridge.client import EconnectClient
from econnect_bridge.roster import read_roster
from econnect_identities.rules import FaceRule
from tests.integration.helpers import (
    Probe,
    base_config,
    running_bridge,
    sample,
    wait_for_entity,
    write_config,
)
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


def test_roster_leaves_out_who_is_excluded_on_every_camera(emulator: Any) -> None:
    staff_hidden = (FaceRule(tag="Staff", exclude=True),)
    carol_hidden = (FaceRule(person="Carol White", exclude=True),)
    indoor_only = (FaceRule(tag="Staff", exclude=True, cameras=frozenset({"hall"})),)
    with EconnectClient(emulator.url, username="bridge", password="bridge-password") as client:
        full = read_roster(client)
        no_staff = read_roster(client, rules=staff_hidden)
        no_carol = read_roster(client, rules=carol_hidden)
        hall_only = read_roster(client, rules=indoor_only)
    assert "Staff" not in no_staff.tags
    assert "VIP" in no_staff.tags
    assert set(full.persons) - set(no_staff.persons) == {"Bob Smith"}
    assert "Carol White" not in no_carol.persons
    assert "VIP" in no_carol.tags
    assert hall_only == full  # excluded on one camera only: still seen elsewhere


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
    with running_bridge(write_config(tmp_path / "roster.yaml", text)):
        bob = wait_for_entity(probe, "econnect_person_present_bob_smith", timeout=10)
        staff = wait_for_entity(probe, "econnect_tag_present_staff", timeout=5)
        [state] = probe.wait_for("econnect/persons/carol_white/state", timeout=5)
    assert bob, "Bob Smith's presence was never announced"
    assert staff, "the Staff tag's presence was never announced"
    assert bob[-1]["platform"] == "binary_sensor"
    assert bob[-1]["state_topic"] == "econnect/persons/bob_smith/state"
    assert staff[-1]["platform"] == "binary_sensor"
    assert staff[-1]["state_topic"] == "econnect/tags/staff/state"
    assert state.json()["presence"] == "OFF"
    assert not probe.on("econnect/events")
