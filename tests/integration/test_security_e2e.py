"""Security end to end: MQTT over TLS, broker users and ACL, engine over HTTPS with a private
CA, secrets kept out of DEBUG logs, and names that cannot inject topic levels or wildcards."""

from __future__ import annotations

import base64
import json
import logging
import re
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from econnect_identities.naming import slugify
from tests.integration.helpers import base_config, running_bridge, sample, write_config
from tests.integration.reliability import (
    PersistentProbe,
    bridge_process,
    passed,
    wait_until,
)
from tests.support.certs import make_certs
from tests.support.device_discovery import is_device_config
from tests.support.mosquitto import MosquittoBroker, TlsListener

pytestmark = pytest.mark.integration
FRONT = "frigate/front_door/person/snapshot"
ACL = """\
user bridge
topic read frigate/#
topic read homeassistant/status
topic readwrite homeassistant/+/econnect/#
topic readwrite econnect/#

user camera
topic write frigate/#

user homeassistant
topic read econnect/#
topic read homeassistant/#
topic write homeassistant/status
"""
USERS = {"bridge": "mqtt-bridge-pw-7Q", "camera": "camera-pw", "homeassistant": "ha-pw"}


def _with_mqtt(text: str, lines: str) -> str:
    return text.replace("  base_topic: econnect\n", "  base_topic: econnect\n" + lines)


def test_mqtt_tls_verified_by_default_and_refused_with_a_wrong_ca(
    tmp_path: Path,
    emulator: Any,
    mosquitto_factory: Callable[..., MosquittoBroker],
    caplog: pytest.LogCaptureFixture,
    figures: dict[str, Any],
) -> None:
    """TLS listener with a CA made in the test; the right CA works, a wrong one never connects."""
    certs = make_certs(tmp_path / "certs")
    other = make_certs(tmp_path / "other", common_name="someone else's CA")
    broker = mosquitto_factory(tls=TlsListener(certs.ca, certs.cert, certs.key))
    assert broker.tls_port is not None
    probe = PersistentProbe(
        broker.host, broker.tls_port, ("econnect/#",), "tls-probe", ca_file=certs.ca
    )

    def config(ca: Path, name: str) -> Path:
        text = base_config(emulator.url, broker.tls_port or 0)
        text = _with_mqtt(text, f"  tls:\n    enabled: true\n    ca_file: {ca}\n")
        return write_config(tmp_path / name, text)

    with running_bridge(config(certs.ca, "good.yaml")) as app:
        assert app.mqtt.last_connect_error is None
        probe.publish(FRONT, sample("jane.jpg"))
        assert wait_until(lambda: probe.on("econnect/events"), 10)

    from econnect_bridge.app import BridgeApp
    from econnect_bridge.config import load_config

    caplog.set_level(logging.ERROR, logger="econnect_bridge.mqtt")
    bad = BridgeApp(load_config(config(other.ca, "bad.yaml")))
    bad.mqtt.start()
    try:
        assert not bad.wait_ready(3.0), "connected although the broker's CA is not trusted"
        error = bad.mqtt.last_connect_error
    finally:
        bad.mqtt.stop()
        bad.client.close()
    probe.stop()
    assert error is not None
    assert "not trusted" in error
    assert "mqtt.tls.ca_file" in error
    assert "never falls back" in error
    assert any("not trusted" in r.getMessage() for r in caplog.records)
    broker_log = broker.log_text()
    assert "New client connected" in broker_log  # the good bridge and the probe
    assert broker_log.count("as econnect-bridge") == 1  # the wrong-CA bridge never got in
    figures.update(
        good_ca="connected, event delivered over TLS",
        wrong_ca="refused: " + error.split(";")[0],
        attempts_during_3_s=bad.mqtt.connect_failures,
        plain_fallback=False,
    )
    passed(figures)


