"""Face pictures on a real Mosquitto: a known person's face, a camera's unknown face, retained;
none for uncertain or excluded faces; none at all by default; turning them off clears them;
Frigate's events mode pictures the outcome of each object."""

from __future__ import annotations

import json
import time
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from econnect_identities.face_picture import DEFAULT_MAX_BYTES, DEFAULT_MAX_SIDE
from tests.integration.helpers import (
    Probe,
    base_config,
    running_bridge,
    sample,
    write_config,
)
from tests.integration.test_bridge_e2e import FRONT, GARAGE, RULES_EXTRA, jane_a_little_off
from tests.integration.test_frigate_events_mode import (
    a_stranger,
    close_up,
    events_mode,
    step,
)
from tests.integration.test_frigate_events_mode import config_text as frigate_config
from tests.support.frigate_standin import FrigateMqttPublisher, FrigateStandin
from tests.support.mosquitto import MosquittoBroker

pytestmark = pytest.mark.integration
JANE_FACE = "econnect/persons/jane_doe/face"
BOB_FACE = "econnect/persons/bob_smith/face"
GARAGE_UNKNOWN = "econnect/cameras/garage/unknown_face"
FRONT_UNKNOWN = "econnect/cameras/front_door/unknown_face"
ON = "publish:\n  face_pictures: true\n"


def _config(tmp_path: Path, emulator: Any, broker: MosquittoBroker, extra: str) -> Path:
    return write_config(tmp_path / "config.yaml", base_config(emulator.url, broker.port, extra))


def _jpeg_size(payload: bytes) -> tuple[int, int]:
    with Image.open(BytesIO(payload)) as image:
        assert image.format == "JPEG"
        return image.size


def _retained(broker: MosquittoBroker, *filters: str) -> dict[str, bytes]:
    """What a new subscriber gets from the broker at once: the retained messages."""
    probe = Probe("127.0.0.1", broker.port, filters).start()
    try:
        time.sleep(0.5)
        return {m.topic: m.payload for m in probe.messages if m.retain}
    finally:
        probe.stop()


