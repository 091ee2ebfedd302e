"""A stopped engine comes back: the open circuit finds it within seconds, not after its reset.

A camera publishes a snapshot every 0.5 s; the emulator is stopped for 8 s and started again
on the same port. The circuit (default `circuit_reset`, 30 s) must let a probe through soon
after the engine is back, so results resume at once and few snapshots are refused by a
circuit that no longer has a reason to be open. Every snapshot ends as a result or an error
event (or is superseded by a newer one, which is counted).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from econnect_bridge.engine_stage import CIRCUIT_OPEN
from tests.integration.helpers import Probe, base_config, running_bridge, sample, write_config
from tests.integration.reliability import passed, wait_until
from tests.support.mosquitto import MosquittoBroker

pytestmark = pytest.mark.integration

FRONT = "frigate/front_door/person/snapshot"
IMAGES = ("jane.jpg", "bob.png", "unknown.jpg", "carol.jpg")
EVERY = 0.5  # seconds between two snapshots of the camera
OUTAGE = 8.0  # seconds the engine is stopped
RECOVERY_BOUND = 3.0  # seconds from the engine's return to the first result
REFUSED_AFTER_BACK_BOUND = 2  # `engine_unavailable` events stamped after the engine's return
API = """\
  timeout: 1
  connect_timeout: 1
  retries: 2
  retry_backoff: 0.1
  retry_backoff_max: 0.5
  circuit_threshold: 3
"""


def _config(tmp_path: Path, emulator: Any, broker: MosquittoBroker) -> Path:
    text = base_config(emulator.url, broker.port)
    text = text.replace("  time_zone: Europe/Paris\n", "  time_zone: Europe/Paris\n" + API)
    text = text.replace("  cooldown: 30\n", "  cooldown: 0\n  allow_double_detection: true\n")
    return write_config(tmp_path / "config.yaml", text)


@dataclass
class Camera:
    """Publishes a snapshot every `EVERY` seconds from a thread until stopped."""

    probe: Probe
    sent: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Camera:
        self._thread = threading.Thread(target=self._run, name="camera-feed", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.probe.publish(FRONT, sample(IMAGES[self.sent % len(IMAGES)]))
            self.sent += 1
            self._stop.wait(EVERY)


def _stamp(moment: datetime) -> str:
    """Format a moment as the bridge stamps its events (ISO 8601 UTC, milliseconds, `Z`)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _first_result_after(probe: Probe, count: int, back: float, limit: float) -> float | None:
    """Wait for result number `count + 1`; return its delay after `back` (None: never came)."""
    while len(probe.on("econnect/events")) <= count:
        if time.monotonic() - back > limit:
            return None
        time.sleep(0.02)
    return time.monotonic() - back


@pytest.mark.slow
def test_stopped_engine_is_found_soon_after_it_is_back(
    tmp_path: Path,
    emulator: Any,
    mosquitto: MosquittoBroker,
    probe: Probe,
    figures: dict[str, Any],
) -> None:
    """Engine stopped 8 s under a snapshot every 0.5 s: results resume within 3 s."""
    with running_bridge(_config(tmp_path, emulator, mosquitto)) as app:
        probe.publish(FRONT, sample("jane.jpg"))
        assert probe.wait_for("econnect/events", 1)
        camera = Camera(probe).start()
        try:
            assert wait_until(lambda: len(probe.on("econnect/events")) >= 3, 10)
            emulator.stop()
            time.sleep(OUTAGE)
            results_during = len(probe.on("econnect/events"))
            emulator.start()
            back, back_at = time.monotonic(), _stamp(datetime.now(UTC))
            recovery = _first_result_after(probe, results_during, back, limit=25)
            time.sleep(2.0)  # the circuit stays closed: results keep coming
        finally:
            camera.stop()
        health = app.pipeline.health
        sent = camera.sent + 1

        def accounted() -> int:
            """Results, error events and superseded snapshots: together, every one sent."""
            events, errors = probe.on("econnect/events"), probe.on("econnect/errors")
            return len(events) + len(errors) + health.dropped

        assert wait_until(lambda: accounted() >= sent, 10)
        circuit = app.pipeline.retry.circuit

    errors = [m.json() for m in probe.on("econnect/errors")]
    refused = [e for e in errors if e["code"] == CIRCUIT_OPEN]
    refused_after_back = [e for e in refused if e["time"] > back_at]
    measured = {
        "seconds_to_first_result_after_engine_back": recovery and round(recovery, 2),
        "engine_unavailable_after_engine_back": len(refused_after_back),
        "engine_unavailable_in_all": len(refused),
        "error_events": len(errors),
        "results": len(probe.on("econnect/events")),
        "superseded": health.dropped,
        "snapshots_sent": sent,
        "engine_failures": health.engine_failures,
        "circuit_opened": circuit.opened,
    }
    print(f"\nengine outage of {OUTAGE:.0f} s, a snapshot every {EVERY} s: {measured}")
    figures.update(outage_seconds=OUTAGE, snapshot_every_seconds=EVERY, **measured)
    assert recovery is not None, "no result after the engine came back"
    assert recovery <= RECOVERY_BOUND, measured
    assert len(refused_after_back) <= REFUSED_AFTER_BACK_BOUND, (measured, refused_after_back)
    assert refused, "the circuit opened and refused snapshots while the engine was away"
    assert accounted() == sent, measured  # none silently lost
    assert health.lost == len(errors)
    passed(figures)
