"""Emulator faults, admin routes, lifecycle, HTTPS, duplicate window and CLI, over loopback."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from econnect_bridge.emulator import Emulator, load_gallery, sample_gallery_path
from econnect_bridge.emulator.cli import main as cli_main
from econnect_bridge.emulator.faults import Faults
from tests.support.certs import make_certs

SAMPLES = sample_gallery_path().parent
JANE = "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
PWR = "/api/v1/faceEdge/publishWithResponse"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture(autouse=True)
def _clean(emu: Emulator) -> Iterator[None]:
    emu.reset()
    yield
    emu.reset()


def body(image: str = "jane.jpg", **options: Any) -> dict[str, Any]:
    return {
        "expanded": base64.b64encode((SAMPLES / image).read_bytes()).decode(),
        "detectorName": "FrontDoorCam",
        "ianaTimeZone": "Europe/Paris",
        "detectTimeUtc": "2026-06-16T18:32:05Z",
        **options,
    }


def token_for(url: str, user: str = "bridge", password: str = "bridge-password", **kw: Any) -> str:
    reply = requests.post(
        f"{url}/api/v1/authenticate", json={"username": user, "password": password}, **kw
    )
    assert reply.status_code == 200, reply.text
    return str(reply.json()["token"])


def publish(emu: Emulator, token: str, **kw: Any) -> requests.Response:
    return requests.post(
        emu.url + PWR, json=body(), headers={"Authorization": f"Bearer {token}"}, **kw
    )


def admin(emu: Emulator, route: str, payload: Any = None) -> requests.Response:
    if payload is None:
        return requests.get(f"{emu.url}/_emulator/{route}")
    return requests.post(f"{emu.url}/_emulator/{route}", json=payload)


# -- faults ------------------------------------------------------------------------------------


def test_latency_over_http_admin(emu: Emulator) -> None:
    token = token_for(emu.url)
    reply = admin(emu, "faults", {"latency_ms": 150, "jitter_ms": 20})
    assert reply.status_code == 200
    assert reply.json()["latency_ms"] == 150
    start = time.perf_counter()
    assert publish(emu, token).status_code == 200
    assert 0.15 <= time.perf_counter() - start < 1.5
    start = time.perf_counter()
    token_for(emu.url)  # latency is for publish calls only
    assert time.perf_counter() - start < 0.15


def test_error_rate_one_is_500_then_custom_status(emu: Emulator) -> None:
    token = token_for(emu.url)
    emu.faults.update(error_rate=1)
    reply = publish(emu, token)
    assert reply.status_code == 500
    emu.faults.update(error_status=502)
    assert publish(emu, token).status_code == 502
    assert emu.stats()["requests"]["publishWithResponse"] == {"500": 1, "502": 1}


def test_burst_of_503(emu: Emulator) -> None:
    token = token_for(emu.url)
    emu.faults.update(burst=2)
    assert [publish(emu, token).status_code for _ in range(3)] == [503, 503, 200]


def test_drop_closes_without_answer(emu: Emulator) -> None:
    token = token_for(emu.url)
    emu.faults.update(drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        publish(emu, token)
    assert emu.stats()["requests"]["publishWithResponse"] == {"dropped": 1}


def _concurrent_publishes(emu: Emulator, token: str, count: int) -> list[int]:
    statuses: list[int] = []
    threads = [
        threading.Thread(target=lambda: statuses.append(publish(emu, token).status_code))
        for _ in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_capacity_limits_concurrency(emu: Emulator) -> None:
    token = token_for(emu.url)
    emu.faults.update(latency_ms=150, capacity=2)
    start = time.perf_counter()
    assert _concurrent_publishes(emu, token, 6) == [200] * 6
    assert time.perf_counter() - start >= 0.45  # three waves of two
    assert emu.stats()["max_concurrent_publish"] == 2
    emu.reset()
    emu.faults.update(latency_ms=150)
    _concurrent_publishes(emu, token, 6)
    assert emu.stats()["max_concurrent_publish"] > 2


def test_a_queue_far_above_capacity_is_served_at_capacity_and_none_is_forgotten() -> None:
    # A client with no limit of its own (a Node-RED flow) leaves hundreds of requests at the
    # gate: every freed slot must hand itself to one of them, and raising the capacity must
    # let more through at once, while requests waiting on a hang share the same lock.
    faults = Faults()
    faults.update(capacity=4)
    active, most, served = 0, 0, 0
    count = threading.Lock()

    def request() -> None:
        nonlocal active, most, served
        with faults.capacity_slot():
            with count:
                active += 1
                most = max(most, active)
            time.sleep(0.01)  # 300 at 4 at once: 0.75 s, long past the capacity change
            with count:
                active -= 1
                served += 1

    hung = threading.Thread(target=faults.wait_while_hanging)
    faults.update(hang=True)
    hung.start()
    threads = [threading.Thread(target=request) for _ in range(300)]
    for thread in threads:
        thread.start()
    faults.update(capacity=8)
    for thread in threads:
        thread.join(10)
    assert served == 300, "a freed slot was not handed on"
    assert 4 < most <= 8
    faults.update(hang=False)
    hung.join(5)
    assert not hung.is_alive()


def test_slow_body(emu: Emulator) -> None:
    token = token_for(emu.url)
    emu.faults.update(slow_body_ms=300)
    start = time.perf_counter()
    reply = publish(emu, token)
    assert time.perf_counter() - start >= 0.3
    assert reply.json()["detectedFaces"][0]["confidence"] > 0.9


def test_hang_until_cleared(emu: Emulator) -> None:
    token = token_for(emu.url)
    emu.faults.update(hang=True)
    with pytest.raises(requests.Timeout):
        publish(emu, token, timeout=0.3)
    result: list[int] = []
    waiter = threading.Thread(target=lambda: result.append(publish(emu, token).status_code))
    waiter.start()
    time.sleep(0.2)
    assert not result
    emu.faults.update(hang=False)
    waiter.join(timeout=5)
    assert result == [200]


@pytest.mark.parametrize(
    ("faults", "check"),
    [
        ({"non_json": True}, lambda r: r.text == "<html>oops</html>"),
        ({"wrong_types": True}, lambda r: r.json()["detectedFaces"][0]["confidence"] == "high"),
        (
            {"huge_body_bytes": 300_000},
            lambda r: abs(len(r.content) - 300_000) < 100 and r.json()["detectedFaces"],
        ),
    ],
)
def test_body_faults(emu: Emulator, faults: dict[str, Any], check: Any) -> None:
    token = token_for(emu.url)
    emu.faults.update(**faults)
    reply = publish(emu, token)
    assert reply.status_code == 200
    assert check(reply)


@pytest.mark.parametrize(
    "payload", [{"latency": 5}, {"error_rate": 2}, {"hang": "yes"}, {"capacity": -1}, [1]]
)
def test_bad_fault_settings(emu: Emulator, payload: Any) -> None:
    assert admin(emu, "faults", payload).status_code == 400
    if isinstance(payload, dict):
        with pytest.raises(ValueError):
            emu.faults.update(**payload)


# -- admin routes ------------------------------------------------------------------------------


def test_stats_route(emu: Emulator) -> None:
    token = token_for(emu.url)
    publish(emu, token)
    requests.get(f"{emu.url}/api/v1/renewToken", headers={"Authorization": f"Bearer {token}"})
    stats = admin(emu, "stats").json()
    assert stats["authentications"] == 1
    assert stats["renewals"] == 1
    assert stats["detections"] == 1
    assert stats["max_concurrent_publish"] == 1
    assert stats["requests"]["publishWithResponse"] == {"200": 1}
    assert admin(emu, "faults").json()["capacity"] == 0


def test_users_route_changes_password_and_permissions(emu: Emulator) -> None:
    token = token_for(emu.url)
    reply = admin(emu, "users", {"username": "bridge", "password": "rotated"})
    assert reply.status_code == 200
    assert "rotated" not in reply.text
    with pytest.raises(AssertionError):
        token_for(emu.url)
    assert token_for(emu.url, password="rotated")
    admin(emu, "users", {"username": "bridge", "permissions": ["Read All Identity"]})
    assert publish(emu, token).status_code == 403  # permissions are read at each call
    assert admin(emu, "users", {"username": "bridge", "permissions": ["Nope"]}).status_code == 400
    assert admin(emu, "users", {"password": "x"}).status_code == 400
    assert admin(emu, "reset", {}).status_code == 200
    assert publish(emu, token).status_code == 200
    assert token_for(emu.url)  # the gallery's password is back


def test_set_user_adds_a_user(emu: Emulator) -> None:
    emu.set_user("camera", password="cam-pass", permissions=["Face Publishing"])
    token = token_for(emu.url, "camera", "cam-pass")
    assert publish(emu, token).status_code == 200
    with pytest.raises(ValueError):
        emu.set_user("ghost")


def test_reset_route_clears_faults_and_stats(emu: Emulator) -> None:
    token_for(emu.url)
    emu.faults.update(error_rate=1)
    assert admin(emu, "reset", {}).json() == {}
    stats = emu.stats()
    assert stats["authentications"] == 0
    assert emu.faults.settings.error_rate == 0


# -- lifecycle ---------------------------------------------------------------------------------


def test_stop_then_start_on_the_same_port() -> None:
    emu = Emulator().start()
    try:
        port, url = emu.port, emu.url
        session = requests.Session()
        token = token_for(url)
        pooled = session.post(url + PWR, json=body(), headers={"Authorization": f"Bearer {token}"})
        assert pooled.status_code == 200
        emu.stop()
        assert not emu.running
        with pytest.raises(requests.ConnectionError):
            session.post(url + PWR, json=body(), headers={"Authorization": f"Bearer {token}"})
        with pytest.raises(requests.ConnectionError):
            requests.get(url + "/api/v1/Tags", timeout=2)
        emu.start()
        assert emu.port == port
        assert emu.url == url
        again = session.post(url + PWR, json=body(), headers={"Authorization": f"Bearer {token}"})
        assert again.status_code == 200  # same signing key: the old token still works
    finally:
        emu.stop()


def test_stop_releases_hanging_requests() -> None:
    emu = Emulator().start()
    token = token_for(emu.url)
    emu.faults.update(hang=True)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            publish(emu, token, timeout=10)
        except requests.RequestException as err:
            errors.append(err)

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.2)
    emu.stop()
    caller.join(timeout=5)
    assert not caller.is_alive()
    assert errors


# -- duplicate window --------------------------------------------------------------------------


def test_duplicate_window() -> None:
    sample = load_gallery(sample_gallery_path())
    gallery = dataclasses.replace(
        sample, settings=dataclasses.replace(sample.settings, duplicate_window_seconds=60)
    )
    with Emulator(gallery=gallery) as emu:
        token = token_for(emu.url)
        headers = {"Authorization": f"Bearer {token}"}

        def faces(**options: Any) -> int:
            reply = requests.post(emu.url + PWR, json=body(**options), headers=headers)
            assert reply.status_code == 200
            return len(reply.json()["detectedFaces"])

        assert faces() == 1
        assert faces() == 0  # same bytes, same detector, inside the window
        assert faces(allowDoubleDetection=True) == 1
        assert faces(detectorName="BackDoorCam") == 1
        assert faces(image="group.jpg") == 3
        assert emu.stats()["duplicates_suppressed"] == 1


# -- HTTPS -------------------------------------------------------------------------------------


def _make_ca_and_server_cert(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and server certificate with the key identifiers Python 3.13's strict checks need."""
    certs = make_certs(folder, strict=True)
    return certs.ca, certs.cert, certs.key


