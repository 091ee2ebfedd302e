"""The open circuit's probes: early at first, less often while the engine stays down, one at a time.

All with an injected clock and random source: no sleeps.
"""

from __future__ import annotations

import itertools
import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import pytest

from econnect_bridge.engine_stage import CircuitOpenError, EngineCaller
from econnect_bridge.health import LatencyHistogram
from econnect_bridge.ports import Recogniser
from econnect_bridge.reporting import Reporter
from econnect_bridge.retry import (
    PAUSE_JITTER,
    Backoff,
    CircuitBreaker,
    CircuitState,
    RetryPolicy,
)
from econnect_bridge.sources import Snapshot, Source
from econnect_identities.errors import EconnectConnectionError, EconnectPermissionError

DOWN = EconnectConnectionError("refused")


class FakeClock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


class NoJitter(random.Random):
    """Always draws the longest pause."""

    def uniform(self, a: float, b: float) -> float:
        return b


class MostJitter(random.Random):
    """Always draws the shortest pause."""

    def uniform(self, a: float, b: float) -> float:
        return a


def _opened(
    clock: FakeClock, rng: random.Random | None = None, reset_after: float = 30.0
) -> CircuitBreaker:
    circuit = CircuitBreaker(threshold=2, reset_after=reset_after, clock=clock, rng=rng)
    for _ in range(2):
        assert circuit.allow()
        circuit.record_failure(DOWN)
    assert circuit.state is CircuitState.OPEN
    return circuit


def _probe_until_allowed(circuit: CircuitBreaker, clock: FakeClock) -> float:
    """Move the clock to the next probe; return the pause it waited."""
    pause = circuit.retry_in()
    clock.now += pause
    assert circuit.allow(), "the probe is due"
    return pause


def test_first_probe_about_a_second_after_opening() -> None:
    clock = FakeClock()
    circuit = _opened(clock, random.Random(7))
    pause = circuit.retry_in()
    assert 1 - PAUSE_JITTER <= pause <= 1.0
    clock.now += pause - 0.01
    assert not circuit.allow()
    clock.now += 0.01
    assert circuit.state is CircuitState.HALF_OPEN
    assert circuit.allow()


def test_failed_probes_wait_longer_and_longer_up_to_reset_after() -> None:
    clock = FakeClock()
    circuit = _opened(clock, NoJitter(), reset_after=30)
    pauses: list[float] = []
    for _ in range(400):  # about two hours of outage
        pauses.append(_probe_until_allowed(circuit, clock))
        circuit.record_failure(DOWN)
    assert pauses[0] == pytest.approx(1.0)
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(pauses)), "never shorter"
    assert pauses[-1] > pauses[0] * 10
    assert max(pauses) == pytest.approx(30.0)
    assert pauses[-1] == pytest.approx(30.0)


def test_pauses_stay_short_in_the_first_minute_and_within_reset_after_with_jitter() -> None:
    clock = FakeClock()
    circuit = _opened(clock, random.Random(3), reset_after=20)
    opened_at, pauses = clock.now, []
    while clock.now - opened_at < 3600:
        pause = _probe_until_allowed(circuit, clock)
        pauses.append((clock.now - pause - opened_at, pause))
        circuit.record_failure(DOWN)
    assert all(pause <= 2.0 for began, pause in pauses if began < 60)
    assert all(0 < pause <= 20.0 for _began, pause in pauses)
    assert max(pause for _began, pause in pauses) > 15


def test_jitter_only_shortens_a_pause() -> None:
    clock = FakeClock()
    shortest = _opened(clock, MostJitter(), reset_after=4)
    assert shortest.retry_in() == pytest.approx(1 - PAUSE_JITTER)
    clock.now += 10_000  # a very old outage: the pause is at its ceiling
    assert shortest.allow()
    shortest.record_failure(DOWN)
    assert shortest.retry_in() == pytest.approx(4 * (1 - PAUSE_JITTER))


def test_short_reset_after_bounds_the_first_probe_too() -> None:
    clock = FakeClock()
    circuit = _opened(clock, NoJitter(), reset_after=0.5)
    assert circuit.retry_in() == pytest.approx(0.5)


def test_successful_probe_closes_the_circuit_at_once_and_forgets_the_outage() -> None:
    clock = FakeClock()
    circuit = _opened(clock, NoJitter())
    clock.now += 600  # ten minutes of outage: long pauses
    assert circuit.allow()
    circuit.record_failure(DOWN)
    assert circuit.retry_in() == pytest.approx(11.0)
    _probe_until_allowed(circuit, clock)
    circuit.record_success()
    assert circuit.state is CircuitState.CLOSED
    assert all(circuit.allow() for _ in range(20))
    circuit.record_failure(DOWN)
    assert circuit.state is CircuitState.CLOSED, "the failure count started again"
    circuit.record_failure(DOWN)
    assert circuit.retry_in() == pytest.approx(1.0), "a new outage probes early again"


