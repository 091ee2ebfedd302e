"""Fixtures for the Home Assistant tests: a real emulator over loopback and test cameras.

The emulator runs in a subprocess: HA's harness fails a test that leaves threads behind, and
the emulator's server threads would. Tests reset it through its admin routes. The Frigate
stand-in runs in a subprocess for the same reason (`tests/support/frigate_standin_proc.py`).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncGenerator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_socket
from homeassistant.components.camera import Camera
from homeassistant.const import CONF_PASSWORD, CONF_URL, CONF_USERNAME, CONF_VERIFY_SSL
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockPlatform,
    async_fire_time_changed,
    mock_platform,
)

from custom_components.econnect_identities.const import (
    CONF_CAMERAS,
    CONF_COOLDOWN,
    CONF_PRESENCE_TAGS,
    CONF_PRESENCE_TIME,
    CONF_TRIGGERS,
    DOMAIN,
)
from tests.support.frigate_standin_proc import StandinProcess

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "bridge" / "econnect_bridge" / "emulator" / "samples"
USERNAME = "bridge"
PASSWORD = "bridge-password"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let HA load custom_components/econnect_identities."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmulatorProcess:
    """The emulator as a child process on a fixed port, so it can be stopped and restarted."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        code = (
            "import sys; from econnect_bridge.emulator.cli import main; "
            f"sys.exit(main(['--host', '127.0.0.1', '--port', '{self.port}']))"
        )
        self._process = subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        msg = "the emulator did not start"
        raise RuntimeError(msg)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            f"{self.url}/_emulator/{path}",
            data=json.dumps(body or {}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as reply:
            return json.loads(reply.read() or b"{}")

    def stats(self) -> dict[str, Any]:
        """Return what the emulator counted: sign-ins, renewals, recent detections."""
        with urllib.request.urlopen(f"{self.url}/_emulator/stats", timeout=5) as reply:
            stats: dict[str, Any] = json.loads(reply.read())
            return stats

    def restart(self) -> None:
        """Stop and start again: the new process signs with a new key, refusing old tokens."""
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def emulator_process() -> Iterator[EmulatorProcess]:
    """Start one emulator for the whole run.

    phacc blocks every socket; the integration talks real HTTP to 127.0.0.1, so sockets are
    enabled here and in `emulator` (pytest-socket still limits connections to 127.0.0.1).
    """
    pytest_socket.enable_socket()
    emulator = EmulatorProcess()
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def emulator(emulator_process: EmulatorProcess, socket_enabled: None) -> Iterator[EmulatorProcess]:
    """Hand out the emulator, running and reset (faults off, sample users)."""
    if emulator_process._process is None:
        emulator_process.start()
    emulator_process.admin("reset")
    yield emulator_process
    if emulator_process._process is None:
        emulator_process.start()


@pytest.fixture(scope="session")
def frigate_process() -> Iterator[StandinProcess]:
    """Start one Frigate stand-in (port 5000 style: no login) for the whole run."""
    pytest_socket.enable_socket()
    with StandinProcess(cameras=("front_door", "garden")) as standin:
        yield standin


FRIGATE_USERS = {"admin": ("admin-password", "admin"), "viewer": ("viewer-password", "viewer")}


@pytest.fixture(scope="session")
def frigate_auth_process() -> Iterator[StandinProcess]:
    """Start one Frigate stand-in with a login (port 8971 style) for the whole run."""
    pytest_socket.enable_socket()
    with StandinProcess(cameras=("front_door",), auth=True, users=FRIGATE_USERS) as standin:
        yield standin


@pytest.fixture
def frigate_auth(frigate_auth_process: StandinProcess, socket_enabled: None) -> StandinProcess:
    """Hand out the Frigate stand-in with a login, with no objects or requests."""
    frigate_auth_process.reset()
    return frigate_auth_process


@pytest.fixture
def frigate(frigate_process: StandinProcess, socket_enabled: None) -> StandinProcess:
    """Hand out the Frigate stand-in with no objects, requests or sub_label writes."""
    frigate_process.reset()
    return frigate_process


class SampleCamera(Camera):
    """A camera that serves one of the emulator's sample images; tests switch the image."""

    def __init__(self, name: str, image: str) -> None:
        super().__init__()
        self._attr_name = name
        self._attr_unique_id = f"sample_{name}"
        self.image = image

    async def async_camera_image(
        self, width: int | None = None, height: int | None = None
    ) -> bytes | None:
        path = SAMPLES / self.image
        return path.read_bytes() if path.exists() else None


@pytest.fixture
async def cameras(hass: HomeAssistant) -> dict[str, SampleCamera]:
    """Set up camera.front_door and camera.garden through a mocked `test` camera platform."""
    entities = {
        "camera.front_door": SampleCamera("Front door", "jane.jpg"),
        "camera.garden": SampleCamera("Garden", "no_face.jpg"),
    }

    async def _setup(
        hass: HomeAssistant,
        config: dict[str, Any],
        async_add_entities: AddEntitiesCallback,
        discovery_info: Any = None,
    ) -> None:
        async_add_entities(entities.values())

    mock_platform(hass, "test.camera", MockPlatform(async_setup_platform=_setup))
    assert await async_setup_component(hass, "camera", {"camera": {"platform": "test"}})
    await hass.async_block_till_done()
    return entities


def entry_data(emulator: EmulatorProcess, **overrides: Any) -> dict[str, Any]:
    """Return entry data for the sample user on the emulator."""
    return {
        CONF_URL: emulator.url,
        CONF_USERNAME: USERNAME,
        CONF_PASSWORD: PASSWORD,
        CONF_VERIFY_SSL: True,
        **overrides,
    }


DEFAULT_OPTIONS: dict[str, Any] = {
    CONF_CAMERAS: ["camera.front_door", "camera.garden"],
    CONF_TRIGGERS: ["binary_sensor.hall_motion"],
    CONF_PRESENCE_TAGS: ["VIP", "Staff"],
    CONF_PRESENCE_TIME: 60,
    CONF_COOLDOWN: 30,
}


@pytest.fixture
def options() -> dict[str, Any]:
    """Options of the entry under test; tests override by parametrising this fixture."""
    return dict(DEFAULT_OPTIONS)


@pytest.fixture
def config_entry(
    hass: HomeAssistant, emulator: EmulatorProcess, options: dict[str, Any]
) -> MockConfigEntry:
    """A config entry for the sample user, not yet set up."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="127.0.0.1",
        unique_id=f"{emulator.url}|{USERNAME}",
        data=entry_data(emulator),
        options=options,
    )
    entry.add_to_hass(hass)
    return entry


@pytest.fixture
async def loaded_entry(
    hass: HomeAssistant, cameras: dict[str, SampleCamera], config_entry: MockConfigEntry
) -> AsyncGenerator[MockConfigEntry]:
    """The entry, set up against the emulator; unloaded at the end so no timer lingers."""
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    yield config_entry
    if config_entry.state.recoverable:
        await hass.config_entries.async_unload(config_entry.entry_id)
        await hass.async_block_till_done()


async def advance(hass: HomeAssistant, seconds: float, freezer: Any = None) -> None:
    """Run the timers due within `seconds`, and wait for the tasks they start.

    freezegun also moves the loop's monotonic clock, which upsets real HTTP timeouts, so tests
    that poll the emulator leave `freezer` out (the fired time is then `seconds` ahead of
    now); the presence-timer tests pass it so that the wall clock moves too.
    """
    if freezer is None:
        async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=seconds))
    else:
        freezer.tick(timedelta(seconds=seconds))
        async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
