"""Config, reauth, reconfigure and options flows against the emulator (100% of config_flow.py)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest.mock import patch

import certifi
import pytest
from conftest import PASSWORD, REPO, USERNAME, EmulatorProcess, entry_data, free_port
from homeassistant import config_entries
from homeassistant.const import CONF_PASSWORD, CONF_URL, CONF_USERNAME, CONF_VERIFY_SSL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.econnect_identities.const import (
    CONF_CA_FILE,
    CONF_CAMERAS,
    CONF_COOLDOWN,
    CONF_FRIGATE_MAX_ATTEMPTS,
    CONF_FRIGATE_PASSWORD,
    CONF_FRIGATE_URL,
    CONF_FRIGATE_USERNAME,
    CONF_FRIGATE_WRITE_SUB_LABEL,
    CONF_FRIGATE_ZONES,
    CONF_MQTT_TOPICS,
    DOMAIN,
)
from econnect_identities import (
    EconnectPermissionError,
    EconnectServerError,
    EconnectTLSError,
)
from econnect_identities.errors import tls_error
from tests.support.certs import make_certs
from tests.support.frigate_standin_proc import StandinProcess

AUTHENTICATE = "econnect_identities.aio.AsyncEconnectClient.authenticate"


@pytest.fixture(autouse=True)
def no_setup() -> Any:
    """Keep the flow tests to the flow: creating an entry does not set it up."""
    with patch(
        "custom_components.econnect_identities.async_setup_entry", return_value=True
    ) as mock:
        yield mock


async def _start_user(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    return str(result["flow_id"])


async def test_user_flow_creates_entry(hass: HomeAssistant, emulator: EmulatorProcess) -> None:
    flow_id = await _start_user(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, entry_data(emulator, **{CONF_URL: emulator.url + "/", CONF_CA_FILE: " "})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "127.0.0.1"
    assert result["data"] == entry_data(emulator)
    assert result["result"].unique_id == f"{emulator.url}|{USERNAME}".lower()


async def test_user_flow_with_ca_file(hass: HomeAssistant, emulator: EmulatorProcess) -> None:
    flow_id = await _start_user(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, entry_data(emulator, **{CONF_CA_FILE: certifi.where()})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_CA_FILE] == certifi.where()


@pytest.mark.parametrize(
    ("overrides", "field", "error"),
    [
        ({CONF_URL: "ftp://example"}, CONF_URL, "invalid_url"),
        ({CONF_CA_FILE: "/nonexistent/ca.pem"}, CONF_CA_FILE, "invalid_ca_file"),
        ({CONF_PASSWORD: "wrong"}, "base", "invalid_auth"),
        ({CONF_URL: "http://127.0.0.1:9"}, "base", "cannot_connect"),
    ],
)
async def test_user_flow_errors_then_recovers(
    hass: HomeAssistant,
    emulator: EmulatorProcess,
    overrides: dict[str, Any],
    field: str,
    error: str,
) -> None:
    flow_id = await _start_user(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, entry_data(emulator, **overrides)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {field: error}
    result = await hass.config_entries.flow.async_configure(flow_id, entry_data(emulator))
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.parametrize(
    ("side_effect", "error"),
    [
        (EconnectTLSError("self-signed"), "tls_error"),
        (tls_error("certificate verify failed: Missing Subject Key Identifier"), "tls_strict"),
        (EconnectPermissionError("no", status=403), "missing_permission"),
        (EconnectServerError("boom", status=500), "engine_error"),
        (RuntimeError("bug"), "unknown"),
    ],
)
async def test_user_flow_rare_errors(
    hass: HomeAssistant, emulator: EmulatorProcess, side_effect: Exception, error: str
) -> None:
    """Errors the loopback emulator cannot produce on sign-in are injected at the client."""
    flow_id = await _start_user(hass)
    with patch(AUTHENTICATE, side_effect=side_effect):
        result = await hass.config_entries.flow.async_configure(flow_id, entry_data(emulator))
    assert result["errors"] == {"base": error}


@contextmanager
def _https_emulator(folder: Path, *, strict: bool) -> Iterator[tuple[str, Path]]:
    """Serve the emulator over HTTPS in a child process; yield its URL and CA file."""
    certs = make_certs(folder, strict=strict)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    args = ["--port", str(port), "--certfile", str(certs.cert), "--keyfile", str(certs.key)]
    code = f"import sys; from econnect_bridge.emulator.cli import main; sys.exit(main({args!r}))"
    process = subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    try:
        yield f"https://127.0.0.1:{port}", certs.ca
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def legacy_https(tmp_path: Path, socket_enabled: None) -> Iterator[tuple[str, Path]]:
    """An HTTPS engine whose CA has no key identifiers (made before Python 3.13's checks)."""
    with _https_emulator(tmp_path / "legacy", strict=False) as engine:
        yield engine


@pytest.fixture
def strict_https(tmp_path: Path, socket_enabled: None) -> Iterator[tuple[str, Path]]:
    """An HTTPS engine whose CA has every extension strict verification requires."""
    with _https_emulator(tmp_path / "strict", strict=True) as engine:
        yield engine


def _https_data(url: str, ca_file: Path) -> dict[str, Any]:
    return {
        CONF_URL: url,
        CONF_USERNAME: USERNAME,
        CONF_PASSWORD: PASSWORD,
        CONF_VERIFY_SSL: True,
        CONF_CA_FILE: str(ca_file),
    }


async def test_user_flow_legacy_ca_is_refused_strictly_then_a_fixed_ca_works(
    hass: HomeAssistant,
    legacy_https: tuple[str, Path],
    strict_https: tuple[str, Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Home Assistant runs Python 3.13 or later, whose strict checks refuse a legacy CA.

    The form shows `tls_strict` (not the "give the CA file" error: it was given), and the log
    names the missing extension and the recipe; a CA with the extensions is then accepted.
    """
    assert sys.version_info >= (3, 13), "Home Assistant's Python verifies strictly"
    flow_id = await _start_user(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _https_data(*legacy_https))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "tls_strict"}
    assert "Missing Authority Key Identifier" in caplog.text
    assert "docs/security.md#strict-tls" in caplog.text
    result = await hass.config_entries.flow.async_configure(flow_id, _https_data(*strict_https))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_URL] == strict_https[0]


async def test_same_server_and_account_only_once(
    hass: HomeAssistant, emulator: EmulatorProcess
) -> None:
    MockConfigEntry(
        domain=DOMAIN, unique_id=f"{emulator.url}|{USERNAME}".lower(), data=entry_data(emulator)
    ).add_to_hass(hass)
    flow_id = await _start_user(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, entry_data(emulator, **{CONF_USERNAME: USERNAME.upper()})
    )
    # The emulator's user names are case-sensitive, so sign in with the real one.
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.flow.async_configure(flow_id, entry_data(emulator))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


def _entry(hass: HomeAssistant, emulator: EmulatorProcess, **data: Any) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="127.0.0.1",
        unique_id=f"{emulator.url}|{USERNAME}".lower(),
        data=entry_data(emulator, **data),
    )
    entry.add_to_hass(hass)
    return entry


async def test_reauth_after_password_change(hass: HomeAssistant, emulator: EmulatorProcess) -> None:
    entry = _entry(hass, emulator)
    emulator.admin("users", {"username": USERNAME, "password": "new-password"})
    result = await entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"
    placeholders = result["description_placeholders"]
    assert placeholders[CONF_USERNAME] == USERNAME
    assert placeholders[CONF_URL] == emulator.url
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PASSWORD: PASSWORD}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PASSWORD: "new-password"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_PASSWORD] == "new-password"


async def test_reconfigure_changes_url(hass: HomeAssistant, emulator: EmulatorProcess) -> None:
    entry = _entry(hass, emulator, **{CONF_URL: "http://127.0.0.1:9", CONF_CA_FILE: "x.pem"})
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: "http://127.0.0.1:9", CONF_VERIFY_SSL: True}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: emulator.url, CONF_VERIFY_SSL: True}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_URL] == emulator.url
    assert CONF_CA_FILE not in entry.data
    assert entry.data[CONF_PASSWORD] == PASSWORD
    assert entry.unique_id == f"{emulator.url}|{USERNAME}".lower()


async def test_reconfigure_onto_another_entry_aborts(
    hass: HomeAssistant, emulator: EmulatorProcess
) -> None:
    _entry(hass, emulator)
    other = MockConfigEntry(
        domain=DOMAIN,
        unique_id=f"http://127.0.0.1:9|{USERNAME}",
        data=entry_data(emulator, **{CONF_URL: "http://127.0.0.1:9"}),
    )
    other.add_to_hass(hass)
    result = await other.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: emulator.url, CONF_VERIFY_SSL: True}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


@pytest.mark.parametrize("with_mqtt", [False, True])
async def test_options_flow(
    hass: HomeAssistant, emulator: EmulatorProcess, with_mqtt: bool
) -> None:
    entry = _entry(hass, emulator)
    if with_mqtt:
        hass.config.components.add("mqtt")
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    fields = {str(key) for key in result["data_schema"].schema}
    assert (CONF_MQTT_TOPICS in fields) is with_mqtt
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_CAMERAS: ["camera.front_door"], CONF_COOLDOWN: 10}
    )
    if with_mqtt:  # Frigate's events mode comes next; left empty, it stays off
        assert result["step_id"] == "frigate"
        result = await hass.config_entries.options.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_CAMERAS] == ["camera.front_door"]
    assert entry.options[CONF_COOLDOWN] == 10
    assert entry.options["person_sections"] == ["names", "tags"]
    assert CONF_FRIGATE_URL not in entry.options
    assert (entry.options.get(CONF_FRIGATE_MAX_ATTEMPTS) == 5) is with_mqtt  # FollowPolicy()


async def _frigate_form(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    """Open the options and pass the first form; return the Frigate form."""
    hass.config.components.add("mqtt")
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(result["flow_id"], {})
    assert result["step_id"] == "frigate"
    return dict(result)


def _suggested(result: dict[str, Any]) -> dict[str, Any]:
    return {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
        if key.description and "suggested_value" in key.description
    }


@pytest.mark.parametrize(
    ("frigate_input", "errors"),
    [
        ({CONF_FRIGATE_URL: "ftp://frigate"}, {CONF_FRIGATE_URL: "invalid_frigate_url"}),
        ({CONF_FRIGATE_ZONES: ["porch"]}, {CONF_FRIGATE_ZONES: "invalid_zones"}),
        ({CONF_FRIGATE_USERNAME: "admin"}, {CONF_FRIGATE_PASSWORD: "frigate_password_missing"}),
        (
            {CONF_FRIGATE_USERNAME: "admin", CONF_FRIGATE_PASSWORD: "wrong"},
            {"base": "frigate_invalid_auth"},
        ),
        ({CONF_FRIGATE_URL: "closed"}, {"base": "frigate_cannot_connect"}),
        (
            {
                CONF_FRIGATE_USERNAME: "viewer",
                CONF_FRIGATE_PASSWORD: "viewer-password",
                CONF_FRIGATE_WRITE_SUB_LABEL: True,
            },
            {CONF_FRIGATE_WRITE_SUB_LABEL: "frigate_cannot_write"},
        ),
    ],
)
async def test_frigate_options_are_checked(
    hass: HomeAssistant,
    emulator: EmulatorProcess,
    frigate_auth: StandinProcess,
    frigate_input: dict[str, Any],
    errors: dict[str, str],
) -> None:
    entry = _entry(hass, emulator)
    result = await _frigate_form(hass, entry)
    user_input = {CONF_FRIGATE_URL: frigate_auth.url, **frigate_input}
    if user_input[CONF_FRIGATE_URL] == "closed":
        user_input[CONF_FRIGATE_URL] = f"http://127.0.0.1:{free_port()}"
    result = await hass.config_entries.options.async_configure(result["flow_id"], user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    assert CONF_FRIGATE_PASSWORD not in _suggested(dict(result))


async def test_frigate_login_goes_to_the_entry_data(
    hass: HomeAssistant, emulator: EmulatorProcess, frigate_auth: StandinProcess
) -> None:
    """The Frigate user and password live with the engine's, never in the options."""
    entry = _entry(hass, emulator)
    result = await _frigate_form(hass, entry)
    login = {CONF_FRIGATE_USERNAME: "admin", CONF_FRIGATE_PASSWORD: "admin-password"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_FRIGATE_URL: frigate_auth.url, CONF_FRIGATE_WRITE_SUB_LABEL: True, **login},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_FRIGATE_URL] == frigate_auth.url
    assert frigate_auth.sub_label_writes() == []  # the permission probe writes nothing
    assert CONF_FRIGATE_PASSWORD not in entry.options
    assert CONF_FRIGATE_USERNAME not in entry.options
    assert {k: entry.data[k] for k in login} == login

    result = await _frigate_form(hass, entry)  # shown again: the user, never the password
    assert _suggested(result)[CONF_FRIGATE_USERNAME] == "admin"
    assert CONF_FRIGATE_PASSWORD not in _suggested(result)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_FRIGATE_URL: frigate_auth.url, CONF_FRIGATE_USERNAME: "admin"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY  # an empty password keeps the stored one
    assert entry.data[CONF_FRIGATE_PASSWORD] == "admin-password"

    result = await _frigate_form(hass, entry)
    result = await hass.config_entries.options.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY  # events mode off: the login goes
    assert CONF_FRIGATE_USERNAME not in entry.data
    assert CONF_FRIGATE_PASSWORD not in entry.data
