"""econnect_bridge.retry (backoff, circuit breaker, transient errors) and econnect_bridge.spool."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from econnect_bridge.retry import Backoff, CircuitBreaker, CircuitState, RetryPolicy, is_transient
from econnect_bridge.sources import Snapshot
from econnect_bridge.spool import Spool
from econnect_identities.errors import (
    EconnectAuthenticationError,
    EconnectBadRequestError,
    EconnectConnectionError,
    EconnectPermissionError,
    EconnectProtocolError,
    EconnectServerError,
    EconnectTimeoutError,
    EconnectTLSError,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_transient_errors_are_network_timeouts_and_5xx_only() -> None:
    assert is_transient(EconnectConnectionError("refused"))
    assert is_transient(EconnectTimeoutError("slow"))
    assert is_transient(EconnectServerError("boom", status=503))
    assert not is_transient(EconnectTLSError("bad cert"))
    for cls, status in (
        (EconnectBadRequestError, 400),
        (EconnectAuthenticationError, 401),
        (EconnectPermissionError, 403),
        (EconnectProtocolError, 200),
    ):
        assert not is_transient(cls("no", status=status))


def test_backoff_grows_to_its_cap_with_full_jitter() -> None:
    backoff = Backoff(base=0.5, cap=4.0)
    assert [backoff.ceiling(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    rng = random.Random(1)
    delays = [backoff.delay(3, rng) for _ in range(500)]
    assert all(0.0 <= d <= 4.0 for d in delays)
    assert max(delays) > 3.0
    assert min(delays) < 1.0


def test_retry_policy_never_retries_4xx_and_stops_after_retries() -> None:
    policy = RetryPolicy(retries=2, backoff=Backoff(0.1, 1.0), rng=random.Random(0))
    server = EconnectServerError("boom", status=500)
    assert policy.should_retry(server, 0) is not None
    assert policy.should_retry(server, 1) is not None
    assert policy.should_retry(server, 2) is None
    assert policy.should_retry(EconnectPermissionError("no", status=403), 0) is None
    assert policy.should_retry(EconnectAuthenticationError("no", status=401), 0) is None
    assert policy.should_retry(EconnectBadRequestError("no", status=400), 0) is None


def _state(circuit: CircuitBreaker) -> CircuitState:
    """Read the state through a call, so the type checker does not narrow it between reads."""
    return circuit.state


class NoJitter(random.Random):
    """Always draws the longest pause, so the tests can name exact times."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_circuit_opens_after_threshold_and_probes_once_after_a_second() -> None:
    clock = FakeClock()
    circuit = CircuitBreaker(threshold=3, reset_after=10, clock=clock, rng=NoJitter())
    down = EconnectConnectionError("refused")
    for _ in range(2):
        assert circuit.allow()
        circuit.record_failure(down)
    assert _state(circuit) is CircuitState.CLOSED
    assert circuit.allow()
    circuit.record_failure(down)
    assert _state(circuit) is CircuitState.OPEN
    assert not circuit.allow()
    assert not circuit.allow()
    assert circuit.rejected == 2
    assert circuit.retry_in() == pytest.approx(1)
    clock.now += 1
    assert _state(circuit) is CircuitState.HALF_OPEN
    assert circuit.allow()  # the probe
    assert not circuit.allow()  # only one probe at a time
    circuit.record_failure(down)  # probe failed: open again
    assert _state(circuit) is CircuitState.OPEN
    clock.now += 0.5
    assert _state(circuit) is CircuitState.OPEN
    clock.now += 0.6
    assert circuit.allow()
    circuit.record_success()
    assert _state(circuit) is CircuitState.CLOSED
    assert circuit.opened == 2


def test_circuit_pause_grows_with_the_outage_to_reset_after_and_success_resets_it() -> None:
    clock = FakeClock()
    circuit = CircuitBreaker(threshold=1, reset_after=5, clock=clock, rng=NoJitter())
    circuit.record_failure(EconnectTimeoutError("slow"))
    for outage, expected in ((100, 1 + 100 / 60), (200, 1 + 200 / 60), (400, 5), (4000, 5)):
        clock.now = 1000.0 + outage
        assert circuit.allow()
        circuit.record_failure(EconnectTimeoutError("slow"))
        assert circuit.retry_in() == pytest.approx(expected)
    clock.now += 100
    assert circuit.allow()
    circuit.record_success()
    circuit.record_failure(EconnectTimeoutError("slow"))
    assert circuit.retry_in() == pytest.approx(1)


def test_non_transient_failures_do_not_open_the_circuit() -> None:
    circuit = CircuitBreaker(threshold=2, reset_after=5, clock=FakeClock())
    for _ in range(10):
        assert circuit.allow()
        circuit.record_failure(EconnectPermissionError("no", status=403))
    assert circuit.state is CircuitState.CLOSED


def _snap(n: int) -> Snapshot:
    return Snapshot(
        camera=f"cam{n % 3}",
        topic=f"feed/cam{n % 3}",
        image=b"\xff\xd8\xff" + bytes([n % 256]) * 10,
        content_type="image/jpeg",
        detect_time=datetime(2026, 1, 1, 0, 0, n % 60, tzinfo=UTC),
    )


def test_spool_is_a_bounded_persistent_fifo(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "spool.sqlite3"
    spool = Spool(path, max_items=5, max_age=60, clock=clock)
    evicted = []
    for n in range(7):
        evicted += spool.put(_snap(n))
    assert len(spool) == 5
    assert [item.snapshot.image for item in evicted] == [_snap(0).image, _snap(1).image]
    spool.close()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    again = Spool(path, max_items=5, max_age=60, clock=clock)  # a restart
    assert len(again) == 5
    first = again.oldest()
    assert first is not None
    assert first.snapshot == _snap(2)
    again.remove(first.item_id)
    clock.now += 61
    again.put(_snap(9))
    expired = again.expire()
    assert [item.snapshot for item in expired] == [_snap(n) for n in (3, 4, 5, 6)]
    assert len(again) == 1
    last = again.oldest()
    assert last is not None
    assert last.snapshot == _snap(9)
    again.close()
