"""One snapshot to the engine: the call, its retries with backoff, and the circuit breaker.

A transient failure (unreachable, timeout, 5xx) is retried after a jittered delay; after
`circuit_threshold` failures in a row the circuit opens and snapshots are refused without
calling the engine (each refusal is still reported), so a dead engine is not hammered. The
open circuit lets one snapshot through as a probe, about a second after opening and less
often as the outage lasts, so a recovered engine is found quickly. Every call's outcome
updates the health counters, the latency histogram and the engine's reachability.
"""

from __future__ import annotations

import logging
import threading
import time

from econnect_bridge.config.model import CameraSettings
from econnect_bridge.health import LatencyHistogram
from econnect_bridge.ports import Recogniser
from econnect_bridge.reporting import Reporter
from econnect_bridge.retry import RetryPolicy, is_transient
from econnect_bridge.sources import Snapshot, Source
from econnect_identities.errors import EconnectError
from econnect_identities.models import PublishOptions, RecognitionResult

_LOGGER = logging.getLogger("econnect_bridge.pipeline")  # the pipeline's log lines, as before

#: Error code of a snapshot refused because the circuit to the engine is open.
CIRCUIT_OPEN = "engine_unavailable"


class CircuitOpenError(Exception):
    """The circuit breaker refused the call: the engine failed too often lately."""

    code = CIRCUIT_OPEN


class ShuttingDownError(Exception):
    """The bridge is stopping: a retry was abandoned."""

    code = "shutting_down"


#: Why a snapshot got no result from the engine.
CallFailure = EconnectError | CircuitOpenError | ShuttingDownError


def publish_options(settings: CameraSettings) -> PublishOptions:
    """Translate a camera's settings into the engine's request switches."""
    include = settings.include
    return PublishOptions(
        largest_face_only=settings.largest_face_only,
        allow_double_detection=settings.allow_double_detection,
        include_person=include.person,
        include_names=include.names,
        include_addresses=include.addresses,
        include_tags=include.tags,
        include_fields=include.fields,
    )


class EngineCaller:
    """Call the engine for one snapshot, through the retry policy and the shared circuit."""

    def __init__(
        self,
        *,
        recogniser: Recogniser,
        retry: RetryPolicy,
        reporter: Reporter,
        latency: LatencyHistogram,
        stopping: threading.Event,
    ) -> None:
        self._recogniser = recogniser
        self.retry = retry
        self._reporter = reporter
        self._latency = latency
        self._stopping = stopping

    def call_with_retries(
        self, snapshot: Snapshot, source: Source
    ) -> tuple[RecognitionResult | None, float]:
        """Call the engine, retrying transient failures with backoff; raise a `CallFailure`."""
        attempt = 0
        last: EconnectError | None = None
        while True:
            try:
                result, latency = self.call_once(snapshot, source)
            except CircuitOpenError:
                if last is not None:
                    raise last from None  # say why the engine failed, not that we gave up
                raise
            if not isinstance(result, EconnectError):
                return result, latency
            err = last = result
            self._wait_to_retry(snapshot, err, attempt)
            attempt += 1
            self._reporter.count("retries")

    def _wait_to_retry(self, snapshot: Snapshot, err: EconnectError, attempt: int) -> None:
        """Sleep before retry number `attempt`, or raise when there is to be none."""
        delay = self.retry.should_retry(err, attempt)
        if delay is None:
            raise err
        _LOGGER.info(
            "%s: engine call failed (%s); retry %d in %.1f s",
            snapshot.camera,
            err.code,
            attempt + 1,
            delay,
        )
        if self._stopping.wait(delay):
            raise ShuttingDownError("the bridge stopped while waiting to retry") from err

    def call_once(
        self, snapshot: Snapshot, source: Source
    ) -> tuple[RecognitionResult | EconnectError | None, float]:
        """One engine call through the circuit; returns the error instead of raising it."""
        self._check_circuit()
        started = time.perf_counter()
        try:
            result = self._call_engine(snapshot, source)
        except EconnectError as err:
            self._record_failure(err)
            return err, 0.0
        except BaseException:
            self.retry.circuit.release_probe()  # no verdict on the engine: free the probe
            raise
        return result, self._record_success(snapshot, time.perf_counter() - started)

    def _record_failure(self, err: EconnectError) -> None:
        """Count a failed call; a transient one also says the engine is unreachable."""
        self.retry.circuit.record_failure(err)
        self._reporter.count("engine_failures")
        if is_transient(err):
            self._reporter.set_reachable(False)

    def _record_success(self, snapshot: Snapshot, seconds: float) -> float:
        """Close the circuit, record the engine's reachability; return the latency in ms."""
        self.retry.circuit.record_success()
        latency = seconds * 1000
        self._latency.observe(latency)
        _LOGGER.debug("%s: the engine answered in %.0f ms", snapshot.camera, latency)
        self._reporter.engine_answered(latency)
        self._reporter.set_reachable(True)
        return latency

    def _check_circuit(self) -> None:
        """Raise `CircuitOpenError` when the circuit refuses a call now."""
        circuit = self.retry.circuit
        if circuit.allow():
            return
        self._reporter.count("circuit_rejected")
        wait = circuit.retry_in()
        when = f"in {wait:.1f} s" if wait > 0 else "as soon as the probe in flight ends"
        msg = (
            f"The engine failed {circuit.threshold} times in a row; not calling it until "
            f"the next probe, {when} (circuit open)"
        )
        raise CircuitOpenError(msg)

    def _call_engine(self, snapshot: Snapshot, source: Source) -> RecognitionResult | None:
        detector = source.detector_for(snapshot.camera)
        if source.settings.mode == "publish":
            self._recogniser.publish(
                snapshot.image,
                detector_name=detector,
                time_zone=source.time_zone,
                detect_time=snapshot.detect_time,
            )
            return None
        return self._recogniser.publish_with_response(
            snapshot.image,
            detector_name=detector,
            time_zone=source.time_zone,
            detect_time=snapshot.detect_time,
            options=publish_options(source.settings),
        )
