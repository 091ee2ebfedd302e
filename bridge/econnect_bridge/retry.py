"""When to try the engine again: backoff with jitter, and a circuit breaker. Pure, no I/O.

Both take an injected clock (and an injected random source for the jitter), so the unit tests
drive them without sleeping. The pipeline owns one `CircuitBreaker` for the engine and one
`Backoff` for the delays between attempts at one snapshot.

- `is_transient(err)` says which failures are worth another try: the engine could not be
  reached, timed out, or answered 5xx. A 400, 401, 403, a TLS failure or a malformed answer
  will not change by asking again, so they fail at once.
- `Backoff.delay(attempt)` is "full jitter" (AWS architecture blog): uniform between 0 and
  `min(cap, base * 2**attempt)`, so many bridges (or workers) do not retry in lockstep.
- `CircuitBreaker`: after `threshold` transient failures in a row the circuit opens and the
  engine is left alone; then one caller is let through as a probe (half-open). Its success
  closes the circuit at once; its failure opens it again. The pauses between probes are short
  at first, so a restarted engine is found within a couple of seconds, and grow with the
  outage, so a dead engine is probed less and less often:

      pause = min(reset_after, first_probe + outage / 60) * uniform(0.75, 1)

  where `outage` is how long the circuit has been open (since it last closed). With the
  defaults the first probe comes about 1 s after opening, the pause is at most 2 s through
  the first minute, 11 s after ten minutes, and `reset_after` (the `api.circuit_reset` key)
  after about half an hour. `reset_after` is thus the longest the engine is ever left alone.
  Doubling the pause at each failed probe would not do: after a few doublings the pause is
  as long as the outage so far, so an engine back after 20 s would be found up to 16 s late.
  The jitter only shortens a pause, so it never exceeds `reset_after`, and bridges restarted
  together do not probe in lockstep.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from econnect_identities.errors import (
    EconnectConnectionError,
    EconnectError,
    EconnectServerError,
    EconnectTLSError,
)

Clock = Callable[[], float]
_RNG = random.Random()  # jitter, not cryptography


def is_transient(err: BaseException) -> bool:
    """Return whether asking the engine again later could succeed."""
    if isinstance(err, EconnectTLSError):
        return False  # a certificate problem is configuration, not weather
    return isinstance(err, EconnectConnectionError | EconnectServerError)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter."""

    base: float = 0.5
    cap: float = 10.0

    def ceiling(self, attempt: int) -> float:
        """Return the largest delay before retry number `attempt` (0 for the first retry)."""
        return float(min(self.cap, self.base * (2 ** max(0, attempt))))

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Return a random delay in [0, ceiling(attempt)]."""
        source = rng or _RNG
        return float(source.uniform(0.0, self.ceiling(attempt)))


class CircuitState(Enum):
    """The three states of a circuit breaker."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


#: The pause between probes grows by one second for every minute of outage.
OUTAGE_SHARE = 1 / 60
#: A pause is drawn between this share of its ceiling and the ceiling itself.
PAUSE_JITTER = 0.25


class CircuitBreaker:
    """Stop calling a failing engine for a while; let one probe through to test it.

    Thread-safe: workers share one breaker, and only one of them holds the probe at a time.
    `reset_after` is the longest pause between two probes (see the module's docstring).
    """

    def __init__(
        self,
        *,
        threshold: int = 5,
        reset_after: float = 30.0,
        first_probe: float = 1.0,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if threshold < 1:
            raise ValueError("threshold must be at least 1")
        if reset_after <= 0 or first_probe <= 0:
            raise ValueError("reset_after and first_probe must be positive")
        self.threshold = threshold
        self.reset_after = reset_after
        self.first_probe = min(first_probe, reset_after)
        self._clock = clock
        self._rng = rng or _RNG
        self._lock = threading.Lock()
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._down_since = 0.0  # when the circuit last opened from closed
        self._probe_at = 0.0  # when an open circuit lets the next probe through
        self._probe_out = False
        self.opened = 0  # how many times the circuit opened (again)
        self.rejected = 0  # calls refused while open

    @property
    def state(self) -> CircuitState:
        """Return the state now (an open circuit whose pause is over reads as half-open)."""
        with self._lock:
            return self._current()

    def _current(self) -> CircuitState:
        if self._state is CircuitState.OPEN and self._clock() >= self._probe_at:
            self._state = CircuitState.HALF_OPEN
            self._probe_out = False
        return self._state

    def pause_ceiling(self, outage: float) -> float:
        """Return the longest pause before the next probe when the circuit has been open so long."""
        return min(self.reset_after, self.first_probe + max(0.0, outage) * OUTAGE_SHARE)

    def retry_in(self) -> float:
        """Return the seconds until a probe is allowed (0 when calls are allowed now)."""
        with self._lock:
            if self._current() is not CircuitState.OPEN:
                return 0.0
            return max(0.0, self._probe_at - self._clock())

    def allow(self) -> bool:
        """Return whether a call may go to the engine now; counts refusals."""
        with self._lock:
            state = self._current()
            if state is CircuitState.CLOSED:
                return True
            if state is CircuitState.HALF_OPEN and not self._probe_out:
                self._probe_out = True
                return True
            self.rejected += 1
            return False

    def release_probe(self) -> None:
        """The probe ended without an answer either way: let the next caller probe instead.

        Without this, a probe cut short by an unexpected error would hold the half-open
        circuit forever and every later snapshot would be refused.
        """
        with self._lock:
            if self._state is CircuitState.HALF_OPEN:
                self._probe_out = False

    def record_success(self) -> None:
        """A call succeeded: close the circuit and forget past failures."""
        with self._lock:
            self._state = CircuitState.CLOSED
            self._failures = 0
            self._probe_out = False

    def record_failure(self, err: BaseException | None = None) -> None:
        """A call failed; only transient failures count toward opening the circuit."""
        if err is not None and not is_transient(err):
            with self._lock:
                # The engine answered (e.g. 403): it is up, the request is the problem.
                if self._state is CircuitState.HALF_OPEN:
                    self._state = CircuitState.CLOSED
                    self._probe_out = False
                self._failures = 0
            return
        with self._lock:
            state = self._current()
            if state is CircuitState.HALF_OPEN:
                self._trip()  # the probe failed: wait longer, the outage is older
                return
            self._failures += 1
            if state is CircuitState.CLOSED and self._failures >= self.threshold:
                self._down_since = self._clock()
                self._trip()

    def _trip(self) -> None:
        now = self._clock()
        ceiling = self.pause_ceiling(now - self._down_since)
        self._state = CircuitState.OPEN
        self._probe_at = now + ceiling * self._rng.uniform(1.0 - PAUSE_JITTER, 1.0)
        self._probe_out = False
        self.opened += 1


class RetryPolicy:
    """How one snapshot is retried: attempts, backoff, and the shared circuit."""

    def __init__(
        self,
        *,
        retries: int = 2,
        backoff: Backoff | None = None,
        circuit: CircuitBreaker | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.retries = retries
        self.backoff = backoff or Backoff()
        self.circuit = circuit or CircuitBreaker()
        self._rng = rng

    def should_retry(self, err: EconnectError, attempt: int) -> float | None:
        """Return the delay before retrying after failure number `attempt` (0-based), or None."""
        if not is_transient(err) or attempt >= self.retries:
            return None
        return self.backoff.delay(attempt, self._rng)
