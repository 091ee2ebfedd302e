"""End-to-end fixtures: the engine emulator over real HTTP, and an MQTT probe."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.helpers import Probe
from tests.support.mosquitto import MosquittoBroker


@pytest.fixture
def emulator() -> Iterator[Any]:
    """A fresh emulator with the sample gallery, on a free loopback port."""
    from bridge.emulator import Emulator, load_gallery, sample_gallery_path

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