def test_broker_users_and_acl_least_privilege(
    tmp_path: Path,
    emulator: Any,
    mosquitto_factory: Callable[..., MosquittoBroker],
    figures: dict[str, Any],
) -> None:
    """Password file + ACL from docs/security.md: works; a wrong password is refused clearly."""
    broker = mosquitto_factory(users=USERS, allow_anonymous=False, acl=ACL)
    ha = PersistentProbe(
        broker.host,
        broker.port,
        ("econnect/#", "homeassistant/#"),
        "ha-probe",
        username="homeassistant",
        password=USERS["homeassistant"],
    )
    camera = PersistentProbe(
        broker.host,
        broker.port,
        ("nothing/here",),
        "camera",
        username="camera",
        password=USERS["camera"],
    )
    text = _with_mqtt(
        base_config(emulator.url, broker.port),
        f"  username: bridge\n  password: {USERS['bridge']}\n",
    )
    with running_bridge(write_config(tmp_path / "config.yaml", text)) as app:
        camera.publish(FRONT, sample("jane.jpg"))
        assert wait_until(lambda: ha.on("econnect/events"), 10)
        assert wait_until(lambda: any(m[0].startswith("homeassistant/") for m in ha.messages), 5)
        assert app.mqtt.last_connect_error is None
    from econnect_bridge.app import BridgeApp
    from econnect_bridge.config import load_config

    wrong = write_config(tmp_path / "wrong.yaml", text.replace(USERS["bridge"], "not-it"))
    bad = BridgeApp(load_config(wrong))
    bad.mqtt.start()
    try:
        assert not bad.wait_ready(2.0)
        error = bad.mqtt.last_connect_error
    finally:
        bad.mqtt.stop()
        bad.client.close()
    ha.stop()
    camera.stop()
    assert error is not None
    assert "refused by the broker" in error
    figures.update(
        users=sorted(USERS),
        acl_lines=len(ACL.strip().splitlines()),
        event_reached_homeassistant_user=True,
        wrong_password=error,
    )
    passed(figures)


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_engine_over_https_with_private_ca_and_verify_off_warning(
    tmp_path: Path,
    mosquitto: MosquittoBroker,
    caplog: pytest.LogCaptureFixture,
    figures: dict[str, Any],
) -> None:
    """The engine on HTTPS signed by a private CA (api.ca_file); verify_ssl: false warns."""
    from econnect_bridge.emulator import Emulator

    certs = make_certs(tmp_path / "certs")
    probe = PersistentProbe(mosquitto.host, mosquitto.port, ("econnect/#",), "https-probe")
    with Emulator(certfile=certs.cert, keyfile=certs.key) as emu:
        assert emu.url.startswith("https://")
        text = base_config(emu.url, mosquitto.port).replace(
            "  time_zone: Europe/Paris\n", f"  time_zone: Europe/Paris\n  ca_file: {certs.ca}\n"
        )
        with running_bridge(write_config(tmp_path / "https.yaml", text)):
            probe.publish(FRONT, sample("jane.jpg"))
            assert wait_until(lambda: probe.on("econnect/events"), 10)
        caplog.set_level(logging.WARNING, logger="econnect_bridge.client")
        insecure = text.replace(f"  ca_file: {certs.ca}\n", "  verify_ssl: false\n")
        with running_bridge(write_config(tmp_path / "insecure.yaml", insecure)):
            probe.publish(FRONT, sample("bob.png"))
            assert wait_until(lambda: len(probe.on("econnect/events")) >= 2, 10)
    probe.stop()
    warnings = [r.getMessage() for r in caplog.records if "verification" in r.getMessage()]
    assert warnings
    assert "api.verify_ssl: false" in warnings[0]
    figures.update(private_ca="event delivered", verify_ssl_false_warning=warnings[0])
    passed(figures)


def test_debug_logs_never_show_passwords_tokens_or_images(
    tmp_path: Path,
    emulator: Any,
    mosquitto_factory: Callable[..., MosquittoBroker],
    figures: dict[str, Any],
) -> None:
    """A whole session at DEBUG, in a real process: no password, token or image bytes logged."""
    tokens: list[str] = []
    mint = emulator.engine._token_reply

    def recording(username: str) -> Any:
        reply = mint(username)
        tokens.append(reply.body.decode().split('"token": "')[1].split('"')[0])
        return reply

    emulator.engine._token_reply = recording
    api_password = "bridge-password"
    broker = mosquitto_factory(users=USERS, allow_anonymous=False, acl=ACL)
    ha = PersistentProbe(
        broker.host,
        broker.port,
        ("econnect/#",),
        "ha",
        username="homeassistant",
        password=USERS["homeassistant"],
    )
    text = (
        _with_mqtt(
            base_config(emulator.url, broker.port),
            f"  username: bridge\n  password: {USERS['bridge']}\n",
        )
        + "logging:\n  level: DEBUG\n"
    )
    config = write_config(tmp_path / "config.yaml", text)
    log = tmp_path / "bridge.log"
    bridge = bridge_process(config, log)
    images = [sample(name) for name in ("jane.jpg", "bob.png", "unknown.jpg")]
    try:
        assert wait_until(lambda: ha.on("econnect/bridge/availability"), 15), log.read_text()
        time.sleep(1.2)
        camera = PersistentProbe(
            broker.host,
            broker.port,
            ("nothing/here",),
            "camera",
            username="camera",
            password=USERS["camera"],
        )
        for image in images:
            camera.publish(FRONT, image)
            time.sleep(0.3)
        emulator.set_user("bridge", permissions=[])  # a 403 goes through the error path too
        camera.publish(FRONT, sample("carol.jpg"))
        assert wait_until(lambda: len(ha.on("econnect/events")) >= 3, 10)
        assert wait_until(lambda: ha.on("econnect/errors"), 10)
        camera.stop()
        bridge.send_signal(signal.SIGTERM)
        assert bridge.wait(15) == 0
    finally:
        if bridge.poll() is None:
            bridge.kill()
        ha.stop()
    text_log = log.read_text(errors="replace")
    assert "DEBUG" in text_log
    assert tokens
    secrets = {
        "api password": api_password,
        "mqtt password": USERS["bridge"],
        **{f"token {i}": token for i, token in enumerate(tokens)},
        **{f"token signature {i}": token.rsplit(".", 1)[1] for i, token in enumerate(tokens)},
    }
    for index, image in enumerate(images):
        secrets[f"image {index} base64"] = base64.b64encode(image).decode()[:40]
        secrets[f"image {index} bytes"] = repr(image[16:40])[2:-1]
        secrets[f"image {index} hex"] = image[16:40].hex()
    leaked = [name for name, value in secrets.items() if value in text_log]
    assert leaked == []
    figures.update(
        log_lines=len(text_log.splitlines()),
        debug_lines=text_log.count(" DEBUG "),
        secrets_checked=len(secrets),
        leaked=leaked,
    )
    passed(figures)


