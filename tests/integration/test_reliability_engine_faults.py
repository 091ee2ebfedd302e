"""Hostile engine answers and token trouble, end to end through the bridge."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.helpers import Probe, base_config, running_bridge, sample, write_config
from tests.integration.reliability import passed, wait_until
from tests.support.mosquitto import MosquittoBroker

pytestmark = pytest.mark.integration
FRONT = "frigate/front_door/person/snapshot"
NO_RETRY = """\
  timeout: 1
  connect_timeout: 1
  retries: 0
  circuit_threshold: 100
"""


def _config(tmp_path: Path, url: str, broker: MosquittoBroker, api_extra: str = NO_RETRY) -> Path:
    text = base_config(url, broker.port, "  allow_double_detection: true\n")
    text = text.replace("  time_zone: Europe/Paris\n", "  time_zone: Europe/Paris\n" + api_extra)
    return write_config(tmp_path / "config.yaml", text)


# A read timeout while the body streams surfaces from requests as a ConnectionError, so the
# client reports it as engine_unreachable ("Read timed out"): clear and bounded, either code.
TIMEOUT = {"engine_timeout", "engine_unreachable"}
FAULTS: list[tuple[str, dict[str, Any], set[str]]] = [
    ("body that stalls (slow_body_ms 60000)", {"slow_body_ms": 60000}, TIMEOUT),
    ("no answer at all (hang)", {"hang": True}, {"engine_timeout"}),
    ("huge body (9 MB)", {"huge_body_bytes": 9 * 1024 * 1024}, {"bad_response"}),
    ("HTML with 200 (non_json)", {"non_json": True}, {"bad_response"}),
    ("wrong types in fields", {"wrong_types": True}, {"bad_response"}),
    ("connection reset (drop_rate 1)", {"drop_rate": 1.0}, {"engine_unreachable"}),
]


@pytest.mark.slow
def test_hostile_engine_answers_end_in_a_timeout_or_a_clear_error(
    tmp_path: Path,
    emulator: Any,
    mosquitto: MosquittoBroker,
    probe: Probe,
    figures: dict[str, Any],
) -> None:
    """Each hostile answer: one error event with its code, in bounded time; then recovery."""
    results: dict[str, Any] = {}
    with running_bridge(_config(tmp_path, emulator.url, mosquitto)) as app:
        for name, fault, code in FAULTS:
            emulator.faults.update(**fault)
            errors_before = len(probe.on("econnect/errors"))
            events_before = len(probe.on("econnect/events"))
            began = time.monotonic()
            probe.publish(FRONT, sample("jane.jpg"))
            assert probe.wait_for("econnect/errors", errors_before + 1, timeout=15)
            took = time.monotonic() - began
            error = probe.on("econnect/errors")[-1].json()
            emulator.faults.reset()
            probe.publish(FRONT, sample("bob.png"))
            assert probe.wait_for("econnect/events", events_before + 1, timeout=10)
            results[name] = {
                "error_code": error["code"],
                "seconds_to_error": round(took, 2),
                "message": error["message"][:120],
                "recovered": True,
            }
            assert error["code"] in code, (name, error)
            assert took < 5, (name, took)
        assert app.pipeline.alive_threads() == app.config.processing.workers + 1  # + decode
    figures.update(api_timeout_s=1, faults=results)
    passed(figures)


def test_body_trickling_past_the_deadline_is_cut(
    tmp_path: Path,
    emulator: Any,
    mosquitto: MosquittoBroker,
    probe: Probe,
    figures: dict[str, Any],
) -> None:
    """A body sent in 20 pieces over 4 s (each within the 1 s read timeout; deadline 2 s)."""
    with running_bridge(_config(tmp_path, emulator.url, mosquitto)):
        emulator.faults.update(slow_body_ms=4000)
        began = time.monotonic()
        probe.publish(FRONT, sample("jane.jpg"))
        assert wait_until(lambda: probe.on("econnect/errors") or probe.on("econnect/events"), 10)
        took = time.monotonic() - began
    figures.update(
        deadline_s=2.0,
        body_seconds=4.0,
        seconds_until_outcome=round(took, 2),
        outcome="error event" if probe.on("econnect/errors") else "read to the end",
    )
    assert probe.on("econnect/errors"), "the body was read to its end"
    assert probe.on("econnect/errors")[-1].json()["code"] == "engine_timeout"
    assert took < 3.0
    passed(figures)


@pytest.mark.slow
def test_tokens_expiring_every_second_and_a_password_change(
    tmp_path: Path,
    mosquitto: MosquittoBroker,
    probe: Probe,
    figures: dict[str, Any],
) -> None:
    """1 s tokens keep working; a changed password gives clear errors, no login storm."""
    from econnect_bridge.emulator import Emulator

    with Emulator(token_lifetime=1.0) as emu:
        api = "  timeout: 2\n  circuit_threshold: 100\n"
        with running_bridge(_config(tmp_path, emu.url, mosquitto, api)):
            began = time.monotonic()
            sent = 0
            while time.monotonic() - began < 4.0:
                probe.publish(FRONT, sample("jane.jpg"))
                sent += 1
                time.sleep(0.2)
            assert wait_until(lambda: len(probe.on("econnect/events")) >= sent - 1, 10)
            healthy = emu.stats()
            errors_while_expiring = len(probe.on("econnect/errors"))
            emu.set_user("bridge", password="changed-by-the-admin")
            time.sleep(1.5)  # the current token expires; renewing is no longer possible
            before = emu.stats()
            for _ in range(10):
                probe.publish(FRONT, sample("jane.jpg"))
                time.sleep(0.2)
            assert probe.wait_for("econnect/errors", errors_while_expiring + 10, timeout=10)
            time.sleep(1.0)
            after = emu.stats()
    errors = [m.json() for m in probe.on("econnect/errors")][errors_while_expiring:]
    login_attempts = (after["authentications"] + after["authentication_failures"]) - (
        before["authentications"] + before["authentication_failures"]
    )
    assert errors_while_expiring == 0
    assert {e["code"] for e in errors} == {"auth_failed"}
    # Refused sign-ins back off (5 s, doubling): ten snapshots in two seconds cost one attempt.
    assert login_attempts <= 2, "sign-ins must back off after the password is refused"
    figures.update(
        token_lifetime_s=1.0,
        snapshots_with_expiring_tokens=sent,
        events=len(probe.on("econnect/events")),
        errors_while_tokens_expire=errors_while_expiring,
        authentications=healthy["authentications"],
        renewals=healthy["renewals"],
        snapshots_after_password_change=10,
        error_events_after_password_change=len(errors),
        login_attempts_after_password_change=login_attempts,
        error_message=errors[0]["message"][:160],
    )
    passed(figures)
