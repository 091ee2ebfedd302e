"""Start econnect-bridge inside the Home Assistant app: options → config.yaml → `run`.

The Supervisor gives the app its options in /data/options.json and, when the Mosquitto broker
app is installed, the broker's address and credentials through its services API. This script
turns both into the bridge's own configuration file (so the bridge's schema stays the one
place keys are checked, and its error messages apply), then replaces itself with
`econnect-bridge run`, which receives SIGTERM directly when the app stops.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

OPTIONS = Path("/data/options.json")
CONFIG = Path("/data/econnect/config.yaml")
SUPERVISOR_MQTT = "http://supervisor/services/mqtt"
HEALTH_PORT = 8099


def mqtt_service(token: str | None, url: str = SUPERVISOR_MQTT) -> dict[str, Any] | None:
    """Ask the Supervisor for the MQTT service; None when there is none (`mqtt:want`)."""
    if not token:
        return None
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            answer = json.load(response)
    except (OSError, ValueError) as err:
        print(f"[econnect] no MQTT service from the Supervisor ({err})", file=sys.stderr)
        return None
    data = answer.get("data") if isinstance(answer, dict) else None
    return data if isinstance(data, dict) and data.get("host") else None


def _mqtt_section(options: dict[str, Any], service: dict[str, Any] | None) -> dict[str, Any]:
    """Explicit mqtt_* options win; otherwise the Supervisor's broker is used."""
    if options.get("mqtt_host"):
        section: dict[str, Any] = {"host": options["mqtt_host"]}
        for key in ("port", "username", "password"):
            if options.get(f"mqtt_{key}") not in (None, ""):
                section[key] = options[f"mqtt_{key}"]
    elif service:
        section = {"host": service["host"], "port": int(service.get("port", 1883))}
        if service.get("username"):
            section |= {"username": service["username"], "password": service.get("password")}
        if service.get("ssl"):
            section["tls"] = {"enabled": True}
        if str(service.get("protocol", "")).startswith("5"):
            section["protocol"] = "5"
    else:
        msg = "no MQTT broker: install the Mosquitto broker app, or set mqtt_host in the options"
        raise LookupError(msg)
    section["base_topic"] = options.get("base_topic") or "econnect"
    return section


def _api_section(options: dict[str, Any]) -> dict[str, Any]:
    api: dict[str, Any] = {"url": options.get("api_url", ""), "verify_ssl": options["verify_ssl"]}
    if options.get("api_token"):
        api["token"] = options["api_token"]
    else:
        api |= {"username": options.get("api_username"), "password": options.get("api_password")}
    if options.get("time_zone"):
        api["time_zone"] = options["time_zone"]
    return api


def _frigate_section(options: dict[str, Any]) -> dict[str, Any]:
    """The Frigate preset: events mode as soon as a Frigate URL is given."""
    frigate: dict[str, Any] = {"enabled": options["frigate"], "cameras": options["frigate_cameras"]}
    optional = {
        "frigate_topic_prefix": "topic_prefix",
        "frigate_url": "url",
        "frigate_username": "username",
        "frigate_password": "password",
        "frigate_write_sub_label": "write_sub_label",
    }
    for option, key in optional.items():
        if options.get(option) not in (None, ""):
            frigate[key] = options[option]
    return frigate


def _processing_section(options: dict[str, Any]) -> dict[str, Any]:
    """Thresholds; an unset uncertain band keeps the bridge's own default."""
    processing = {"cooldown": options["cooldown"], "min_confidence": options["min_confidence"]}
    if options.get("uncertain_min_confidence") is not None:
        processing["uncertain_min_confidence"] = options["uncertain_min_confidence"]
    return processing


def _rule(option: dict[str, Any]) -> dict[str, Any]:
    """One rule: the options form has no nested lists, so `cameras` is comma-separated."""
    rule = {key: option.get(key) for key in ("person", "tag", "min_confidence", "exclude")}
    rule = {key: value for key, value in rule.items() if value not in (None, "")}
    cameras = [name.strip() for name in str(option.get("cameras") or "").split(",")]
    return rule | {"cameras": [name for name in cameras if name]}


def bridge_config(options: dict[str, Any], service: dict[str, Any] | None) -> dict[str, Any]:
    """Map the app's options (and the broker service) onto the bridge's configuration keys."""
    return {
        "api": _api_section(options),
        "mqtt": _mqtt_section(options, service),
        "processing": _processing_section(options),
        "cameras": [{"name": c["name"], "topic": c["topic"]} for c in options["cameras"]],
        "rules": [_rule(option) for option in options.get("rules", [])],
        "frigate": _frigate_section(options),
        "homeassistant": {"tags": options["tags"], "persons": options["persons"]},
        "publish": {
            "annotated_snapshot": options["annotated_snapshot"],
            "face_pictures": options.get("face_pictures", False),
        },
        "logging": {"level": options["log_level"]},
        # For the Supervisor's watchdog, which reaches the app over its internal network.
        "health": {"enabled": True, "host": "0.0.0.0", "port": HEALTH_PORT},  # noqa: S104
    }


def write_config(data: dict[str, Any], path: Path = CONFIG) -> Path:
    """Write the configuration readable by this user only: it holds passwords."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        yaml.safe_dump(data, file, sort_keys=False, allow_unicode=True)
    return path


def main() -> int:
    """Build the configuration and become `econnect-bridge run` (returns only on error)."""
    options = json.loads(OPTIONS.read_text(encoding="utf-8"))
    try:
        config = bridge_config(options, mqtt_service(os.environ.get("SUPERVISOR_TOKEN")))
    except LookupError as err:
        print(f"[econnect] {err}", file=sys.stderr)
        return 1
    path = write_config(config)
    print(f"[econnect] configuration written to {path}; starting the bridge", flush=True)
    os.execvp("econnect-bridge", ["econnect-bridge", "run", "-c", str(path)])  # noqa: S606, S607
    return 1  # pragma: no cover - execvp does not return


if __name__ == "__main__":
    raise SystemExit(main())
