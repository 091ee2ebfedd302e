"""The validated configuration as frozen dataclasses: what the rest of the bridge reads.

Field names are the YAML keys, so a reader can go from a key in the docs to the attribute
without a mapping table. Defaults are NOT repeated here: they live once, in `schema.py`, and
every value in these objects has already been through it. Per-camera settings are merged
here, once, so no other module merges defaults with overrides.

Secrets are wrapped in `Secret`, whose repr is ``'***'``, so that logging a config object,
an exception with a config in its locals, or a diagnostics dump never shows a password.
"""

from __future__ import annotations

import dataclasses
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from econnect_identities.rules import FaceRule

MASK = "***"

Mode = Literal["publishWithResponse", "publish"]
Payload = Literal["auto", "raw", "json", "data_uri"]
PersonField = Literal["name", "aliases", "tags", "fields", "addresses"]


class Secret:
    """A string that does not show itself: repr and str are ``'***'``.

    Call `reveal()` at the one place the value is really needed (the HTTP body, the MQTT
    CONNECT), so a grep for `reveal(` lists every place a secret leaves the process.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret value itself."""
        return self._value

    def __repr__(self) -> str:
        return repr(MASK)

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class ApiConfig:
    """How to reach and log in to the eConnect Identities engine (section ``api``)."""

    url: str
    username: str | None
    password: Secret | None
    token: Secret | None
    time_zone: str
    verify_ssl: bool
    ca_file: Path | None
    timeout: float
    connect_timeout: float
    retries: int
    retry_backoff: float
    retry_backoff_max: float
    circuit_threshold: int
    circuit_reset: float


@dataclass(frozen=True)
class TlsConfig:
    """TLS to the MQTT broker (section ``mqtt.tls``)."""

    enabled: bool
    ca_file: Path | None
    certfile: Path | None
    keyfile: Path | None
    insecure: bool


@dataclass(frozen=True)
class MqttConfig:
    """The MQTT broker connection and topics (section ``mqtt``).

    `port` is already resolved (8883 with TLS, else 1883, when not given). `client_id` None
    means the MQTT adapter's stable default (host name and base topic), the same at every
    start, as a persistent session needs. The MQTT adapter reads this section as it is: the
    keys are declared once, in the schema, and typed once, here.
    """

    host: str
    port: int
    username: str | None
    password: Secret | None
    client_id: str | None
    protocol: Literal["3.1.1", "5"]
    keepalive: int
    base_topic: str
    qos: int
    tls: TlsConfig
    shared_group: str | None
    skip_retained: bool
    max_queued_messages: int
    persistent_session: bool
    acknowledge: Literal["outcome", "arrival"]
    dedupe_window: float


@dataclass(frozen=True)
class IncludeConfig:
    """Which sections of a matched person's record to ask the engine for (``include*``)."""

    person: bool
    names: bool
    tags: bool
    fields: bool
    addresses: bool


@dataclass(frozen=True)
class CameraSettings:
    """The effective processing settings of one camera: processing defaults plus overrides."""

    mode: Mode
    largest_face_only: bool
    allow_double_detection: bool
    include: IncludeConfig
    min_confidence: float
    uncertain_min_confidence: float | None
    min_face_quality: float
    min_face_size: int
    min_interval: float
    max_image_bytes: int
    cooldown: float


@dataclass(frozen=True)
class ProcessingConfig:
    """How snapshots are processed (section ``processing``); the per-camera defaults."""

    workers: int
    mode: Mode
    largest_face_only: bool
    allow_double_detection: bool
    include: IncludeConfig
    min_confidence: float
    uncertain_min_confidence: float | None
    min_face_quality: float
    min_face_size: int
    min_interval: float
    max_image_bytes: int
    cooldown: float
    presence_timeout: float

    @property
    def camera_defaults(self) -> CameraSettings:
        """Return the settings a camera gets when it overrides nothing."""
        return CameraSettings(**{f.name: getattr(self, f.name) for f in fields(CameraSettings)})


def subscription_of(topic: str) -> str:
    """Return the filter subscribed for a camera's `topic`: ``{camera}`` becomes ``+``.

    A function as well as `CameraConfig.subscription`, so the schema can check the filter
    before the model exists.
    """
    return "/".join("+" if level == "{camera}" else level for level in topic.split("/"))


