"""Frigate's events mode end to end: one answer per tracked person, from the best picture.

A real Mosquitto, the engine emulator over HTTP, the bridge in a thread, and a Frigate stand-in
speaking Frigate's HTTP API and its `frigate/events` payloads (tests/support/frigate_standin.py).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from econnect_bridge.emulator.imagegen import SAMPLE_COLOURS, FaceSpec, make_snapshot
from tests.integration.helpers import Probe, running_bridge, write_config
from tests.support.frigate_standin import FrigateMqttPublisher, FrigateStandin, StandinObject
from tests.support.mosquitto import MosquittoBroker

pytestmark = pytest.mark.integration

EVENTS = "econnect/events"
VISITS = "econnect/cameras/front_door/events"
STATE = "econnect/bridge/state"
JANE = SAMPLE_COLOURS["jane"]


def far_away() -> bytes:
    """Jane at the end of the drive: a face of a few pixels, too small to be one."""
    return make_snapshot([FaceSpec(JANE, 640, 300, 6)], width=1280, height=720, seed=3)


def close_up(shift: int = 0, seed: int = 1) -> bytes:
    """Jane at the door; `shift` moves her colour away, for a lower score."""
    colour = (JANE[0] - shift, JANE[1] + shift, JANE[2] + shift)
    return make_snapshot([FaceSpec(colour, 640, 330, 260)], width=1280, height=720, seed=seed)


def a_stranger() -> bytes:
    return make_snapshot(["unknown"], width=1280, height=720, seed=5)


def config_text(emulator_url: str, broker_port: int, frigate: str) -> str:
    return f"""\
api:
  url: {emulator_url}
  username: bridge
  password: bridge-password
mqtt:
  host: 127.0.0.1
  port: {broker_port}
  base_topic: econnect
frigate:
  enabled: true
  cameras: [front_door]
{frigate}
homeassistant:
  persons: [Jane Doe]
processing:
  workers: 2
  cooldown: 0
"""


def events_mode(url: str, **extra: object) -> str:
    keys = {
        "mode": "events",
        "url": url,
        "poll_interval": 0,  # only Frigate's updates: the script decides what is fetched
        "max_attempts": 10,
        "confident_score": 0.999,
        **extra,
    }
    return "\n".join(f"  {key}: {json.dumps(value)}" for key, value in keys.items())


def snapshot_fetches(standin: FrigateStandin, obj: StandinObject) -> int:
    path = f"/api/events/{obj.id}/snapshot.jpg"
    return sum(1 for request in standin.requests if request.path == path)


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def step(
    standin: FrigateStandin,
    frigate_mqtt: FrigateMqttPublisher,
    probe: Probe,
    obj: StandinObject,
    kind: str,
    *,
    answered: bool = True,
) -> None:
    """Publish one frigate/events message and wait until the bridge has dealt with it."""
    fetched = snapshot_fetches(standin, obj)
    processed = _processed(probe)
    frigate_mqtt.publish_event(obj.message(kind))
    if kind == "end":
        return
    assert wait_until(lambda: snapshot_fetches(standin, obj) > fetched), "no picture fetched"
    if answered:
        assert probe.wait_for(STATE, where=lambda p: p.get("processed", 0) > processed)


def _processed(probe: Probe) -> int:
    """The latest bridge state's count (a restarted bridge counts from zero again)."""
    states = [m.json() for m in probe.messages if m.topic == STATE]
    return int(states[-1].get("processed", 0)) if states else 0


def outcomes(probe: Probe, obj: StandinObject) -> list[dict[str, Any]]:
    return [
        m.json()
        for m in probe.messages
        if m.topic == EVENTS and (m.json().get("frigate") or {}).get("event_id") == obj.id
    ]


