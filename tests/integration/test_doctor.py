"""`econnect-bridge doctor` against a real Mosquitto and the engine emulator over loopback."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.publish as mqtt_publish
import pytest

from econnect_bridge.cli import main
from econnect_bridge.config import load_config
from econnect_bridge.doctor import (
    NO_FACE_PNG,
    DoctorOptions,
    Finding,
    exit_code,
    render,
    run_doctor,
    valid_filter,
)
from tests.support.mosquitto import MosquittoBroker, free_port

FAST = DoctorOptions(listen=0.5)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLI configures the root logger; later tests must find it as it was."""
    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    yield
    root.setLevel(level)
    root.handlers[:] = handlers


def write(
    tmp_path: Path,
    emulator_url: str,
    port: int,
    *,
    api_user: str = "bridge",
    api_password: str = "bridge-password",
    mqtt_login: str = "",
    extra: str = "",
) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"""\
api:
  url: {emulator_url}
  username: {api_user}
  password: {api_password}
  time_zone: UTC
  connect_timeout: 2
mqtt:
  host: 127.0.0.1
  port: {port}
{mqtt_login}frigate:
  enabled: true
  cameras: [front_door]
cameras:
  - name: porch
    topic: cameras/porch/snapshot
{extra}"""
    )
    return path


def doctor(path: Path, options: DoctorOptions = FAST) -> list[Finding]:
    return run_doctor(load_config(path), options)


def by_check(findings: list[Finding]) -> dict[str, Finding]:
    return {f.check: f for f in findings}


def test_the_built_in_image_is_a_png_without_a_face() -> None:
    assert NO_FACE_PNG.startswith(b"\x89PNG\r\n\x1a\n")
    from econnect_bridge.emulator.faces import analyse

    analysis = analyse(NO_FACE_PNG)
    assert analysis.decoded
    assert analysis.faces == ()


def test_everything_fine(tmp_path: Path, mosquitto: MosquittoBroker, emulator: Any) -> None:
    mqtt_publish.single(
        "frigate/front_door/person/snapshot", b"jpeg", retain=True, port=mosquitto.port
    )
    path = write(tmp_path, emulator.url, mosquitto.port)
    stop = threading.Event()

    def camera() -> None:  # a live camera publishing while the doctor listens
        while not stop.wait(0.1):
            mqtt_publish.single("cameras/porch/snapshot", b"jpeg", port=mosquitto.port)

    thread = threading.Thread(target=camera)
    thread.start()
    try:
        findings = doctor(path, DoctorOptions(listen=1.0))
    finally:
        stop.set()
        thread.join()
    checks = by_check(findings)
    assert exit_code(findings) == 0, render(findings)
    assert checks["connect"].status == "ok"
    assert checks["round trip"].status == "ok"
    assert checks["sign in"].status == "ok"
    assert checks["publish"].status == "ok"
    assert "no face" in checks["publish"].detail
    assert checks["roster: tags"].status == "ok"
    assert "VIP" in checks["roster: tags"].detail
    assert checks["roster: people"].status == "ok"
    frigate = checks["frigate/front_door/person/snapshot"]
    assert frigate.status == "ok"
    assert "1 retained" in frigate.detail
    assert "front_door" in frigate.detail
    porch = checks["cameras/porch/snapshot"]
    assert porch.status == "ok"
    assert "0 retained" in porch.detail
    assert ", 0 new" not in porch.detail
    assert [f.area for f in findings] == sorted(
        (f.area for f in findings), key=["broker", "engine", "frigate", "topics"].index
    )


def test_silent_topic_is_a_warning_with_advice(
    tmp_path: Path, mosquitto: MosquittoBroker, emulator: Any
) -> None:
    findings = doctor(write(tmp_path, emulator.url, mosquitto.port))
    porch = by_check(findings)["cameras/porch/snapshot"]
    assert porch.status == "warn"
    assert porch.fix is not None
    assert "mosquitto_sub" in porch.fix
    assert exit_code(findings) == 0, "silence is not a failure: nobody may have passed by"


def test_wrong_engine_password(tmp_path: Path, mosquitto: MosquittoBroker, emulator: Any) -> None:
    findings = doctor(write(tmp_path, emulator.url, mosquitto.port, api_password="nope"))
    checks = by_check(findings)
    assert checks["sign in"].status == "fail"
    assert checks["sign in"].fix == "check api.username and api.password (or api.token)"
    assert checks["publish"].status == "skip"
    assert checks["round trip"].status == "ok", "the broker is still checked"
    assert exit_code(findings) == 1


def test_user_without_face_publishing(
    tmp_path: Path, mosquitto: MosquittoBroker, emulator: Any
) -> None:
    path = write(
        tmp_path,
        emulator.url,
        mosquitto.port,
        api_user="no-publish",
        api_password="no-publish-password",
    )
    checks = by_check(doctor(path))
    assert checks["publish"].status == "fail"
    assert "Face Publishing" in (checks["publish"].fix or "")