@dataclass(frozen=True)
class CameraConfig:
    """One image source on MQTT (an item of ``cameras``), with its settings already merged.

    Attributes:
        detector_name: Sent to the engine as detectorName; None means "the camera name"
            (for a ``{camera}`` topic, the name read from the topic): `Source.detector_for`.
        time_zone: Already resolved: the camera's own zone, else ``api.time_zone``.
        settings: The effective processing settings of this camera.
    """

    name: str
    topic: str
    detector_name: str | None
    time_zone: str
    payload: Payload
    json_image_key: str
    json_camera_key: str | None
    json_time_key: str | None
    settings: CameraSettings

    @property
    def subscription(self) -> str:
        """Return the MQTT topic filter to subscribe to (``{camera}`` becomes ``+``)."""
        return subscription_of(self.topic)

    @property
    def camera_level(self) -> int | None:
        """Return the index of the topic level that names the camera, or None."""
        levels = self.topic.split("/")
        return levels.index("{camera}") if "{camera}" in levels else None


@dataclass(frozen=True)
class FrigateConfig:
    """The Frigate preset (section ``frigate``): events mode or snapshot mode.

    Events mode follows ``<prefix>/events`` (and Frigate's own face results on
    ``<prefix>/tracked_object_update``) and fetches pictures over the HTTP API at `url`;
    snapshot mode reads the retained ``<prefix>/<camera>/<label>/snapshot`` JPEGs.
    """

    enabled: bool
    mode: str
    topic_prefix: str
    cameras: tuple[str, ...]
    labels: tuple[str, ...]
    url: str | None = None
    username: str | None = None
    password: Secret | None = None
    verify_ssl: bool = True
    ca_file: Path | None = None
    timeout: float = 10.0
    snapshot_height: int | None = None
    crop: bool = True
    max_attempts: int = 5
    max_seconds: float = 30.0
    poll_interval: float = 3.0
    confident_score: float = 0.9
    required_zones: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    write_sub_label: bool = False
    sub_label_min_score: float = 0.8
    overwrite_sub_label: bool = False
    skip_named: bool = False

    @property
    def events_mode(self) -> bool:
        """Whether the preset follows tracked objects (`mode: events`, or `auto` with a url)."""
        if not self.enabled:
            return False
        return self.mode == "events" or (self.mode == "auto" and self.url is not None)

    def events_topic(self) -> str:
        """Return Frigate's tracked-object events topic."""
        return f"{self.topic_prefix}/events"

    def face_updates_topic(self) -> str:
        """Return the topic of Frigate's own face recognition results."""
        return f"{self.topic_prefix}/tracked_object_update"

    def subscriptions(self) -> tuple[str, ...]:
        """Return the preset's topic filters: events mode's two, or one per camera and label."""
        if not self.enabled:
            return ()
        if self.events_mode:
            return (self.events_topic(), self.face_updates_topic())
        cameras = self.cameras or ("+",)
        return tuple(
            f"{self.topic_prefix}/{camera}/{label}/snapshot"
            for camera in cameras
            for label in self.labels
        )


@dataclass(frozen=True)
class HomeAssistantConfig:
    """Home Assistant MQTT discovery (section ``homeassistant``)."""

    enabled: bool
    discovery_prefix: str
    status_topic: str
    retain_state: bool
    persons: tuple[str, ...]
    tags: tuple[str, ...]
    roster: bool


@dataclass(frozen=True)
class PublishConfig:
    """What goes into published events (section ``publish``)."""

    person_fields: tuple[PersonField, ...]
    annotated_snapshot: bool
    face_pictures: bool = False


