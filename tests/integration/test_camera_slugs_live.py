"""Cameras whose names slug alike, live: real Mosquitto, the emulator, a `{camera}` topic.

`Front Door` and `front-door` both slug to `front_door`; each must keep a state topic of its
own, with its own last person, and keep it across a restart whichever camera comes first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from econnect_identities.naming import suffixed_slugs
from tests.integration.helpers import Probe, running_bridge, sample, wait_for_entity, write_config
from tests.support.device_discovery import entries
from tests.support.mosquitto import MosquittoBroker

pytestmark = pytest.mark.integration
PLAIN = "econnect/cameras/front_door/state"
OTHER = f"econnect/cameras/{suffixed_slugs('front-door')[0]}/state"
PLAIN_DEVICE = "homeassistant/device/econnect/econnect_front_door/config"
OTHER_DEVICE = f"homeassistant/device/econnect/econnect_{suffixed_slugs('front-door')[0]}/config"


def _config(tmp_path: Path, emulator: Any, broker: MosquittoBroker) -> Path:
    """A bridge on `cams/{camera}/snapshot` only (no Frigate, no configured camera names)."""
    return write_config(
        tmp_path / "config.yaml",
        f"""\
api:
  url: {emulator.url}
  username: bridge
  password: bridge-password
mqtt:
  host: 127.0.0.1
  port: {broker.port}
  base_topic: econnect
cameras:
  - name: doors
    topic: cams/{{camera}}/snapshot
processing:
  workers: 2
  cooldown: 30
  presence_timeout: 30
""",
    )


def _last_person(probe: Probe, topic: str, person: str) -> list[Any]:
    return probe.wait_for(topic, where=lambda state: state["last_person"] == person)


def test_two_cameras_that_slug_alike_keep_two_states(
    tmp_path: Path, emulator: Any, mosquitto: MosquittoBroker, probe: Probe
) -> None:
    config = _config(tmp_path, emulator, mosquitto)
    with running_bridge(config):
        probe.publish("cams/Front Door/snapshot", sample("jane.jpg"))
        assert _last_person(probe, PLAIN, "Jane Doe"), "Front Door's state never came"
        probe.publish("cams/front-door/snapshot", sample("bob.png"))
        assert _last_person(probe, OTHER, "Bob Smith"), "front-door's state never came"
        front = wait_for_entity(probe, "econnect_front_door_last_person")
        other_id = f"econnect_{OTHER.split('/')[2]}_last_person"
        other = wait_for_entity(probe, other_id)
    assert [m.json()["camera"] for m in probe.on(PLAIN)][-1] == "front_door"
    assert all(m.json()["last_person"] != "Bob Smith" for m in probe.on(PLAIN))
    assert all(m.json()["last_person"] != "Jane Doe" for m in probe.on(OTHER))
    assert front, "Front Door's last person was never announced"
    assert other, "front-door's last person was never announced"
    assert front[-1]["state_topic"] == PLAIN
    assert other[-1]["state_topic"] == OTHER
    assert front[-1]["unique_id"] != other[-1]["unique_id"]
    # two devices, one per camera, each with its own entities
    assert "econnect_front_door_last_person" in entries(probe.on(PLAIN_DEVICE)[-1].payload)
    assert other_id in entries(probe.on(OTHER_DEVICE)[-1].payload)

    probe.clear()
    with running_bridge(config):  # a restart: this time `front-door` comes first
        assert probe.wait_for(OTHER, timeout=15), "the retained states were not restored"
        probe.publish("cams/front-door/snapshot", sample("unknown.jpg"))
        seen = probe.wait_for(OTHER, where=lambda state: state["outcome"] == "unknown")
    assert seen, "front-door lost its slug across the restart"
    assert seen[-1].json()["last_person"] == "Bob Smith"  # its own state, recovered
    assert all(m.json()["outcome"] != "unknown" for m in probe.on(PLAIN))


def test_a_blank_camera_name_never_reaches_the_engine(
    tmp_path: Path, emulator: Any, mosquitto: MosquittoBroker, probe: Probe
) -> None:
    with running_bridge(_config(tmp_path, emulator, mosquitto)):
        probe.publish("cams/ /snapshot", sample("jane.jpg"))
        [error] = probe.wait_for("econnect/errors")
        probe.publish("cams/Front Door/snapshot", sample("jane.jpg"))
        assert _last_person(probe, PLAIN, "Jane Doe"), "the stage stopped after the blank name"
    assert error.json()["source_topic"] == "cams/ /snapshot"
    assert not any(m.json()["camera"] == " " for m in probe.on("econnect/events"))
