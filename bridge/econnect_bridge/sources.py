"""From an MQTT message to a `Snapshot`: which camera, which image bytes, taken when.

Payloads are untrusted. Decoding them (sniffing JPEG/PNG/WebP, JSON with a base64 image, data
URIs, `PayloadError` and its codes) lives in `econnect_identities.payloads`, which the Home
Assistant integration shares; it is re-exported here so the bridge's stages keep one import.
This module adds what only the bridge has: subscriptions, camera routing and the `Snapshot`.
Nothing here touches the network or paho.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from econnect_bridge.config.model import BridgeConfig, CameraConfig, CameraSettings
from econnect_bridge.messages import Acknowledge, no_ack
from econnect_identities.frigate import FrigateRef
from econnect_identities.payloads import (
    DecodedPayload,
    PayloadError,
    PayloadFormat,
    PayloadKind,
    decode_payload,
    parse_time,
    sniff_image_type,
)

__all__ = [
    "DecodedPayload",
    "PayloadError",
    "PayloadFormat",
    "PayloadKind",
    "Snapshot",
    "Source",
    "decode_payload",
    "parse_time",
    "sniff_image_type",
    "sources_from_config",
]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One image to recognise, as taken from the broker."""

    camera: str
    topic: str
    image: bytes = field(repr=False)
    content_type: str
    detect_time: datetime
    received: float = 0.0  # time.monotonic() when the message arrived, for latency figures
    ack: Acknowledge = field(default=no_ack, repr=False, compare=False)  # see messages.Incoming
    frigate: FrigateRef | None = None  # events mode: the Frigate object this picture shows

    @property
    def queue_key(self) -> str:
        """The latest-wins slot: the camera, or one per Frigate object (two people at once)."""
        return self.camera if self.frigate is None else f"{self.camera}\x00{self.frigate.event_id}"


#: What arrives on a source: snapshots, or (Frigate's events mode) messages about objects.
SourceKind = Literal["snapshot", "frigate_events"]
#: Frigate's event messages are small JSON; anything bigger is not one.
FRIGATE_MESSAGE_MAX_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Source:
    """A subscription and how to read what arrives on it (from `cameras` or the Frigate preset).

    `camera_level` is the topic level that names the camera (`{camera}` in the configured topic,
    or the camera level of Frigate's `frigate/<camera>/<label>/snapshot`); without one, every
    message belongs to `fixed_camera`.
    """

    subscription: str
    payload: PayloadFormat
    settings: CameraSettings
    time_zone: str
    camera_level: int | None = None
    fixed_camera: str = ""
    detector_name: str | None = None
    kind: SourceKind = "snapshot"

    def camera_for(self, topic: str) -> str:
        """Return the camera a message on `topic` comes from."""
        levels = topic.split("/")
        if self.camera_level is not None and self.camera_level < len(levels):
            return levels[self.camera_level]
        return self.fixed_camera

    def detector_for(self, camera: str) -> str:
        """Return the detectorName sent to the engine for `camera`."""
        return self.detector_name or camera


def sources_from_config(config: BridgeConfig) -> tuple[Source, ...]:
    """Build every source the configuration asks for."""
    sources = [_camera_source(camera) for camera in config.cameras]
    defaults = config.processing.camera_defaults
    if config.frigate.events_mode:
        message_format = PayloadFormat("json", max_bytes=FRIGATE_MESSAGE_MAX_BYTES)
        sources.extend(
            Source(
                subscription=topic,
                payload=message_format,
                settings=defaults,
                time_zone=config.api.time_zone,
                kind="frigate_events",
            )
            for topic in config.frigate.subscriptions()
        )
        return tuple(sources)
    frigate_format = PayloadFormat("raw", max_bytes=defaults.max_image_bytes)
    sources.extend(
        Source(
            subscription=topic,
            payload=frigate_format,
            settings=defaults,
            time_zone=config.api.time_zone,
            camera_level=config.frigate.topic_prefix.count("/") + 1,
        )
        for topic in config.frigate.subscriptions()
    )
    return tuple(sources)


def _camera_source(camera: CameraConfig) -> Source:
    return Source(
        subscription=camera.subscription,
        payload=PayloadFormat(
            kind=camera.payload,
            image_key=camera.json_image_key,
            camera_key=camera.json_camera_key,
            time_key=camera.json_time_key,
            max_bytes=camera.settings.max_image_bytes,
        ),
        settings=camera.settings,
        time_zone=camera.time_zone,
        camera_level=camera.camera_level,
        fixed_camera=camera.name,
        detector_name=camera.detector_name,
    )
