"""The bridge end to end: real Mosquitto, the emulator over HTTP, Frigate-style snapshots."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from econnect_bridge.states import Topics
from econnect_identities.schemas import validate_payload
from tests.integration.helpers import (
    Probe,
    Received,
    announced_entities,
    base_config,
    running_bridge,
    sample,
    wait_for_entity,
    write_config,
)
from tests.support.mosquitto import MosquittoBroker

pytestmark = pytest.mark.integration
TOPICS = Topics("econnect")
FRONT = "frigate/front_door/person/snapshot"
GARAGE = "frigate/garage/person/snapshot"
FRONT_LAST_PERSON = "econnect_front_door_last_person"
GARAGE_LAST_PERSON = "econnect_garage_last_person"
GARAGE_DEVICE = "homeassistant/device/econnect/econnect_garage/config"


def is_discovery(message: Received) -> bool:
    return message.topic.startswith("homeassistant/") and message.topic.endswith("/config")


def config_file(tmp_path: Path, emulator: Any, broker: MosquittoBroker, extra: str = "") -> Path:
    return write_config(tmp_path / "config.yaml", base_config(emulator.url, broker.port, extra))


def assert_all_payloads_match_schema(probe: Probe) -> int:
    """Every JSON payload the bridge published matches the published JSON Schema."""
    checked = 0
    for message in probe.matching(lambda m: m.topic.startswith("econnect/")):
        kind = TOPICS.kind_of(message.topic)
        if kind is None or not message.payload:
            continue
        validate_payload(kind, message.json())
        checked += 1
    return checked


def test_known_person_yields_event_person_tag_and_state(
    tmp_path: Path, emulator: Any, mosquitto: MosquittoBroker, probe: Probe
) -> None:
    with running_bridge(config_file(tmp_path, emulator, mosquitto)):
        probe.publish(FRONT, sample("jane.jpg"))
        [event] = probe.wait_for("econnect/events")
        [person] = probe.wait_for("econnect/persons/jane_doe")
        [vip] = probe.wait_for("econnect/tags/vip")
        state = probe.wait_for(
            "econnect/cameras/front_door/state", where=lambda s: s["last_person"] == "Jane Doe"
        )[-1]
    data = event.json()
    assert data["outcome"] == "known"
    assert data["event_type"] == "known_person"
    assert data["camera"] == "front_door"
    assert data["source_topic"] == FRONT
    assert data["persons"] == ["Jane Doe"]
    assert "VIP" in data["tags"]
    assert data["faces"][0]["person"]["name"] == "Jane Doe"
    assert data["api_latency_ms"] > 0
    assert not event.retain
    assert person.json()["camera"] == "front_door"
    assert vip.json()["tag"] == "VIP"
    camera_state = state.json()
    assert camera_state["known_person"] == "ON"
    assert camera_state["tag_presence"]["vip"] == "ON"
    assert camera_state["face_count"] == 1
    assert state.retain is False  # live delivery; the broker keeps it retained (checked below)
    [visit] = probe.on("econnect/cameras/front_door/events")
    assert visit.json()["type"] == "visit"
    assert visit.json()["event_id"] == data["event_id"]
    assert visit.json()["person"] == "Jane Doe"
    assert "faces" not in visit.json()  # the detail stays on econnect/events
    assert assert_all_payloads_match_schema(probe) >= 5


def test_unknown_no_face_and_group_behave_as_documented(
    tmp_path: Path, emulator: Any, mosquitto: MosquittoBroker, probe: Probe
) -> None:
    with running_bridge(config_file(tmp_path, emulator, mosquitto)):
        for image in ("unknown.jpg", "no_face.jpg", "group.jpg"):
            count = len(probe.on("econnect/events"))
            probe.publish(GARAGE, sample(image))
            probe.wait_for("econnect/events", count + 1)
        unknown_state = probe.wait_for(
            "econnect/cameras/garage/state", where=lambda s: s["outcome"] == "unknown"
        )
    outcomes = [m.json()["outcome"] for m in probe.on("econnect/events")]
    assert outcomes == ["unknown", "no_face", "known"]
    unknown, no_face, group = (m.json() for m in probe.on("econnect/events"))
    assert unknown["event_type"] == "unknown_face"
    assert unknown["faces"][0]["person"] is None
    assert no_face["face_count"] == 0
    # largest_face_only (the default) keeps only Jane's large face out of three.
    assert group["face_count"] == 1
    assert group["persons"] == ["Jane Doe"]
    assert unknown_state[0].json()["unknown_face"] == "ON"
    assert not probe.on("econnect/persons/bob_smith")
    assert_all_payloads_match_schema(probe)


def test_every_face_when_largest_face_only_is_off(
    tmp_path: Path, emulator: Any, mosquitto: MosquittoBroker, probe: Probe
) -> None:
    extra = "  largest_face_only: false\n"
    with running_bridge(config_file(tmp_path, emulator, mosquitto, extra)):
        probe.publish(GARAGE, sample("group.jpg"))
        [event] = probe.wait_for("econnect/events")
    data = event.json()
    assert data["face_count"] == 3
    assert data["known_count"] == 2
    assert data["persons"] == ["Bob Smith", "Jane Doe"]


def test_retained_snapshot_is_not_reprocessed(
    tmp_path: Path, emulator: Any, mosquitto: MosquittoBroker, probe: Probe
) -> None:
    probe.publish(FRONT, sample("jane.jpg"), retain=True)
    with running_bridge(config_file(tmp_path, emulator, mosquitto)) as app:
        time.sleep(1.0)
        assert app.pipeline.health.skipped_retained == 1
        assert not probe.on("econnect/events")
        probe.publish(FRONT, sample("bob.png"), retain=True)  # live: Frigate retains every one
        [event] = probe.wait_for("econnect/events")
    assert event.json()["persons"] == ["Bob Smith"]


def test_cooldown_gives_one_person_event_per_visit(
    tmp_path: Path, emulator: Any, mosquitto: MosquittoBroker, probe: Probe
) -> None:
    with running_bridge(config_file(tmp_path, emulator, mosquitto)):
        for _ in range(4):
            count = len(probe.on("econnect/events"))
            probe.publish(FRONT, sample("jane.jpg"))
            probe.wait_for("econnect/events", count + 1)
        probe.publish(GARAGE, sample("jane.jpg"))  # another camera: its own cooldown
        probe.wait_for("econnect/events", 5)
        time.sleep(0.3)
    assert len(probe.on("econnect/events")) == 5
    person_events = [m.json()["camera"] for m in probe.on("econnect/persons/jane_doe")]
    assert person_events == ["front_door", "garage"]
    assert len(probe.on("econnect/tags/vip")) == 2


def test_presence_turns_off_by_itself(
    tmp_path: Path, emulator: Any, mosquitto: MosquittoBroker, probe: Probe
) -> None:
    with running_bridge(config_file(tmp_path, emulator, mosquitto)):
        probe.publish(FRONT, sample("jane.jpg"))
        probe.wait_for("econnect/persons/jane_doe/state", where=lambda s: s["presence"] == "ON")
        off = probe.wait_for(
            "econnect/persons/jane_doe/state",
            where=lambda s: s["presence"] == "OFF" and s["last_camera"] == "front_door",
            timeout=6,
        )
        camera_off = probe.wait_for(
            "econnect/cameras/front_door/state",
            where=lambda s: s["known_person"] == "OFF" and s["last_person"] == "Jane Doe",
            timeout=6,
        )
    assert off, "person presence never turned off"
    assert camera_off, "camera known-person presence never turned off"


def test_people_here_shows_two_people_at_once_then_nobody(
    tmp_path: Path, emulator: Any, mosquitto: MosquittoBroker, probe: Probe
) -> None:
    from econnect_bridge.emulator.imagegen import make_snapshot

    extra = "  largest_face_only: false\n"
    with running_bridge(config_file(tmp_path, emulator, mosquitto, extra)):
        probe.publish(FRONT, make_snapshot(["jane", "bob"]))
        [door] = probe.wait_for(
            "econnect/cameras/front_door/here", where=lambda s: s["people_count"] == 2
        )
        [anywhere] = probe.wait_for("econnect/bridge/here", where=lambda s: s["people_count"] == 2)
        nobody = probe.wait_for(
            "econnect/bridge/here",
            where=lambda s: s["people_count"] == 0 and s["names"] == [],
            timeout=6,
        )
        door_empty = probe.wait_for(
            "econnect/cameras/front_door/here", where=lambda s: s["people_count"] == 0, timeout=6
        )
    assert sorted(door.json()["names"]) == ["Bob Smith", "Jane Doe"]
    people = {p["name"]: p for p in anywhere.json()["people"]}
    assert people["Jane Doe"]["last_camera"] == "front_door"
    assert people["Jane Doe"]["last_camera_name"] == "Front door"
    assert "VIP" in people["Jane Doe"]["tags"]
    assert nobody, "the bridge's list never emptied"
    assert door_empty, "the camera's list never emptied"
    [entity] = wait_for_entity(probe, "econnect_people_here", timeout=0)  # announced once
    assert entity["platform"] == "sensor"
    assert entity["state_topic"] == "econnect/bridge/here"
    assert entity["json_attributes_topic"] == "econnect/bridge/here"
    assert_all_payloads_match_schema(probe)
    late = Probe(mosquitto.host, mosquitto.port, filters=("econnect/bridge/here",)).start()
    try:  # a subscriber arriving later (Home Assistant restarting) reads "nobody" retained
        [retained] = late.wait_for("econnect/bridge/here")
    finally:
        late.stop()
    assert retained.retain
    assert retained.json()["people_count"] == 0


def test_flood_keeps_latest_per_camera_and_counts_drops(
    tmp_path: Path, emulator: Any, mosquitto: MosquittoBroker, probe: Probe
) -> None:
    emulator.faults.update(latency_ms=300)
    cameras = ["cam_a", "cam_b", "cam_c"]
    extra = "cameras:\n  - name: flood\n    topic: flood/{camera}/snapshot\n"
    with running_bridge(config_file(tmp_path, emulator, mosquitto, extra)) as app:
        for _ in range(9):
            for camera in cameras:
                probe.publish(f"flood/{camera}/snapshot", sample("unknown.jpg"))
        for camera in cameras:  # the newest snapshot of each camera is Jane
            probe.publish(f"flood/{camera}/snapshot", sample("jane.jpg"))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            done = {
                m.json()["camera"]
                for m in probe.on("econnect/events")
                if m.json()["outcome"] == "known"
            }
            if done >= set(cameras):
                break
            time.sleep(0.05)
        time.sleep(0.5)
        health = app.pipeline.health
        processed, dropped = health.processed, health.dropped
    events = [m.json() for m in probe.on("econnect/events")]
    assert processed + dropped == 30
    assert dropped >= 15, f"only {dropped} drops: latest-wins did not hold"
    for camera in cameras:
        mine = [e for e in events if e["camera"] == camera]
        assert mine[-1]["outcome"] == "known", f"{camera}: the newest snapshot did not win"
        assert len(mine) <= 4


def test_bad_payloads_become_error_events(
    tmp_path: Path, emulator: Any, mosquitto: MosquittoBroker, probe: Probe
) -> None:
    extra = (
        "cameras:\n"
        "  - name: jsoncam\n    topic: json/snapshot\n    payload: json\n"
        "    json_image_key: image\n"
    )
    with running_bridge(config_file(tmp_path, emulator, mosquitto, extra)) as app:
        probe.publish(FRONT, b"")
        probe.publish(FRONT, os.urandom(2000))
        probe.publish("json/snapshot", b'{"image": "aGVsbG8gd29ybGQ="}')  # base64 of text
        probe.publish("json/snapshot", b'{"image": "not base64!!"}')
        probe.publish("json/snapshot", b'{"picture": "x"}')
        probe.publish("json/snapshot", b"{broken")
        errors = probe.wait_for("econnect/errors", 6)
        assert app.pipeline.health.errors == 6
        # A truncated JPEG still looks like a JPEG: the engine decides, and finds no face.
        probe.publish(FRONT, sample("jane.jpg")[:300])
        [event] = probe.wait_for("econnect/events")
        assert event.json()["outcome"] == "no_face"
    codes = sorted(m.json()["code"] for m in errors)
    # Frigate topics carry raw images: random bytes are "not_an_image" there.
    assert codes == [
        "bad_base64",
        "bad_json",
        "empty_payload",
        "missing_image",
        "not_an_image",
        "not_an_image",
    ]
    assert all(m.json()["camera"] in ("front_door", "jsoncam") for m in errors)
    assert_all_payloads_match_schema(probe)


def test_engine_refusal_is_an_error_event(
    tmp_path: Path, emulator: Any, mosquitto: MosquittoBroker, probe: Probe
) -> None:
    text = (
        base_config(emulator.url, mosquitto.port)
        .replace("username: bridge\n", "username: no-publish\n")
        .replace("password: bridge-password", "password: no-publish-password")
    )
    with running_bridge(write_config(tmp_path / "c.yaml", text)):
        probe.publish(FRONT, sample("jane.jpg"))
        [error] = probe.wait_for("econnect/errors")
    assert error.json()["code"] == "permission_denied"
    assert "Face Publishing" in error.json()["message"]


def test_discovery_resent_when_home_assistant_comes_online(
    tmp_path: Path, emulator: Any, mosquitto: MosquittoBroker, probe: Probe
) -> None:
    with running_bridge(config_file(tmp_path, emulator, mosquitto)):
        first = wait_for_entity(probe, FRONT_LAST_PERSON)
        time.sleep(0.5)
        configs = len(probe.matching(is_discovery))
        probe.publish("homeassistant/status", "online")
        again = wait_for_entity(probe, FRONT_LAST_PERSON, 2)
        time.sleep(0.5)
        total = len(probe.matching(is_discovery))
    assert first
    assert first[0]["platform"] == "sensor"
    assert len(again) == 2
    assert again[1] == again[0]  # the same entity, announced again
    assert total == 2 * configs
    # offline: the clean stop at the end, on its way to the probe when the bridge returns
    availability = [m.payload for m in probe.wait_for("econnect/bridge/availability", 2)]
    assert availability == [b"online", b"offline"]


def test_camera_dropped_from_config_loses_its_entities(
    tmp_path: Path, emulator: Any, mosquitto: MosquittoBroker, probe: Probe
) -> None:
    with running_bridge(config_file(tmp_path, emulator, mosquitto)):
        assert wait_for_entity(probe, GARAGE_LAST_PERSON)
    text = base_config(emulator.url, mosquitto.port).replace(
        "cameras: [front_door, garage]", "cameras: [front_door]"
    )
    with running_bridge(write_config(tmp_path / "fewer.yaml", text)):
        removed = probe.wait_for(GARAGE_DEVICE, 2, timeout=5)
    assert removed[-1].payload == b""  # the garage's device goes, with its entities
    entities = announced_entities(probe)
    assert GARAGE_LAST_PERSON not in entities
    assert FRONT_LAST_PERSON in entities  # the camera still configured keeps its entities


def test_kill_9_makes_the_broker_publish_offline(
    tmp_path: Path, emulator: Any, mosquitto: MosquittoBroker, probe: Probe
) -> None:
    config = config_file(tmp_path, emulator, mosquitto)
    process = subprocess.Popen(
        [sys.executable, "-m", "econnect_bridge", "run", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        online = probe.wait_for("econnect/bridge/availability", timeout=15)
        assert online
        assert online[-1].payload == b"online"
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        deadline = time.monotonic() + 10
        while probe.on("econnect/bridge/availability")[-1].payload != b"offline":
            assert time.monotonic() < deadline, "no offline after kill -9"
            time.sleep(0.05)
    finally:
        process.kill()
        process.wait(5)


def test_sigterm_publishes_offline_and_exits_0(
    tmp_path: Path, emulator: Any, mosquitto: MosquittoBroker, probe: Probe
) -> None:
    config = config_file(tmp_path, emulator, mosquitto)
    process = subprocess.Popen(
        [sys.executable, "-m", "econnect_bridge", "run", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert probe.wait_for("econnect/bridge/availability", timeout=15)
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
    finally:
        process.kill()
    assert probe.on("econnect/bridge/availability")[-1].payload == b"offline"
    assert process.stderr is not None
    log = process.stderr.read().decode()
    assert "Stopped" in log
    assert "bridge-password" not in log


def test_annotated_snapshot_is_published_when_asked(
    tmp_path: Path, emulator: Any, mosquitto: MosquittoBroker, probe: Probe
) -> None:
    from io import BytesIO

    from PIL import Image

    extra = "publish:\n  annotated_snapshot: true\n"
    with running_bridge(config_file(tmp_path, emulator, mosquitto, extra)):
        probe.publish(GARAGE, sample("jane.jpg"))
        probe.wait_for("econnect/events")
        deadline = time.monotonic() + 5
        while not probe.on("econnect/cameras/garage/annotated") and time.monotonic() < deadline:
            time.sleep(0.05)
    [annotated] = probe.on("econnect/cameras/garage/annotated")
    with Image.open(BytesIO(annotated.payload)) as image:
        assert image.format == "JPEG"
        assert image.size == (640, 480)
        # The box is drawn in the "known" green around Jane's face.
        event = probe.on("econnect/events")[0].json()
        box = event["faces"][0]["box"]
        assert image.convert("RGB").getpixel((box["x"] + 1, box["y"] + box["height"] // 2))[1] > 150


RULES_EXTRA = """\
  uncertain_min_confidence: 0.85