def test_events_mode_names_the_person_snapshot_mode_missed(
    tmp_path: Path,
    emulator: Any,
    mosquitto: MosquittoBroker,
    probe: Probe,
    standin: FrigateStandin,
    frigate_mqtt: FrigateMqttPublisher,
) -> None:
    # Snapshot mode: Frigate's retained snapshot stays the first frame of a lone person.
    snapshot_cfg = write_config(
        tmp_path / "snapshot.yaml",
        config_text(emulator.url, mosquitto.port, "  mode: snapshot"),
    )
    with running_bridge(snapshot_cfg):
        frigate_mqtt.publish_snapshot("front_door", "person", far_away())
        [event] = probe.wait_for(EVENTS)
    assert (event.json()["outcome"], event.json()["persons"]) == ("no_face", [])

    # Events mode, the same scripted object: far away first, then at the door.
    probe.messages.clear()
    events_cfg = write_config(
        tmp_path / "events.yaml",
        config_text(emulator.url, mosquitto.port, events_mode(standin.url)),
    )
    with running_bridge(events_cfg):
        obj = standin.begin("front_door", frame=far_away(), score=0.72)
        step(standin, frigate_mqtt, probe, obj, "new")
        assert outcomes(probe, obj) == []  # no face yet: a later picture may show one
        obj.improve(close_up(), score=0.9)
        step(standin, frigate_mqtt, probe, obj, "update")
        assert wait_until(lambda: len(outcomes(probe, obj)) == 1)
    [outcome] = outcomes(probe, obj)
    assert (outcome["outcome"], outcome["persons"]) == ("known", ["Jane Doe"])
    assert outcome["frigate"]["event_id"] == obj.id
    assert outcome["frigate"]["url"] == f"{standin.url}/explore?event_id={obj.id}"
    fetched = [r for r in standin.requests if r.path.endswith("/snapshot.jpg")]
    assert all(r.query.get("bbox") == "0" and r.query.get("timestamp") == "0" for r in fetched)


def test_one_person_new_three_updates_end_is_one_event_and_one_write(
    tmp_path: Path,
    emulator: Any,
    mosquitto: MosquittoBroker,
    probe: Probe,
    standin: FrigateStandin,
    frigate_mqtt: FrigateMqttPublisher,
) -> None:
    frigate = events_mode(standin.url, write_sub_label=True, sub_label_min_score=0.5)
    config = write_config(tmp_path / "c.yaml", config_text(emulator.url, mosquitto.port, frigate))
    with running_bridge(config):
        obj = standin.begin("front_door", frame=far_away(), score=0.7, zones=["driveway"])
        step(standin, frigate_mqtt, probe, obj, "new")
        for frame in (close_up(shift=22), a_stranger(), close_up(shift=4, seed=2)):
            obj.improve(frame, zones=["porch"])
            step(standin, frigate_mqtt, probe, obj, "update")
        obj.end()
        step(standin, frigate_mqtt, probe, obj, "end")
        assert wait_until(lambda: len(standin.sub_label_writes) == 1)
        time.sleep(0.5)  # anything more would come now: the object is decided
    [outcome] = outcomes(probe, obj)
    visits = [m.json() for m in probe.messages if m.topic == VISITS]
    assert [v["event_type"] for v in visits] == ["known_person"]
    assert visits[0]["frigate"]["event_id"] == obj.id
    [(event_id, name, score)] = standin.sub_label_writes
    assert (event_id, name) == (obj.id, "Jane Doe")
    first_score = outcome["faces"][0]["confidence"]
    assert score is not None
    assert score > first_score, "the write carries the best attempt's score, not the first's"
    assert outcome["frigate"]["zones"] == ["driveway", "porch"]
    assert snapshot_fetches(standin, obj) == 4  # nothing fetched after the end


def test_required_zone_and_a_frigate_outage_cost_nothing(
    tmp_path: Path,
    emulator: Any,
    mosquitto: MosquittoBroker,
    probe: Probe,
    standin: FrigateStandin,
    frigate_mqtt: FrigateMqttPublisher,
) -> None:
    frigate = events_mode(standin.url, required_zones={"front_door": ["porch"]})
    config = write_config(tmp_path / "c.yaml", config_text(emulator.url, mosquitto.port, frigate))
    with running_bridge(config):
        passer_by = standin.begin("front_door", frame=close_up(), zones=["street"])
        frigate_mqtt.publish_event(passer_by.message("new"))
        visitor = standin.begin("front_door", frame=close_up(seed=4), zones=["porch"])
        standin.fail_next(f"/api/events/{visitor.id}/snapshot.jpg", 503)
        step(standin, frigate_mqtt, probe, visitor, "new", answered=False)  # a 503
        visitor.improve(close_up(seed=6), zones=["porch"])
        step(standin, frigate_mqtt, probe, visitor, "update")
        assert wait_until(lambda: len(outcomes(probe, visitor)) == 1)
        state = probe.wait_for(STATE, where=lambda p: p.get("frigate_fetch_failures") == 1)
    assert state, "the failed fetch was not counted"
    assert snapshot_fetches(standin, passer_by) == 0
    assert outcomes(probe, passer_by) == []


