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
from econnect_identities.errors import (
    EconnectAuthenticationError,
    EconnectBadRequestError,
    EconnectError,
    EconnectPermissionError,
    EconnectProtocolError,
    EconnectResponseError,
    EconnectServerError,
)
from econnect_identities.events import error_event

_LOGGER = logging.getLogger("econnect_bridge.pipeline")


#: The live counters; the same class as every copy the bridge reports (see `metrics`).
Health = BridgeMetrics

#: Returns fresh values for `BridgeMetrics` fields the reporter does not count itself
#: (queue gauges, the latency histogram, the MQTT adapter's counters).
Sampler = Callable[[], Mapping[str, object]]

#: Least time (s) between two bridge-state messages published because a figure changed.
STATE_MIN_INTERVAL: Final = 1.0

#: Least time (s) between two log lines about refused payloads of one camera with one code.
REFUSAL_LOG_INTERVAL: Final = 60.0

#: Most (camera, code) pairs whose refusals are remembered for the rate limit.
REFUSAL_KEYS_MAX: Final = 1024

#: What to change for each reason a payload is refused (the codes of
#: `econnect_identities.payloads` and the intake's `bad_payload`).
PAYLOAD_ADVICE: Final[Mapping[str, str]] = {
    "too_large": "raise processing.max_image_bytes (or the camera's max_image_bytes) if "
    "snapshots this large are expected",
    "empty_payload": "check what publishes on this topic: the messages are empty",
    "unsupported_payload": "check that this topic carries snapshots, and set the camera's "
    "`payload` setting (raw, json or data_uri) to their format",
    "not_an_image": "check that this topic carries JPEG, PNG or WebP snapshots, and that the "
    "camera's `payload` setting matches their format",
    "bad_json": "set the camera's `payload` setting to the snapshots' real format (raw or "
    "data_uri) if they are not JSON",
    "missing_image": "set the camera's `json_image_key` to the key that holds the base64 image",
    "bad_base64": "check the camera's `payload` and `json_image_key` settings: the image "
    "found is not base64",
    "bad_data_uri": "check the camera's `payload` setting: the data URI is not "
    "data:image/...;base64,...",
    "bad_payload": "check the camera's `payload` setting against what is published on this topic",
}