def test_https_with_a_trusted_ca_file(tmp_path: Path) -> None:
    ca, cert, key = _make_ca_and_server_cert(tmp_path)
    with Emulator(certfile=cert, keyfile=key) as emu:
        assert emu.url.startswith("https://127.0.0.1:")
        token = token_for(emu.url, verify=str(ca))
        reply = requests.post(
            emu.cloud_url + PWR,
            json=body(includePerson=True),
            headers={"Authorization": f"Bearer {token}"},
            verify=str(ca),
        )
        assert reply.json()["detectedFaces"][0]["person"]["personId"] == JANE
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(emu.url + "/api/v1/Tags", timeout=5)  # default trust store
        assert requests.get(emu.url + "/api/v1/Tags", verify=str(ca)).status_code == 401


# -- CLI ---------------------------------------------------------------------------------------


def test_cli_runs_until_sigterm() -> None:
    code = "from econnect_bridge.emulator.cli import main; raise SystemExit(main(['--port', '0']))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        url = first.strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:")
        rest = "".join(proc.stdout.readline() for _ in range(3))
        assert "bridge / bridge-password" in rest
        assert token_for(url)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_reports_a_bad_gallery(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["--gallery", str(tmp_path / "none.yaml"), "--port", "0"]) == 2
    assert "cannot read gallery" in capsys.readouterr().out


def test_stats_json_is_serialisable(emu: Emulator) -> None:
    json.dumps(emu.stats())
