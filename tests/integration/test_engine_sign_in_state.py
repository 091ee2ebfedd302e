"""A running bridge reports "reachable" and "signed in" apart, and starts without "again"."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from tests.integration.helpers import Probe, base_config, running_bridge, sample, write_config
from tests.support.mosquitto import MosquittoBroker

pytestmark = pytest.mark.integration
STATE = "econnect/bridge/state"
LOGGER = "econnect_bridge.pipeline"


def test_first_start_says_nothing_about_reachable_again(
    tmp_path: Path,
    emulator: Any,
    mosquitto: MosquittoBroker,
    probe: Probe,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, LOGGER)
    config = write_config(tmp_path / "c.yaml", base_config(emulator.url, mosquitto.port))
    with running_bridge(config):
        signed_in = probe.wait_for(STATE, where=lambda p: p.get("api_signed_in") == "ON")
        assert signed_in, "the bridge state never said api_signed_in: ON"
        probe.publish("frigate/front_door/person/snapshot", sample("jane.jpg"))
        assert probe.wait_for("econnect/events")
    assert signed_in[-1].json()["api_reachable"] == "ON"
    said = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert not [line for line in said if "again" in line], said


def test_a_wrong_password_is_reachable_but_not_signed_in(
    tmp_path: Path, emulator: Any, mosquitto: MosquittoBroker, probe: Probe
) -> None:
    text = base_config(emulator.url, mosquitto.port).replace(
        "password: bridge-password", "password: not-the-password"
    )
    config = write_config(tmp_path / "c.yaml", text)
    with running_bridge(config):
        states = probe.wait_for(STATE, where=lambda p: p.get("api_reachable") == "ON")
    assert states, "the engine answered, but the bridge state never said api_reachable: ON"
    state = states[-1].json()
    assert state["api_signed_in"] == "OFF"
    assert str(state["last_error"]).startswith("auth_failed")
