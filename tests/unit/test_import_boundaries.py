"""Which package may import which: the lean core, the bridge application, the integration.

Home Assistant installs the integration's requirement into a site-packages shared with hundreds
of other libraries: the core it requires must stay lean (no emulator, MQTT, demo) and must not
reach into the bridge application, and the integration must import the core alone.
"""

from __future__ import annotations

import ast
import json
import tomllib
from collections.abc import Iterator
from pathlib import Path

import econnect_identities

REPO = Path(__file__).resolve().parents[2]
CORE = REPO / "core" / "econnect_identities"
APP = REPO / "bridge" / "econnect_bridge"
INTEGRATION = REPO / "custom_components" / "econnect_identities"


def imported_tops(folder: Path) -> Iterator[tuple[Path, str]]:
    """Every (file, top-level module) imported anywhere below `folder`, lazily or not."""
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield path, alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                yield path, node.module.split(".")[0]


def test_the_core_never_imports_the_bridge_application() -> None:
    offenders = [
        str(p.relative_to(REPO)) for p, top in imported_tops(CORE) if top == "econnect_bridge"
    ]
    assert offenders == []


#: The core's two aiohttp drivers: the engine's and Frigate's (used by the integration).
AIOHTTP_DRIVERS = frozenset({"aio.py", "frigate_aio.py"})


def test_the_core_imports_no_mqtt_http_or_yaml_library_outside_its_aiohttp_driver() -> None:
    forbidden = {"paho", "requests", "urllib3", "yaml", "voluptuous", "amqtt"}
    offenders = [
        f"{p.name}: {top}"
        for p, top in imported_tops(CORE)
        if top in forbidden or (top == "aiohttp" and p.name not in AIOHTTP_DRIVERS)
    ]
    assert offenders == []


def test_the_integration_imports_the_core_and_never_the_bridge_application() -> None:
    tops = {top for _p, top in imported_tops(INTEGRATION)}
    assert "econnect_identities" in tops
    assert "econnect_bridge" not in tops
    assert "bridge" not in tops


def test_the_manifest_requires_the_lean_core_and_logs_only_its_own_package() -> None:
    manifest = json.loads((INTEGRATION / "manifest.json").read_text(encoding="utf-8"))
    core = tomllib.loads((REPO / "core" / "pyproject.toml").read_text(encoding="utf-8"))
    assert manifest["requirements"] == [f"econnect-identities=={core['project']['version']}"]
    assert manifest["loggers"] == ["econnect_identities"]
    assert core["project"]["name"] == "econnect-identities"
    assert core["project"]["dependencies"] == []
    assert core["tool"]["setuptools"]["packages"]["find"]["include"] == ["econnect_identities*"]


def test_the_core_holds_no_emulator_demo_or_broker() -> None:
    names = {p.stem for p in CORE.rglob("*.py")} | {p.name for p in CORE.iterdir() if p.is_dir()}
    assert not names & {"emulator", "demo", "embedded_broker", "doctor", "mqtt", "cli", "app"}
    assert Path(econnect_identities.__file__).parent == CORE


def test_one_pip_install_of_the_checkout_installs_both_packages() -> None:
    root = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    found = root["tool"]["setuptools"]["packages"]["find"]
    assert found["where"] == ["bridge", "core"]
    assert set(found["include"]) == {"econnect_bridge*", "econnect_identities*"}
    assert root["project"]["scripts"]["econnect-bridge"] == "econnect_bridge.cli:main"


def test_the_core_and_the_bridge_are_released_together() -> None:
    root = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    core = tomllib.loads((REPO / "core" / "pyproject.toml").read_text(encoding="utf-8"))
    assert core["project"]["version"] == root["project"]["version"]
    release = (REPO / ".github" / "workflows" / "release.yml").read_text(encoding="utf-8")
    assert "python -m build core --outdir dist" in release
