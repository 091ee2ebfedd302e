"""The bridge's health counters and the messages that report them: health state, error events.

Every stage counts here and reports its failures here, so one lock guards every counter of
the one `BridgeMetrics`, and the `bridge/state` and `errors` payloads are built in one place.
The health endpoint reads the same `snapshot()` the bridge state is rendered from.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Final

from econnect_bridge.metrics import COUNTERS, BridgeMetrics
from econnect_bridge.ports import Publisher
from econnect_bridge.statebook import Message
from econnect_bridge.states import Topics, bridge_state_payload, encode
from econnect_identities.errors import EconnectError
from econnect_identities.events import error_event

_LOGGER = logging.getLogger("econnect_bridge.pipeline")


#: The live counters; the same class as every copy the bridge reports (see `metrics`).
Health = BridgeMetrics

#: Returns fresh values for `BridgeMetrics` fields the reporter does not count itself
#: (queue gauges, the latency histogram, the MQTT adapter's counters).
Sampler = Callable[[], Mapping[str, object]]

#: Least time (s) between two bridge-state messages published because a figure changed.
STATE_MIN_INTERVAL: Final = 1.0


class Reporter:
    """Count what happens and publish error events, health and prepared messages."""

    def __init__(
        self,
        publisher: Publisher,
        topics: Topics,
        *,
        retain_state: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._publisher = publisher
        self._topics = topics
        self._retain_state = retain_state
        self._clock = clock
        self._lock = threading.Lock()
        self._samplers: list[Sampler] = []
        self._last_state: bytes | None = None
        self._last_sent = float("-inf")
        self.health = BridgeMetrics()

    def add_sampler(self, sampler: Sampler) -> None:
        """Read more figures into every snapshot (call before the threads start)."""
        self._samplers.append(sampler)

    def snapshot(self) -> BridgeMetrics:
        """Copy the counters and fill in the sampled figures: what MQTT and /metrics render.

        One copy for both outputs is what keeps them consistent; samplers run outside the
        lock because they take their owners' locks.
        """
        with self._lock:
            copy = dataclasses.replace(self.health)
        for sampler in self._samplers:
            copy = dataclasses.replace(copy, **sampler())  # type: ignore[arg-type]
        return copy

    def count(self, counter: str, amount: int = 1) -> None:
        """Add `amount` to one of the `BridgeMetrics` counters (thread-safe)."""
        if counter not in COUNTERS:
            msg = f"{counter!r} is not a counter of the metrics table"
            raise ValueError(msg)
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
        self._publish_state(encode(bridge_state_payload(self.snapshot())))

    def publish_health_if_changed(self) -> bool:
        """Publish the bridge state if it changed, at most once per `STATE_MIN_INTERVAL`.

        Home Assistant should see a recognition counted within a second or two, not at the
        next periodic publish; the rate limit keeps a busy bridge from flooding the broker
        (a change held back goes out at a later call). Returns whether it published.
        """
        if self._clock() - self._last_sent < STATE_MIN_INTERVAL:
            return False
        payload = encode(bridge_state_payload(self.snapshot()))
        if payload == self._last_state:
            return False
        self._publish_state(payload)
        return True

    def _publish_state(self, payload: bytes) -> None:
        # Workers and the control loop may race here; the worst outcome is one extra message.
        self._last_state, self._last_sent = payload, self._clock()
        self._publisher.publish(self._topics.bridge_state(), payload, retain=self._retain_state)

    def send(self, messages: Iterable[Message]) -> None:
        """Publish messages the state book prepared."""
        for message in messages:
            self._publisher.publish(message.topic, message.payload, retain=message.retain)