def test_only_one_caller_through_while_half_open() -> None:
    clock = FakeClock()
    circuit = _opened(clock, NoJitter())
    clock.now += 1
    allowed = [circuit.allow() for _ in range(10)]
    assert allowed == [True] + [False] * 9
    assert circuit.rejected == 9
    assert circuit.state is CircuitState.HALF_OPEN
    assert circuit.retry_in() == 0.0  # the probe is under way


def test_a_probe_answered_with_a_refusal_closes_the_circuit() -> None:
    clock = FakeClock()
    circuit = _opened(clock, NoJitter())
    _probe_until_allowed(circuit, clock)
    circuit.record_failure(EconnectPermissionError("no", status=403))
    assert circuit.state is CircuitState.CLOSED


def test_a_released_probe_lets_the_next_caller_probe() -> None:
    clock = FakeClock()
    circuit = _opened(clock, NoJitter())
    _probe_until_allowed(circuit, clock)
    assert not circuit.allow()
    circuit.release_probe()
    assert circuit.allow()
    assert not circuit.allow()


def _race(circuit: CircuitBreaker, threads: int) -> list[bool]:
    """Let `threads` threads call `allow()` at the same moment; return their answers."""
    start = threading.Barrier(threads)
    answers: list[bool] = []
    lock = threading.Lock()

    def race() -> None:
        start.wait()
        allowed = circuit.allow()
        with lock:
            answers.append(allowed)

    workers = [threading.Thread(target=race) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(5)
    return answers


def test_threads_racing_for_the_probe_let_exactly_one_through() -> None:
    clock = FakeClock()
    circuit = _opened(clock, NoJitter())
    threads, rounds = 8, 25
    for _ in range(rounds):
        clock.now += circuit.retry_in()
        answers = _race(circuit, threads)
        assert len(answers) == threads
        assert answers.count(True) == 1, answers
        circuit.record_failure(DOWN)  # the probe failed: open again
    assert circuit.rejected == rounds * (threads - 1)


@dataclass
class FakeRecogniser:
    """Counts calls; fails while `error` is set."""

    error: BaseException | None = None
    calls: int = 0

    def publish(self, image: bytes, **_kw: Any) -> None:
        self.calls += 1
        if self.error is not None:
            raise self.error


@dataclass
class FakeReporter:
    counts: dict[str, int] = field(default_factory=dict)
    reachable: list[bool] = field(default_factory=list)

    def count(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1

    def set_reachable(self, reachable: bool) -> None:
        self.reachable.append(reachable)

    def engine_answered(self, latency: float) -> None:
        del latency


def _caller(
    clock: FakeClock,
) -> tuple[EngineCaller, FakeRecogniser, FakeReporter, Source, Snapshot]:
    recogniser, reporter = FakeRecogniser(), FakeReporter()
    circuit = CircuitBreaker(threshold=1, reset_after=30, clock=clock, rng=NoJitter())
    caller = EngineCaller(
        recogniser=cast(Recogniser, recogniser),
        retry=RetryPolicy(retries=0, backoff=Backoff(0.01, 0.01), circuit=circuit),
        reporter=cast(Reporter, reporter),
        latency=LatencyHistogram(),
        stopping=threading.Event(),
    )
    source = SimpleNamespace(
        detector_for=lambda camera: camera,
        settings=SimpleNamespace(mode="publish"),
        time_zone="UTC",
    )
    snapshot = Snapshot(
        camera="cam",
        topic="cams/cam",
        image=b"\xff\xd8\xff",
        content_type="image/jpeg",
        detect_time=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return caller, recogniser, reporter, cast(Source, source), snapshot


def test_the_probe_is_the_snapshot_itself_and_refusals_are_counted() -> None:
    clock = FakeClock()
    caller, engine, reporter, source, snapshot = _caller(clock)
    engine.error = DOWN
    result, _ = caller.call_once(snapshot, source)
    assert result is DOWN
    with pytest.raises(CircuitOpenError, match="circuit open"):
        caller.call_once(snapshot, source)
    assert engine.calls == 1
    assert reporter.counts["circuit_rejected"] == 1
    clock.now += 1
    engine.error = None
    result, _ = caller.call_once(snapshot, source)  # the probe: a real call, which succeeds
    assert result is None  # publish mode: no result to return
    assert engine.calls == 2
    assert caller.retry.circuit.state is CircuitState.CLOSED
    assert reporter.reachable[-1] is True


def test_an_unexpected_error_in_the_probe_does_not_hold_the_circuit() -> None:
    clock = FakeClock()
    caller, engine, _reporter, source, snapshot = _caller(clock)
    engine.error = DOWN
    caller.call_once(snapshot, source)
    clock.now += 1
    engine.error = RuntimeError("a bug, not the engine")
    with pytest.raises(RuntimeError):
        caller.call_once(snapshot, source)
    engine.error = None
    result, _ = caller.call_once(snapshot, source)  # the next snapshot may probe
    assert result is None
    assert caller.retry.circuit.state is CircuitState.CLOSED