def test_a_restart_while_the_person_is_still_tracked_gives_no_second_event(
    tmp_path: Path,
    emulator: Any,
    mosquitto: MosquittoBroker,
    probe: Probe,
    standin: FrigateStandin,
    frigate_mqtt: FrigateMqttPublisher,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "econnect_bridge.pipeline")
    config = write_config(
        tmp_path / "c.yaml", config_text(emulator.url, mosquitto.port, events_mode(standin.url))
    )
    obj = standin.begin("front_door", frame=close_up(), score=0.9)
    with running_bridge(config):
        step(standin, frigate_mqtt, probe, obj, "new")
        assert wait_until(lambda: len(outcomes(probe, obj)) == 1)
    with running_bridge(config):  # the previous run's retained camera state names the object
        caplog.clear()
        assert wait_until(lambda: "retained state(s) from the broker" in caplog.text)
        before = snapshot_fetches(standin, obj)
        obj.improve(close_up(seed=9), score=0.95)
        frigate_mqtt.publish_event(obj.message("update"))
        later = standin.begin("front_door", frame=close_up(seed=11), score=0.9)
        step(standin, frigate_mqtt, probe, later, "new")  # the bridge is listening
        assert wait_until(lambda: len(outcomes(probe, later)) == 1)
    assert len(outcomes(probe, obj)) == 1
    assert snapshot_fetches(standin, obj) == before


def test_the_annotated_picture_is_the_outcome_s_own(
    tmp_path: Path,
    emulator: Any,
    mosquitto: MosquittoBroker,
    probe: Probe,
    standin: FrigateStandin,
    frigate_mqtt: FrigateMqttPublisher,
) -> None:
    text = config_text(emulator.url, mosquitto.port, events_mode(standin.url))
    config = write_config(tmp_path / "c.yaml", text + "publish:\n  annotated_snapshot: true\n")
    with running_bridge(config):
        obj = standin.begin("front_door", frame=far_away())
        step(standin, frigate_mqtt, probe, obj, "new")  # no face: held back, not shown
        obj.improve(close_up())
        step(standin, frigate_mqtt, probe, obj, "update")
        [annotated] = probe.wait_for("econnect/cameras/front_door/annotated")
    assert annotated.payload.startswith(b"\xff\xd8")  # the close-up, boxed: a JPEG
    assert len(outcomes(probe, obj)) == 1


def test_an_excluded_person_is_never_an_object_s_outcome_nor_its_sub_label(
    tmp_path: Path,
    emulator: Any,
    mosquitto: MosquittoBroker,
    probe: Probe,
    standin: FrigateStandin,
    frigate_mqtt: FrigateMqttPublisher,
) -> None:
    """Jane is excluded: an object showing only her publishes nothing and writes nothing back;
    one showing her then a stranger is the stranger's (unknown), still with no write."""
    frigate = events_mode(standin.url, write_sub_label=True, sub_label_min_score=0.5)
    text = config_text(emulator.url, mosquitto.port, frigate)
    text += "rules:\n  - {person: Jane Doe, exclude: true, cameras: [front_door]}\n"
    with running_bridge(write_config(tmp_path / "c.yaml", text)) as app:
        alone = standin.begin("front_door", frame=close_up(), score=0.8)
        step(standin, frigate_mqtt, probe, alone, "new")
        alone.end()
        step(standin, frigate_mqtt, probe, alone, "end")
        mixed = standin.begin("front_door", frame=close_up(seed=4), score=0.8)
        step(standin, frigate_mqtt, probe, mixed, "new")
        mixed.improve(a_stranger())
        step(standin, frigate_mqtt, probe, mixed, "update")
        mixed.end()
        step(standin, frigate_mqtt, probe, mixed, "end")
        assert wait_until(lambda: len(outcomes(probe, mixed)) == 1)
        time.sleep(0.5)  # anything more would come now: both objects are decided
        assert app.pipeline.health.faces_excluded == 2
    assert outcomes(probe, alone) == []
    [outcome] = outcomes(probe, mixed)
    assert (outcome["outcome"], outcome["persons"]) == ("unknown", [])
    assert standin.sub_label_writes == []
    assert not [m for m in probe.messages if m.topic == "econnect/persons/jane_doe"]
    assert "Jane" not in json.dumps([m.json() for m in probe.messages if m.topic == EVENTS])