def _image_entities(configs: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    """The image entities of discovery configs, by image topic, whatever their shape.

    A config is one entity (`<prefix>/image/<node>/<id>/config`) or one device with its
    entities in `components`; an empty payload is a removed config.
    """
    found: dict[str, dict[str, Any]] = {}
    for payload in configs.values():
        if not payload:
            continue
        config = json.loads(payload)
        for entity in (config, *config.get("components", {}).values()):
            if "image_topic" in entity:
                found[entity["image_topic"]] = {**config, **entity}
    return found


def _configs(probe: Probe) -> dict[str, bytes]:
    """The latest payload of each discovery config the probe saw."""
    return {m.topic: m.payload for m in probe.matching(lambda m: m.topic.endswith("/config"))}


def _wait(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_known_and_unknown_faces_are_pictured_and_retained(
    tmp_path: Path, emulator: Any, mosquitto: MosquittoBroker, probe: Probe
) -> None:
    extra = RULES_EXTRA.replace("rules:", ON + "rules:")
    with running_bridge(_config(tmp_path, emulator, mosquitto, extra)) as app:
        probe.publish(FRONT, sample("jane.jpg"))
        [face] = probe.wait_for(JANE_FACE)
        probe.publish(GARAGE, jane_a_little_off())  # uncertain: no picture
        probe.wait_for("econnect/events", 2)
        probe.publish(GARAGE, sample("bob.png"))  # excluded at the garage: no picture
        _wait(lambda: app.pipeline.health.faces_excluded == 1)
        probe.publish(GARAGE, sample("unknown.jpg"))
        [unknown] = probe.wait_for(GARAGE_UNKNOWN)
        probe.wait_for("econnect/events", 3)
        _wait(lambda: JANE_FACE in _image_entities(_configs(probe)))
        time.sleep(0.5)
    assert max(_jpeg_size(face.payload)) <= DEFAULT_MAX_SIDE
    assert len(face.payload) <= DEFAULT_MAX_BYTES
    assert len(probe.on(JANE_FACE)) == 1  # not the uncertain Jane from the garage
    assert not probe.on(BOB_FACE)
    assert not probe.on(FRONT_UNKNOWN)  # Jane was known there: no unknown face
    assert len(probe.on(GARAGE_UNKNOWN)) == 1  # neither the uncertain Jane nor Bob
    _jpeg_size(unknown.payload)
    images = _image_entities(_configs(probe))
    assert images[JANE_FACE]["name"] == "Jane Doe face"
    assert images[GARAGE_UNKNOWN]["name"] == "Last unknown face"
    assert images[FRONT_UNKNOWN]["content_type"] == "image/jpeg"
    retained = _retained(mosquitto, "econnect/persons/+/face", "econnect/cameras/+/unknown_face")
    assert retained == {JANE_FACE: face.payload, GARAGE_UNKNOWN: unknown.payload}


def test_no_face_picture_by_default(
    tmp_path: Path, emulator: Any, mosquitto: MosquittoBroker, probe: Probe
) -> None:
    with running_bridge(_config(tmp_path, emulator, mosquitto, "")):
        probe.publish(FRONT, sample("jane.jpg"))
        probe.publish(GARAGE, sample("unknown.jpg"))
        probe.wait_for("econnect/events", 2)
        _wait(lambda: bool(_configs(probe)))
        time.sleep(0.5)
    assert not probe.matching(lambda m: m.topic.endswith(("/face", "/unknown_face")))
    assert _image_entities(_configs(probe)) == {}  # no picture entity at all (annotated is off)


def test_turning_face_pictures_off_clears_them_from_the_broker(
    tmp_path: Path, emulator: Any, mosquitto: MosquittoBroker, probe: Probe
) -> None:
    with running_bridge(_config(tmp_path, emulator, mosquitto, ON)):
        probe.publish(FRONT, sample("jane.jpg"))
        probe.publish(GARAGE, sample("unknown.jpg"))
        probe.wait_for(JANE_FACE)
        probe.wait_for(GARAGE_UNKNOWN)
        _wait(lambda: JANE_FACE in _image_entities(_configs(probe)))
    filters = ("econnect/persons/+/face", "econnect/cameras/+/unknown_face")
    assert set(_retained(mosquitto, *filters)) == {JANE_FACE, GARAGE_UNKNOWN}
    probe.clear()
    with running_bridge(_config(tmp_path, emulator, mosquitto, "")) as app:
        _wait(lambda: app.stale_faces.cleared == 2)
        _wait(lambda: not _image_entities(_retained(mosquitto, "homeassistant/#")))
    assert _retained(mosquitto, *filters) == {}


def test_frigate_objects_are_pictured_from_the_picture_they_are_decided_on(
    tmp_path: Path,
    emulator: Any,
    mosquitto: MosquittoBroker,
    probe: Probe,
    standin: FrigateStandin,
    frigate_mqtt: FrigateMqttPublisher,
) -> None:
    """Events mode keeps an object's picture until its outcome: the face is cut from it."""
    text = frigate_config(emulator.url, mosquitto.port, events_mode(standin.url)) + ON
    with running_bridge(write_config(tmp_path / "events.yaml", text)):
        jane = standin.begin("front_door", frame=close_up(), score=0.9)
        step(standin, frigate_mqtt, probe, jane, "new")
        [face] = probe.wait_for(JANE_FACE)
        stranger = standin.begin("front_door", frame=a_stranger(), score=0.8)
        step(standin, frigate_mqtt, probe, stranger, "new")
        stranger.end()
        step(standin, frigate_mqtt, probe, stranger, "end")
        [unknown] = probe.wait_for(FRONT_UNKNOWN)
    assert max(_jpeg_size(face.payload)) == DEFAULT_MAX_SIDE  # a 390 px crop, scaled down
    assert max(_jpeg_size(unknown.payload)) <= DEFAULT_MAX_SIDE