rules:
  - {tag: Family, min_confidence: 0.95}
  - {person: Bob Smith, exclude: true, cameras: [garage]}
"""


def jane_a_little_off() -> bytes:
    """Jane's face 30 colour levels off her reference: the emulator answers about 0.9."""
    from econnect_bridge.emulator.imagegen import SAMPLE_COLOURS, make_snapshot

    red, green, blue = SAMPLE_COLOURS["jane"]
    return make_snapshot([(red, green, blue + 30)])


def test_rules_decide_known_uncertain_and_excluded(
    tmp_path: Path, emulator: Any, mosquitto: MosquittoBroker, probe: Probe
) -> None:
    """Family needs 0.95: Jane close to her reference is known, a little off is uncertain
    (published on econnect/events only); Bob is never published from the garage."""
    with running_bridge(config_file(tmp_path, emulator, mosquitto, RULES_EXTRA)) as app:
        probe.publish(FRONT, sample("jane.jpg"))
        probe.wait_for("econnect/events")
        probe.publish(GARAGE, jane_a_little_off())
        probe.wait_for("econnect/events", 2)
        probe.publish(GARAGE, sample("bob.png"))  # excluded here: nothing at all
        probe.publish(FRONT, sample("bob.png"))  # not excluded at the front door
        probe.wait_for("econnect/persons/bob_smith")
        probe.wait_for("econnect/events", 3)
        time.sleep(0.5)
        assert app.pipeline.health.faces_excluded == 1
        state = probe.wait_for("econnect/bridge/state", where=lambda s: s["faces_excluded"] == 1)
    known, uncertain, bob = (m.json() for m in probe.on("econnect/events"))
    assert (known["outcome"], known["rule"], known["faces"][0]["rule"]) == (
        "known",
        "tag:Family",
        "tag:Family",
    )
    assert known["faces"][0]["confidence"] >= 0.95
    assert (uncertain["outcome"], uncertain["event_type"]) == ("uncertain", "uncertain_face")
    assert (uncertain["uncertain_count"], uncertain["known_count"]) == (1, 0)
    assert uncertain["unknown_count"] == 0
    [face] = uncertain["faces"]
    assert 0.85 <= face["confidence"] < 0.95
    assert (face["known"], face["person"], face["candidate"]["name"]) == (False, None, "Jane Doe")
    assert (bob["camera"], bob["persons"], bob["rule"]) == ("front_door", ["Bob Smith"], "default")
    # The uncertain Jane is no visit, sighting or presence at the garage.
    assert [m.json()["camera"] for m in probe.on("econnect/persons/jane_doe")] == ["front_door"]
    assert not probe.on("econnect/cameras/garage/events")
    garage = [m.json() for m in probe.on("econnect/cameras/garage/state")]
    assert all(s["known_person"] == "OFF" and s["unknown_face"] == "OFF" for s in garage)
    assert all(s["last_person"] is None for s in garage)
    assert [m.json()["camera"] for m in probe.on("econnect/persons/bob_smith")] == ["front_door"]
    assert state[-1].json()["faces_excluded"] == 1
    assert_all_payloads_match_schema(probe)
