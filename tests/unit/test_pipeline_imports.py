"""The pipeline and each of its stages talk to protocols, never to an MQTT or HTTP library."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "bridge" / "econnect_bridge"
STAGES = (
    "pipeline",
    "intake",
    "decode",
    "announcer",
    "control",
    "retained",
    "recovery",
    "own_output",
    "backlog",
    "acks",
    "dedupe",
    "throttle",
    "workers",
    "engine_stage",
    "replay",
    "delivery",
    "reporting",
    "cameras",
    "messages",
    "ports",
    "statebook",
    "presence",
)
FORBIDDEN = {"paho", "requests", "aiohttp"}


def _imported_tops(path: Path) -> set[str]:
    """Every top-level module `path` imports, at module level or lazily."""
    tops: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            tops.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            tops.add(node.module.split(".")[0])
    return tops


def test_no_stage_imports_paho_requests_or_aiohttp() -> None:
    offenders = {
        name: sorted(_imported_tops(APP / f"{name}.py") & FORBIDDEN)
        for name in STAGES
        if _imported_tops(APP / f"{name}.py") & FORBIDDEN
    }
    assert offenders == {}


def test_no_stage_imports_the_mqtt_adapter_or_the_requests_driver() -> None:
    adapters = {"econnect_bridge.mqtt", "econnect_bridge.client"}
    offenders = []
    for name in STAGES:
        tree = ast.parse((APP / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in adapters:
                offenders.append(f"{name}: {node.module}")
    assert offenders == []


def test_every_stage_module_is_checked() -> None:
    assert all((APP / f"{name}.py").is_file() for name in STAGES)


def test_importing_the_pipeline_loads_no_mqtt_or_http_library() -> None:
    code = (
        "import sys, econnect_bridge.pipeline; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'paho', 'requests', 'aiohttp'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
