"""`doctor` on Frigate: every problem of events mode named, with its fix, against a stand-in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from econnect_bridge.config import load_config
from econnect_bridge.doctor_findings import Finding
from econnect_bridge.doctor_frigate import check_frigate
from tests.support.frigate_standin import FrigateStandin

pytestmark = pytest.mark.integration

USERS = {"admin": ("admin-pw", "admin"), "viewer": ("viewer-pw", "viewer")}


def findings(tmp_path: Path, **frigate: object) -> dict[str, Finding]:
    keys = {"enabled": True, **frigate}
    lines = "\n".join(f"  {key}: {json.dumps(value)}" for key, value in keys.items())
    path = tmp_path / "c.yaml"
    path.write_text(
        "api: {url: 'http://127.0.0.1:9', username: u, password: p}\nfrigate:\n" + lines + "\n"
    )
    return {f.check: f for f in check_frigate(load_config(path, environ={}))}


@pytest.fixture
def frigate() -> Iterator[FrigateStandin]:
    with FrigateStandin(cameras=("front_door", "yard"), zones={"front_door": ["porch"]}) as s:
        yield s


def test_a_healthy_events_mode(tmp_path: Path, frigate: FrigateStandin) -> None:
    found = findings(
        tmp_path,
        url=frigate.url,
        cameras=["front_door"],
        required_zones={"front_door": ["porch"]},
        write_sub_label=True,
    )
    assert {check: f.status for check, f in found.items()} == {
        "mode": "ok",
        "reachable": "ok",
        "cameras": "ok",
        "zones": "ok",
        "face recognition": "ok",
        "write sub_label": "ok",
    }
    assert frigate.version in found["reachable"].detail
    assert frigate.sub_label_writes == []  # the permission probe writes nothing


def test_a_camera_or_zone_frigate_does_not_have(tmp_path: Path, frigate: FrigateStandin) -> None:
    found = findings(
        tmp_path, url=frigate.url, cameras=["frontdoor"], required_zones={"yard": ["lawn"]}
    )
    assert found["cameras"].status == "fail"
    assert "frontdoor" in found["cameras"].detail
    assert "front_door, yard" in found["cameras"].detail
    assert found["zones"].status == "fail"
    assert found["zones"].fix == "fix frigate.required_zones.yard"


def test_a_viewer_may_not_write_sub_labels(tmp_path: Path) -> None:
    with FrigateStandin(auth=True, users=USERS) as frigate:
        found = findings(
            tmp_path,
            url=frigate.url,
            username="viewer",
            password="viewer-pw",
            write_sub_label=True,
        )
    assert found["reachable"].status == "ok"
    assert found["write sub_label"].status == "fail"
    assert "admin role" in (found["write sub_label"].fix or "")


def test_a_wrong_password_or_port_says_what_to_check(tmp_path: Path) -> None:
    with FrigateStandin(auth=True, users=USERS) as frigate:
        found = findings(tmp_path, url=frigate.url, username="admin", password="wrong")
        assert found["reachable"].status == "fail"
        assert "frigate.password" in (found["reachable"].fix or "")
        url = frigate.url
    found = findings(tmp_path, url=url)  # stopped: nobody listens there any more
    assert found["reachable"].status == "fail"
    assert "frigate.url" in (found["reachable"].fix or "")


def test_both_recognisers_and_snapshot_mode_are_explained(tmp_path: Path) -> None:
    with FrigateStandin(face_recognition=True) as frigate:
        found = findings(tmp_path, url=frigate.url, write_sub_label=True)
    assert found["face recognition"].status == "info"
    assert "a name Frigate set is kept" in found["face recognition"].detail
    assert "skip_named" in found["face recognition"].detail
    snapshot = findings(tmp_path)
    assert snapshot["mode"].status == "warn"
    assert "frigate.url" in (snapshot["mode"].fix or "")