HOSTILE = [
    "Front Door",
    "José",
    "a$b",
    "..",
    "%2F",
    "<script>",
    "🚗",
    '"quoted"',
    "x" * 150,
    "$SYS",
    "UPPER lower",
]


def test_names_from_topics_and_the_engine_cannot_inject_topics_or_ids(
    tmp_path: Path,
    mosquitto: MosquittoBroker,
    figures: dict[str, Any],
) -> None:
    """Hostile camera names on a `{camera}` topic and hostile person/tag names from the engine."""
    from econnect_bridge.emulator import Emulator, load_gallery, sample_gallery_path

    gallery_dir = tmp_path / "gallery"
    shutil.copytree(sample_gallery_path().parent, gallery_dir)
    gallery_file = gallery_dir / sample_gallery_path().name
    gallery_file.write_text(
        gallery_file.read_text()
        .replace("friendlyName: Bob Smith", 'friendlyName: "Bob/#+ $SYS/evil"')
        .replace("tag: Staff", 'tag: "St+a/ff#"')
        .replace("tagName: Staff", 'tagName: "St+a/ff#"')
    )
    probe = PersistentProbe(mosquitto.host, mosquitto.port, ("#",), "names-probe")
    with Emulator(gallery=load_gallery(gallery_file)) as emu:
        text = f"""\
api:
  url: {emu.url}
  username: bridge
  password: bridge-password
mqtt:
  host: 127.0.0.1
  port: {mosquitto.port}
cameras:
  - name: cams
    topic: cams/{{camera}}/snapshot
processing:
  allow_double_detection: true
  cooldown: 0
"""
        with running_bridge(write_config(tmp_path / "config.yaml", text)):
            for name in HOSTILE:
                probe.publish(f"cams/{name}/snapshot", sample("bob.png"))
            assert wait_until(lambda: len(probe.on("econnect/events")) >= len(HOSTILE), 20)
            time.sleep(2.0)  # discovery for the new cameras
    probe.stop()
    ours = [m for m in probe.messages if m[0].startswith(("econnect/", "homeassistant/"))]
    levels_ok = re.compile(r"^[a-z0-9_]+$")
    bad_topics = []
    for topic, _payload, _retain in ours:
        if topic.startswith("homeassistant/status"):
            continue
        for level in topic.split("/")[1:]:
            if not levels_ok.match(level):
                bad_topics.append(topic)
                break
    unique_ids: list[str] = []
    other_configs: list[str] = []
    for topic, payload, _retain in ours:
        if topic.endswith("/config") and payload and not is_device_config(topic):
            other_configs.append(topic)
        elif topic.endswith("/config") and payload:
            for key, component in json.loads(payload)["components"].items():
                unique_ids.extend((key, component.get("unique_id", key)))
    events = [json.loads(m[1]) for m in probe.on("econnect/events")]
    cameras = {e["camera"] for e in events}
    assert bad_topics == []
    assert other_configs == []  # every entity is in a device config, read above
    assert unique_ids
    assert all(levels_ok.match(uid) for uid in unique_ids)
    assert {slugify(name) for name in HOSTILE} <= {
        t.split("/")[2] for t, *_ in ours if t.startswith("econnect/cameras/")
    }
    assert any(e["persons"] == ["Bob/#+ $SYS/evil"] for e in events)  # JSON keeps the name
    figures.update(
        hostile_camera_names=len(HOSTILE),
        cameras_seen=len(cameras),
        topics_published=len(ours),
        topics_with_bad_levels=len(bad_topics),
        discovery_unique_ids=len(set(unique_ids)),
        hostile_person="Bob/#+ $SYS/evil",
        person_topic=slugify("Bob/#+ $SYS/evil"),
    )
    passed(figures)
