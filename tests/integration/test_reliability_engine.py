"""Engine outages end to end: refused, 5xx, hanging; retries, circuit, recovery, no 4xx retry."""

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
GARAGE = "frigate/garage/person/snapshot"
IMAGES = ("jane.jpg", "bob.png", "unknown.jpg", "carol.jpg")
RETRY = """\
  timeout: 1
  connect_timeout: 1
  retries: 2
  retry_backoff: 0.1
  retry_backoff_max: 0.5
  circuit_threshold: 3
  circuit_reset: 1
"""


def _config(tmp_path: Path, emulator: Any, broker: MosquittoBroker, extra: str = "") -> Path:
    text = base_config(emulator.url, broker.port, extra)
    text = text.replace("  time_zone: Europe/Paris\n", "  time_zone: Europe/Paris\n" + RETRY)
    text = text.replace("  cooldown: 30\n", "  cooldown: 0\n  allow_double_detection: true\n")
    return write_config(tmp_path / "config.yaml", text)


def _publish_calls(emulator: Any) -> int:
    return sum(emulator.stats()["requests"].get("publishWithResponse", {}).values())


def _health(probe: Probe) -> list[str]:
    return [m.json()["api_reachable"] for m in probe.on("econnect/bridge/state")]


@pytest.mark.slow
def test_engine_outages_retry_open_the_circuit_and_recover(
    tmp_path: Path,
    emulator: Any,
    mosquitto: MosquittoBroker,
    probe: Probe,
    figures: dict[str, Any],
) -> None:
    """Engine refused, then answering 503, then hanging: 3 outages of 4 s, each then back."""
    sent = 0
    phases: dict[str, dict[str, Any]] = {}

    def feed(seconds: float, every: float = 0.25) -> int:
        nonlocal sent
        end = time.monotonic() + seconds
        count = 0
        while time.monotonic() < end:
            topic = FRONT if sent % 2 == 0 else GARAGE
            probe.publish(topic, sample(IMAGES[sent % len(IMAGES)]))
            sent += 1
            count += 1
            time.sleep(every)
        return count

    with running_bridge(_config(tmp_path, emulator, mosquitto)) as app:
        health = app.pipeline.health
        probe.publish(FRONT, sample("jane.jpg"))
        sent += 1
        assert probe.wait_for("econnect/events", 1)
        assert wait_until(lambda: "ON" in _health(probe), 5)

        for name, start, stop in (
            ("refused (emulator stopped)", emulator.stop, emulator.start),
            (
                "HTTP 503 on every call",
                lambda: emulator.faults.update(error_rate=1.0, error_status=503),
                emulator.faults.reset,
            ),
            (
                "hanging (no answer, 1 s timeout)",
                lambda: emulator.faults.update(hang=True),
                emulator.faults.reset,
            ),
        ):
            calls_before, failures_before = _publish_calls(emulator), health.engine_failures
            rejected_before = health.circuit_rejected
            start()
            began = time.monotonic()
            snapshots = feed(4.0)
            stop()
            back = time.monotonic()
            results_before = len(probe.on("econnect/events"))
            while len(probe.on("econnect/events")) == results_before:
                assert time.monotonic() - back < 15, "the bridge did not recover by itself"
                snapshots += feed(0.25)
            phases[name] = {
                "recovery_seconds_after_engine_back": round(time.monotonic() - back, 2),
                "seconds": round(time.monotonic() - began, 1),
                "snapshots": snapshots,
                "engine_calls_failed": health.engine_failures - failures_before,
                "engine_requests_seen_by_emulator": _publish_calls(emulator) - calls_before,
                "refused_by_open_circuit": health.circuit_rejected - rejected_before,
                "naive_calls_without_circuit": snapshots * 3,
            }
            # The circuit spares the engine: far fewer calls than "3 attempts per snapshot".
            assert phases[name]["engine_calls_failed"] < snapshots * 3 / 2, phases[name]
            assert phases[name]["refused_by_open_circuit"] > 0

        assert "OFF" in _health(probe)
        assert wait_until(lambda: _health(probe)[-1:] == ["ON"], 5)
        feed(1.0)
        time.sleep(1.5)
        assert app.pipeline.alive_threads() == app.config.processing.workers + 1  # + decode

    events = probe.on("econnect/events")
    states = _health(probe)
    errors = [m.json() for m in probe.on("econnect/errors")]
    codes = sorted({e["code"] for e in errors})
    assert {"engine_unreachable", "server_error", "engine_timeout", "engine_unavailable"} <= set(
        codes
    )
    assert all(e["camera"] in ("front_door", "garage") and e["message"] for e in errors)
    # Every snapshot is accounted for: a result, an error event, or superseded by a newer one.
    assert len(events) + len(errors) + health.dropped == sent
    assert health.lost == len(errors)
    figures.update(
        snapshots_sent=sent,
        results=len(events),
        error_events=len(errors),
        superseded=health.dropped,
        unaccounted=sent - len(events) - len(errors) - health.dropped,
        error_codes=codes,
        retries=health.retries,
        circuit_opened=app.pipeline.retry.circuit.opened,
        api_reachable_transitions=" → ".join(
            state for n, state in enumerate(states) if n == 0 or states[n - 1] != state
        ),
        phases=phases,
    )
    passed(figures)


def test_4xx_is_not_retried_and_names_the_permission(
    tmp_path: Path,
    emulator: Any,
    mosquitto: MosquittoBroker,
    probe: Probe,
    figures: dict[str, Any],
) -> None:
    """403 after a role change: one engine call per snapshot, a clear error event."""
    with running_bridge(_config(tmp_path, emulator, mosquitto)) as app:
        probe.publish(FRONT, sample("jane.jpg"))
        assert probe.wait_for("econnect/events", 1)
        emulator.set_user("bridge", permissions=[])
        before = _publish_calls(emulator)
        for _ in range(3):
            count = len(probe.on("econnect/errors"))
            probe.publish(FRONT, sample("jane.jpg"))
            assert probe.wait_for("econnect/errors", count + 1)
        calls = _publish_calls(emulator) - before
        assert app.pipeline.health.retries == 0
    errors = [m.json() for m in probe.on("econnect/errors")]
    assert calls == 3, "a 403 must not be retried"
    assert {e["code"] for e in errors} == {"permission_denied"}
    assert all("Face Publishing" in e["message"] for e in errors)
    figures.update(snapshots=3, engine_calls=calls, error_codes=["permission_denied"])
    passed(figures)
