"""``econnect-bridge check-config``: every problem, or the effective configuration.

The summary shows what the bridge will really run with (defaults filled, per-camera settings
merged, ports resolved), so a user can see why it behaves as it does; secrets are ``***``.
Warnings point at valid but risky or contradictory choices.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

import yaml

from econnect_bridge.config.errors import ConfigError
from econnect_bridge.config.loader import load_config
from econnect_bridge.config.model import BridgeConfig, CameraSettings, Secret
from econnect_bridge.config.reference import schema_reference_markdown

__all__ = ["check_config", "config_warnings", "schema_reference_markdown", "summarize"]

_FIELD_NEEDS = {
    "name": "person",
    "aliases": "names",
    "tags": "tags",
    "fields": "fields",
    "addresses": "addresses",
}


def check_config(path: str) -> tuple[int, str]:
    """Check the configuration file at `path`.

    Returns:
        ``(1, the ConfigError text)`` when it is invalid, else ``(0, a summary)``.
    """
    try:
        config = load_config(path)
    except ConfigError as exc:
        return 1, str(exc)
    return 0, summarize(config)


def summarize(config: BridgeConfig) -> str:
    """Describe the effective configuration, secrets masked, warnings first."""
    lines = [f"Configuration OK: {config.source or '<dict>'}"]
    warnings = config_warnings(config)
    if warnings:
        lines.append("")
        lines.append("Warnings:")
        lines.extend(f"- {warning}" for warning in warnings)
    data = config.as_masked_dict()
    data.pop("source", None)
    data["subscriptions"] = [camera.subscription for camera in config.cameras]
    data["subscriptions"] += list(config.frigate.subscriptions())
    lines += ["", "Effective configuration (secrets shown as ***):", ""]
    lines.append(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip())
    return "\n".join(lines) + "\n"


def config_warnings(config: BridgeConfig) -> list[str]:
    """Return valid but risky or contradictory settings, one sentence each."""
    warnings = _placeholder_warnings(config) + _api_warnings(config) + _mqtt_warnings(config)
    warnings += _merged_camera_warnings(config)
    for camera in config.cameras:
        warnings += _settings_warnings(f"cameras[{camera.name}]", camera.settings, config)
    if config.frigate.enabled:
        defaults = config.processing.camera_defaults
        warnings += _settings_warnings("processing", defaults, config)
        warnings += frigate_warnings(config)
    warnings += _install_warnings(config)
    return list(dict.fromkeys(warnings))


def frigate_warnings(config: BridgeConfig) -> list[str]:
    """Warn about a Frigate preset that works, but not the way Frigate users expect."""
    frigate, warnings = config.frigate, []
    if not frigate.events_mode:
        warnings.append(
            "frigate: snapshot mode reads Frigate's retained MQTT snapshot (270 px high by "
            "default, not republished while a lone person walks closer, no event id): set "
            "frigate.url to Frigate's HTTP API for events mode, one answer per tracked object."
        )
        return warnings
    scheme = urlsplit(frigate.url or "").scheme
    if frigate.username is not None and scheme == "http":
        warnings.append(
            "frigate.url is plain http but frigate.username is set: the password would cross "
            "the network in clear; use https://<host>:8971."
        )
    if not frigate.verify_ssl:
        warnings.append(
            "frigate.verify_ssl is false: anyone on the network could impersonate Frigate; "
            "prefer frigate.ca_file."
        )
    if config.mqtt.shared_group:
        warnings.append(
            "mqtt.shared_group does not apply to Frigate's events topics: each bridge of the "
            "group follows every tracked object; run one bridge for Frigate."
        )
    return warnings


def _placeholder_warnings(config: BridgeConfig) -> list[str]:
    """Warn about values still as examples/config.yaml and examples/secrets.yaml wrote them.

    A copied example is valid, so nothing else would say that the engine URL is a made-up
    customer or that the password is the example's; the bridge would only fail to log in.
    Secrets are compared as `Secret`s (constant time) and never shown.
    """
    warnings = []
    host = urlsplit(config.api.url).hostname or ""
    if host in _PLACEHOLDER_HOSTS:
        warnings.append(
            f"api.url is still the example's {host}: write your engine's URL "
            "(https://<customer>.econnectcloud.com/identities, or https://<host>:5009 on-prem)."
        )
    secrets = {
        "api.password": config.api.password,
        "api.token": config.api.token,
        "mqtt.password": config.mqtt.password,
        "frigate.password": config.frigate.password,
    }
    for key, secret in secrets.items():
        if secret is not None and secret in _PLACEHOLDER_SECRETS:
            warnings.append(
                f"{key} is still an example placeholder value: replace it with the real one "
                "(in secrets.yaml, when it is a !secret)."
            )
    return warnings


#: Values of the example files that only mean "replace me".
_PLACEHOLDER_HOSTS: Final = frozenset({"acme.econnectcloud.com"})
_PLACEHOLDER_SECRETS: Final = tuple(
    Secret(text) for text in ("change-me", "change-me-too", "changeme")
)


def _merged_camera_warnings(config: BridgeConfig) -> list[str]:
    """Warn when a wildcard topic has no ``{camera}`` level: all its cameras become one.

    Every message on ``cameras/+/snapshot`` with ``name: yard`` is reported as yard, so
    presence, cooldown and entities of different cameras silently mix.
    """
    warnings = []
    for index, camera in enumerate(config.cameras):
        levels = camera.topic.split("/")
        wildcard = "+" in levels or "#" in levels
        if not wildcard or camera.camera_level is not None or camera.json_camera_key:
            continue
        warnings.append(
            f"cameras[{index}].topic {camera.topic!r} has a wildcard but no {{camera}} level, "
            f"so every camera it matches is reported as {camera.name!r}: name each camera "
            f"from its topic with topic: {_with_camera_level(levels)} (or list the cameras "
            "one by one)."
        )
    return warnings


def _with_camera_level(levels: list[str]) -> str:
    """Suggest the topic with its first wildcard level naming the camera."""
    if "+" in levels:
        index = levels.index("+")
        return "/".join([*levels[:index], "{camera}", *levels[index + 1 :]])
    return "/".join([*levels[:-1], "{camera}", "#"])


def _install_warnings(config: BridgeConfig) -> list[str]:
    """Warn about features that are on but that this installation cannot serve."""
    from econnect_identities.annotate import pillow_available

    if pillow_available():
        return []
    publish, warnings = config.publish, []
    if publish.annotated_snapshot:
        warnings.append(
            "publish.annotated_snapshot is on but Pillow is not installed, so no annotated "
            "snapshot will be published: pip install Pillow (or turn the option off)."
        )
    if publish.face_pictures:
        warnings.append(
            "publish.face_pictures is on but Pillow is not installed, so no face picture "
            "will be published: pip install Pillow (or turn the option off)."
        )
    return warnings


def _api_warnings(config: BridgeConfig) -> list[str]:
    """Warn about TLS and URL choices for the engine."""
    api = config.api
    parts = urlsplit(api.url)
    warnings = []
    if not api.verify_ssl:
        warnings.append(
            "api.verify_ssl is false: the engine's certificate is not checked, so anyone on "
            "the network path can read the credentials; prefer api.ca_file."
        )
    if parts.scheme == "http" and api.password is not None:
        warnings.append("api.url uses http://: the password travels unencrypted.")
    host = parts.hostname or ""
    if host.endswith(".econnectcloud.com") and not parts.path.startswith("/identities"):
        warnings.append("api.url is a cloud host without /identities: add it to the URL.")
    return warnings


def _mqtt_warnings(config: BridgeConfig) -> list[str]:
    """Warn about broker TLS settings that are ignored or unsafe."""
    tls = config.mqtt.tls
    warnings = []
    if tls.insecure and tls.enabled:
        warnings.append("mqtt.tls.insecure is true: the broker's host name is not checked.")
    if not tls.enabled and (tls.ca_file or tls.certfile or tls.insecure):
        warnings.append("mqtt.tls has settings but tls.enabled is false: they are ignored.")
    return warnings


def _settings_warnings(where: str, settings: CameraSettings, config: BridgeConfig) -> list[str]:
    """Warn when events are asked to carry person data the engine is not asked for."""
    if settings.mode == "publish":
        return []
    include = settings.include
    warnings = []
    for person_field in config.publish.person_fields:
        switch = _FIELD_NEEDS[person_field]
        if not include.person or not getattr(include, switch):
            warnings.append(
                f"publish.person_fields has {person_field!r} but {where} does not ask the "
                f"engine for it (include.person and include.{switch} must be true)."
            )
    return warnings
