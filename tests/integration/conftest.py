"""End-to-end fixtures: the emulator, an MQTT probe, and `figures` for docs/reliability.md."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.integration.helpers import Probe
from tests.integration.reliability import save_figures
from tests.support.frigate_standin import FrigateMqttPublisher, FrigateStandin
from tests.support.mosquitto import MosquittoBroker


@pytest.fixture
def emulator() -> Iterator[Any]:
    """A fresh emulator with the sample gallery, on a free loopback port."""
    from econnect_bridge.emulator import Emulator, load_gallery, sample_gallery_path

    emu = Emulator(gallery=load_gallery(sample_gallery_path()), host="127.0.0.1", port=0)
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture
def probe(mosquitto: MosquittoBroker) -> Iterator[Probe]:
    """Records every message on the test's broker."""
    recorder = Probe(mosquitto.host, mosquitto.port).start()
    yield recorder
    recorder.stop()


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """A dict the test fills with what it tried and what survived; saved after the test.

    The test calls `passed(figures)` after its last assertion, so a failed run is recorded
    as failed (the report shows it) instead of silently keeping stale figures.
    """
    data: dict[str, Any] = {}
    started = time.monotonic()
    yield data
    outcome = "passed" if data.pop("_passed", False) else "failed"
    entry = {
        "test": request.node.nodeid,
        "doc": (request.node.function.__doc__ or "").strip(),
        "outcome": outcome,
        "seconds": round(time.monotonic() - started, 1),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "figures": data,
    }
    save_figures(request.node.nodeid, entry)


@pytest.fixture
def standin() -> Iterator[FrigateStandin]:
    """A Frigate stand-in with one camera, front_door (its HTTP API on a free port)."""
    with FrigateStandin(cameras=("front_door",)) as server:
        yield server


@pytest.fixture
def frigate_mqtt(mosquitto: MosquittoBroker) -> Iterator[FrigateMqttPublisher]:
    """Frigate's MQTT messages, published on the test broker as Frigate sends them."""
    with FrigateMqttPublisher("127.0.0.1", mosquitto.port) as publisher:
        yield publisher