#: Codes of failures where the engine answered (so it is reachable), although not with success.
ANSWERED_CODES: Final = frozenset(
    cls.code
    for cls in (
        EconnectBadRequestError,
        EconnectAuthenticationError,
        EconnectPermissionError,
        EconnectProtocolError,
    )
)


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
        # Whether the engine was found unreachable since it last answered: only then is an
        # answer news ("reachable again"); at start-up the first answer is just the first.
        self._was_unreachable = False
        # Whether a refusal of the credentials was already logged (once per state change).
        self._refusal_logged = False
        # (camera, code) -> (when last logged, how many refusals were not logged since).
        self._refusals: dict[tuple[str, str], tuple[float, int]] = {}
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

    def error(self, code: str, text: str, camera: str | None, topic: str | None) -> None:
        """Count an error, publish it as an error event, and log a refused payload.

        A code saying the engine answered (a refusal of the credentials, of a permission,
        of the request) also records that the engine is reachable, and whether the bridge
        is signed in.
        """
        with self._lock:
            self.health.errors += 1
            self.health.last_error = f"{code}: {text}"[:250]
        payload = error_event(code, text, camera=camera, source_topic=topic)
        self._publisher.publish(self._topics.errors(), encode(payload))
        if code in PAYLOAD_ADVICE:
            self._log_refusal(code, text, camera, topic)
        elif code in ANSWERED_CODES:
            self._record_answer(signed_in=code != EconnectAuthenticationError.code, text=text)

    def _log_refusal(self, code: str, text: str, camera: str | None, topic: str | None) -> None:
        """Log a refused payload: the first at once, then one line a minute per camera and code.

        The text comes from the payload decoder, which describes a payload without quoting
        it, so no image bytes or secrets reach the log.
        """
        key = (camera or "?", code)
        now = self._clock()
        with self._lock:
            last, suppressed = self._refusals.get(key, (float("-inf"), 0))
            if now - last < REFUSAL_LOG_INTERVAL:
                self._refusals[key] = (last, suppressed + 1)
                return
            if len(self._refusals) >= REFUSAL_KEYS_MAX:  # cameras named by a `{camera}` level
                self._refusals.clear()
            self._refusals[key] = (now, 0)
        more = f" ({suppressed} more since)" if suppressed else ""
        _LOGGER.warning(
            "%s: snapshot on %s refused (%s: %s); %s%s",
            key[0],
            topic or "?",
            code,
            text,
            PAYLOAD_ADVICE[code],
            more,
        )

    def mark_engine(self, *, reachable: bool, error: EconnectError | None = None) -> None:
        """Record the outcome of the start-up sign-in (the app logs it itself).

        An engine that refused the sign-in answered, so it is reachable whatever `reachable`
        says; the bridge is signed in after a sign-in without error.
        """
        if error is not None:
            with self._lock:
                self.health.last_error = f"{error.code}: {error}"[:250]
        answered = isinstance(error, EconnectResponseError) and not isinstance(
            error, EconnectServerError
        )
        signed_in: bool | None = None
        if error is None and reachable:
            signed_in = True
        elif isinstance(error, EconnectAuthenticationError):
            signed_in = False  # the app logs this refusal itself
        self._record_engine(reachable=reachable or answered, signed_in=signed_in, log=False)

    def engine_answered(self, latency_ms: float) -> None:
        """Record the latency of a successful engine call, which also proves the sign-in."""
        with self._lock:
            self.health.api_latency_ms = latency_ms
        self._record_engine(reachable=True, signed_in=True, log=True)

    def _record_answer(self, *, signed_in: bool, text: str) -> None:
        """The engine answered a call with a refusal: reachable, and maybe not signed in."""
        self._record_engine(reachable=True, signed_in=signed_in, log=True, text=text)

    def set_reachable(self, reachable: bool) -> None:
        """Record whether the engine answers; publish health at once when it changes."""
        self._record_engine(reachable=reachable, signed_in=None, log=True)

    def _record_engine(
        self, *, reachable: bool, signed_in: bool | None, log: bool, text: str = ""
    ) -> None:
        """Change both engine flags at once and publish one state if either changed.

        Both flags go out in one message, so a dashboard never shows "signed in" beside
        "unreachable". "Reachable again" is logged only after the engine was unreachable,
        never for the first answer after start-up; a refusal of the credentials is logged
        once until a sign-in succeeds.
        """
        with self._lock:
            reach_changed = self.health.api_reachable != reachable
            self.health.api_reachable = reachable
            was_unreachable, self._was_unreachable = self._was_unreachable, not reachable
            refused_before = self._refusal_logged
            sign_in_changed = signed_in is not None and self.health.api_signed_in != signed_in
            if signed_in is not None:
                self.health.api_signed_in = signed_in
                self._refusal_logged = not signed_in
        if reachable and was_unreachable:
            _LOGGER.info("The eConnect engine is reachable again")
        elif reach_changed and not reachable:
            _LOGGER.warning("The eConnect engine is unreachable")
        if signed_in is not None and log:
            self._log_sign_in(signed_in, refused_before=refused_before, text=text)
        if reach_changed or sign_in_changed:
            self.publish_health()

    @staticmethod
    def _log_sign_in(signed_in: bool, *, refused_before: bool, text: str) -> None:
        """Log the engine's verdict on the credentials once per change of mind."""
        if signed_in and refused_before:
            _LOGGER.info("The eConnect engine accepts the bridge's credentials again")
        elif not signed_in and not refused_before:
            _LOGGER.warning(
                "The eConnect engine refuses the bridge's credentials (%s); check api.username "
                "and api.password (or api.token). Logged once until a sign-in succeeds.",
                text or "authentication failed",
            )

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