@dataclass(frozen=True)
class LoggingConfig:
    """Log verbosity and format (section ``logging``)."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"]
    format: Literal["text", "json"]


@dataclass(frozen=True)
class SpoolConfig:
    """Store and forward while the engine is away (section ``spool``).

    `path` is as written; `BridgeApp` resolves a relative one against the config file's folder.
    """

    enabled: bool
    path: str
    max_items: int
    max_age: float
    responses: bool


@dataclass(frozen=True)
class HealthConfig:
    """The HTTP health endpoint (section ``health``); off and loopback-only by default."""

    enabled: bool
    host: str
    port: int


@dataclass(frozen=True)
class BridgeConfig:
    """The whole validated configuration.

    Attributes:
        source: The file it was loaded from, when it came from a file.
    """

    api: ApiConfig
    mqtt: MqttConfig
    processing: ProcessingConfig
    cameras: tuple[CameraConfig, ...]
    frigate: FrigateConfig
    homeassistant: HomeAssistantConfig
    publish: PublishConfig
    logging: LoggingConfig
    health: HealthConfig
    spool: SpoolConfig
    source: Path | None = None
    rules: tuple[FaceRule, ...] = ()

    def camera(self, name: str) -> CameraConfig | None:
        """Return the ``cameras`` entry called `name`, or None."""
        return next((camera for camera in self.cameras if camera.name == name), None)

    def as_masked_dict(self) -> dict[str, Any]:
        """Return plain data (for summaries and diagnostics) with every secret as ``'***'``."""
        data = _plain(self)
        assert isinstance(data, dict)
        return data


def _plain(value: Any) -> Any:
    """Turn dataclasses, tuples, paths and secrets into YAML/JSON-friendly data."""
    if isinstance(value, Secret):
        return MASK
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, frozenset):
        return sorted(_plain(item) for item in value)
    if isinstance(value, Path):
        return str(value)
    return value


def _frigate(raw: Mapping[str, Any]) -> FrigateConfig:
    """Build the Frigate section; zone lists become tuples, so the config stays hashable."""
    zones = {camera: tuple(names) for camera, names in raw["required_zones"].items()}
    return FrigateConfig(**{**raw, "required_zones": zones})


def build_config(data: Mapping[str, Any], source: Path | None = None) -> BridgeConfig:
    """Build the model from data the schema has validated (keys are the field names)."""
    processing = _processing(data["processing"])
    api = ApiConfig(**data["api"])
    mqtt = MqttConfig(**{**data["mqtt"], "tls": TlsConfig(**data["mqtt"]["tls"])})
    cameras = tuple(_camera(raw, processing, api.time_zone) for raw in data["cameras"])
    return BridgeConfig(
        api=api,
        mqtt=mqtt,
        processing=processing,
        cameras=cameras,
        frigate=_frigate(data["frigate"]),
        homeassistant=HomeAssistantConfig(**data["homeassistant"]),
        publish=PublishConfig(**data["publish"]),
        logging=LoggingConfig(**data["logging"]),
        health=HealthConfig(**data["health"]),
        spool=SpoolConfig(**data["spool"]),
        source=source,
        rules=tuple(_rule(raw) for raw in data.get("rules", ())),
    )


def _rule(raw: Mapping[str, Any]) -> FaceRule:
    """Build one item of ``rules`` (the schema checked person/tag and threshold/exclude)."""
    return FaceRule(**{**raw, "cameras": frozenset(raw["cameras"])})


def _processing(raw: Mapping[str, Any]) -> ProcessingConfig:
    """Build ProcessingConfig, whose ``include`` is a nested mapping."""
    return ProcessingConfig(**{**raw, "include": IncludeConfig(**raw["include"])})


def _camera(raw: Mapping[str, Any], processing: ProcessingConfig, time_zone: str) -> CameraConfig:
    """Build one camera: its own keys, plus settings merged over the processing defaults."""
    tunable = {f.name for f in fields(CameraSettings)}
    own = {key: value for key, value in raw.items() if key not in tunable}
    overrides = {key: value for key, value in raw.items() if key in tunable}
    own["time_zone"] = own["time_zone"] or time_zone
    return CameraConfig(**own, settings=merge_settings(processing.camera_defaults, overrides))


def merge_settings(defaults: CameraSettings, overrides: Mapping[str, Any]) -> CameraSettings:
    """Return `defaults` with every override that is not None; ``include`` merges per key.

    Per-key merging of ``include`` lets a camera write ``include: {fields: true}`` without
    restating the other switches.
    """
    changes = {key: value for key, value in overrides.items() if value is not None}
    if isinstance(changes.get("include"), Mapping):
        include = {key: value for key, value in changes["include"].items() if value is not None}
        changes["include"] = dataclasses.replace(defaults.include, **include)
    return dataclasses.replace(defaults, **changes)
