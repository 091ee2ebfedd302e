"""The bridge's health counters and the messages that report them: health state, error events.

Every stage counts here and reports its failures here, so one lock guards every counter and
the `bridge/state` and `errors` payloads are built in one place.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterable
from datetime import UTC, datetime

from econnect_bridge import __version__
from econnect_bridge.ports import Publisher
from econnect_bridge.statebook import Message
from econnect_bridge.states import HealthState, Topics, bridge_state_payload, encode
from econnect_identities.errors import EconnectError
from econnect_identities.events import error_event

_LOGGER = logging.getLogger("econnect_bridge.pipeline")


@dataclasses.dataclass
class Health:
    """Counters behind the bridge's health entities (guarded by the reporter's lock)."""

    started: datetime = dataclasses.field(default_factory=lambda: datetime.now(UTC))
    received: int = 0
    processed: int = 0
    dropped: int = 0
    errors: int = 0
    skipped_retained: int = 0
    api_reachable: bool = False
    api_latency_ms: float | None = None
    last_error: str | None = None
    # Reliability figures (not in the MQTT health payload; read by tests and the health endpoint).
    engine_failures: int = 0  # failed engine calls, retries included
    retries: int = 0  # engine calls repeated after a transient failure
    circuit_rejected: int = 0  # snapshots refused while the circuit was open
    lost: int = 0  # snapshots that never got a result (each also an error event)
    spooled: int = 0  # snapshots written to the spool
    replayed: int = 0  # spooled snapshots the engine accepted later
    redeliveries_skipped: int = 0  # QoS 1 duplicates (DUP flag) already received

    def state(self) -> HealthState:
        """Freeze the counters for publishing."""
        return HealthState(
            version=__version__,
            started=self.started,
            api_reachable=self.api_reachable,
            api_latency_ms=self.api_latency_ms,
            processed=self.processed,
            dropped=self.dropped,
            errors=self.errors,
            last_error=self.last_error,
        )


class Reporter:
    """Count what happens and publish error events, health and prepared messages."""

    def __init__(self, publisher: Publisher, topics: Topics, *, retain_state: bool) -> None:
        self._publisher = publisher
        self._topics = topics
        self._retain_state = retain_state
        self._lock = threading.Lock()
        self.health = Health()

    def count(self, counter: str, amount: int = 1) -> None:
        """Add `amount` to one of the `Health` counters (thread-safe)."""
        with self._lock:
            setattr(self.health, counter, getattr(self.health, counter) + amount)

    def engine_answered(self, latency_ms: float) -> None:
        """Record the latency of the engine's latest answer."""
        with self._lock:
            self.health.api_latency_ms = latency_ms

    def error(self, code: str, text: str, camera: str | None, topic: str | None) -> None:
        """Count an error and publish it as an error event."""
        with self._lock:
            self.health.errors += 1
            self.health.last_error = f"{code}: {text}"[:250]
        payload = error_event(code, text, camera=camera, source_topic=topic)
        self._publisher.publish(self._topics.errors(), encode(payload))

    def mark_engine(self, *, reachable: bool, error: EconnectError | None = None) -> None:
        """Record the engine's reachability from outside the workers (the start-up sign-in)."""
        if error is not None:
            with self._lock:
                self.health.last_error = f"{error.code}: {error}"[:250]
        self.set_reachable(reachable)

    def set_reachable(self, reachable: bool) -> None:
        """Record the engine's reachability; publish health at once when it changes."""
        with self._lock:
            changed = self.health.api_reachable != reachable
            self.health.api_reachable = reachable
        if changed:
            _LOGGER.log(
                logging.INFO if reachable else logging.WARNING,
                "The eConnect engine is %s",
                "reachable again" if reachable else "unreachable",
            )
            self.publish_health()

    def publish_health(self) -> None:
        """Publish the health counters (retained when `retain_state`)."""
        with self._lock:
            payload = encode(bridge_state_payload(self.health.state()))
        self._publisher.publish(self._topics.bridge_state(), payload, retain=self._retain_state)

    def send(self, messages: Iterable[Message]) -> None:
        """Publish messages the state book prepared."""
        for message in messages:
            self._publisher.publish(message.topic, message.payload, retain=message.retain)
