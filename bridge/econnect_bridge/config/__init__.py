"""Configuration: one YAML file, validated by one schema, read as frozen dataclasses.

Public names::

    load_config(path) -> BridgeConfig          raises ConfigError (every problem at once)
    config_from_dict(data) -> BridgeConfig     the same checks and defaults, for Python data
    check_config(path) -> (exit_code, text)    what `econnect-bridge check-config` prints
    schema_reference_markdown() -> str         the key reference of docs/configuration.md
"""

from econnect_bridge.config.check import check_config, config_warnings, summarize
from econnect_bridge.config.errors import ConfigError, ConfigProblem
from econnect_bridge.config.loader import config_from_dict, load_config
from econnect_bridge.config.model import (
    ApiConfig,
    BridgeConfig,
    CameraConfig,
    CameraSettings,
    FrigateConfig,
    HomeAssistantConfig,
    IncludeConfig,
    LoggingConfig,
    MqttConfig,
    ProcessingConfig,
    PublishConfig,
    Secret,
    TlsConfig,
)
from econnect_bridge.config.reference import schema_reference_markdown

__all__ = [
    "ApiConfig",
    "BridgeConfig",
    "CameraConfig",
    "CameraSettings",
    "ConfigError",
    "ConfigProblem",
    "FrigateConfig",
    "HomeAssistantConfig",
    "IncludeConfig",
    "LoggingConfig",
    "MqttConfig",
    "ProcessingConfig",
    "PublishConfig",
    "Secret",
    "TlsConfig",
    "check_config",
    "config_from_dict",
    "config_warnings",
    "load_config",
    "schema_reference_markdown",
    "summarize",
]
