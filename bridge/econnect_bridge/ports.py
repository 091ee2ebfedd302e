"""The small interfaces the pipeline's stages depend on, instead of concrete clients.

A stage that calls the engine needs a `Recogniser` (what `EconnectClient` offers), a stage that
sends messages needs a `Publisher` (what `MqttConnection` offers); tests pass fakes of either.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from econnect_identities.models import PublishOptions, RecognitionResult


class Recogniser(Protocol):
    """The engine calls the workers make (thread-safe, as `EconnectClient` is)."""

    def publish_with_response(
        self,
        image: bytes,
        *,
        detector_name: str,
        time_zone: str,
        detect_time: datetime | None = None,
        options: PublishOptions | None = None,
    ) -> RecognitionResult:
        """Recognise the faces in `image` and return what the engine found."""

    def publish(
        self,
        image: bytes,
        *,
        detector_name: str,
        time_zone: str,
        detect_time: datetime | None = None,
    ) -> None:
        """Hand `image` to the engine without waiting for a result (fire-and-forget)."""


class Publisher(Protocol):
    """Where the stages' messages go (thread-safe and bounded, as `MqttConnection` is)."""

    def publish(
        self, topic: str, payload: bytes | str, *, retain: bool = False, qos: int | None = None
    ) -> bool:
        """Queue a message; return False when it could not be queued."""


class OutgoingGate(Protocol):
    """Back pressure from the outgoing path (what `MqttConnection.wait_for_room` offers)."""

    def wait_for_room(self, timeout: float) -> bool:
        """Wait while the outgoing path is behind; return False if it still is at timeout."""


class AlwaysRoom:
    """The gate of a publisher that is never behind (tests, in-memory publishers)."""

    def wait_for_room(self, timeout: float) -> bool:
        """Never wait."""
        return True