def test_user_without_roster_permissions(
    tmp_path: Path, mosquitto: MosquittoBroker, emulator: Any
) -> None:
    path = write(
        tmp_path,
        emulator.url,
        mosquitto.port,
        api_user="publisher-only",
        api_password="publisher-password",
    )
    findings = doctor(path)
    checks = by_check(findings)
    assert checks["publish"].status == "ok"
    assert checks["roster: tags"].status == "warn", "includeTags is on by default"
    assert "Read Tags" in (checks["roster: tags"].fix or "")
    assert "could not verify" in checks["include sections"].detail
    assert exit_code(findings) == 0


def test_no_publish_skips_the_test_image(
    tmp_path: Path, mosquitto: MosquittoBroker, emulator: Any
) -> None:
    findings = doctor(
        write(tmp_path, emulator.url, mosquitto.port), DoctorOptions(0.2, publish_test_image=False)
    )
    assert by_check(findings)["publish"].status == "skip"
    assert emulator.stats()["detections"] == 0


def test_wrong_mqtt_password(
    tmp_path: Path, mosquitto_factory: Callable[..., MosquittoBroker], emulator: Any
) -> None:
    broker = mosquitto_factory(users={"bridge": "right"}, allow_anonymous=False)
    login = "  username: bridge\n  password: wrong\n"
    findings = doctor(write(tmp_path, emulator.url, broker.port, mqtt_login=login))
    checks = by_check(findings)
    assert checks["connect"].status == "fail"
    assert "refused" in checks["connect"].detail
    assert "mqtt.password" in (checks["connect"].fix or "")
    assert checks["round trip"].status == "skip"
    assert checks["sign in"].status == "ok", "the engine is still checked"
    assert exit_code(findings) == 1


def test_acl_that_drops_the_bridges_messages(
    tmp_path: Path, mosquitto_factory: Callable[..., MosquittoBroker], emulator: Any
) -> None:
    acl = "user bridge\ntopic read econnect/#\ntopic read frigate/#\n"
    broker = mosquitto_factory(users={"bridge": "pw"}, allow_anonymous=False, acl=acl)
    login = "  username: bridge\n  password: pw\n"
    findings = doctor(write(tmp_path, emulator.url, broker.port, mqtt_login=login))
    checks = by_check(findings)
    assert checks["connect"].status == "ok"
    assert checks["round trip"].status == "fail"
    assert "write econnect/#" in (checks["round trip"].fix or "")
    porch = checks["cameras/porch/snapshot"]
    assert porch.status in ("fail", "warn")  # refused (MQTT 5 / 3.1.1 broker-dependent)


def test_unreachable_broker(tmp_path: Path, emulator: Any) -> None:
    port = free_port()  # nothing listens there
    started = time.monotonic()
    findings = doctor(write(tmp_path, emulator.url, port))
    assert time.monotonic() - started < 10
    checks = by_check(findings)
    assert checks["connect"].status == "fail"
    assert "is the broker running?" in (checks["connect"].fix or "")
    assert checks["round trip"].status == "skip"
    assert checks["snapshot topics"].status == "skip"
    assert checks["sign in"].status == "ok"


def test_unreachable_engine(tmp_path: Path, mosquitto: MosquittoBroker) -> None:
    findings = doctor(write(tmp_path, f"http://127.0.0.1:{free_port()}", mosquitto.port))
    sign_in = by_check(findings)["sign in"]
    assert sign_in.status == "fail"
    assert "check api.url" in (sign_in.fix or "")


@pytest.mark.parametrize(
    ("topic_filter", "problem"),
    [
        ("a/+/b", None),
        ("#", None),
        ("a/#", None),
        ("a/#/b", "'#' must be a whole level and the last one"),
        ("a/b#", "'#' must be a whole level and the last one"),
        ("a/b+/c", "'+' must be a whole level"),
        ("", "it is empty"),
    ],
)
def test_valid_filter(topic_filter: str, problem: str | None) -> None:
    assert valid_filter(topic_filter) == problem


def test_cli_prints_the_report_and_exit_code(
    tmp_path: Path,
    mosquitto: MosquittoBroker,
    emulator: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write(tmp_path, emulator.url, mosquitto.port, api_password="nope")
    assert main(["doctor", "-c", str(path), "--listen", "0.2"]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"econnect-bridge doctor: {path}")
    assert "FAIL  sign in" in out
    assert "fix: check api.username and api.password" in out
    assert "Result: 1 problem(s)" in out


def test_cli_reports_a_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("api: {}\n")
    assert main(["doctor", "-c", str(path)]) == 2
    assert "api" in capsys.readouterr().err
