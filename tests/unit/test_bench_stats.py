"""The benchmark's statistics helpers: the figures in docs/performance.md come from these."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.load import Offered, match  # noqa: E402
from benchmarks.stats import (  # noqa: E402
    Sample,
    flat_memory,
    iso_epoch,
    percentile,
    ratio,
    seq_from_topic,
    summary,
    throughput,
)


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))  # 1..100
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile(values, 0) == 1
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


def test_percentile_rejects_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile([1.0], 101)


def test_summary_of_empty_and_unsorted_samples() -> None:
    assert summary([])["count"] == 0
    assert summary([])["p99"] is None
    result = summary([3.0, 1.0, 2.0, 4.0])
    assert result == {"count": 4, "mean": 2.5, "p50": 2.0, "p95": 4.0, "p99": 4.0, "max": 4.0}


def test_ratio_guards_missing_and_zero() -> None:
    assert ratio(90.0, 100.0) == 0.9
    assert ratio(None, 100.0) is None
    assert ratio(1.0, 0.0) is None
    assert ratio(1.0, None) is None


def test_throughput_counts_only_the_window() -> None:
    received = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    assert throughput(received, 1.0, 3.0) == 2.0  # 1.0, 1.5, 2.0, 2.5 in two seconds
    assert throughput(received, 3.0, 3.0) == 0.0


def test_flat_memory_needs_enough_samples_and_no_growth() -> None:
    flat = [(float(t), 40.0 + (t % 2) * 0.5) for t in range(12)]
    growing = [(float(t), 40.0 + t * 2.0) for t in range(12)]
    assert flat_memory(flat)
    assert not flat_memory(growing)
    assert not flat_memory(flat[:5])


def test_sample_overhead_and_parts() -> None:
    sample = Sample(sent=10.0, received=10.050, engine_ms=45.0, inbound_ms=1.0, outbound_ms=2.0)
    assert sample.latency_ms == pytest.approx(50.0)
    assert sample.overhead_ms == pytest.approx(5.0)
    assert sample.inside_ms == pytest.approx(2.0)
    assert Sample(1.0, 1.1).overhead_ms is None
    assert Sample(1.0, 1.1, 50.0).inside_ms is None


def test_seq_and_time_parsing() -> None:
    assert seq_from_topic("bench/cam01/1234") == 1234
    assert seq_from_topic("bench/cam01/snapshot") is None
    assert iso_epoch("1970-01-01T00:00:01.500Z") == 1.5
    assert iso_epoch(None) is None
    assert iso_epoch("not a time") is None


def test_match_pairs_events_with_their_publish_and_counts_the_rest() -> None:
    offered = Offered(sent={7: 100.0, 8: 100.1})
    event = {"type": "recognition", "source_topic": "bench/cam00/7", "api_latency_ms": 40.0}
    records = [
        (100.05, "econnect/events", json.dumps(event).encode()),
        (100.2, "econnect/events", json.dumps({"type": "error", "code": "x"}).encode()),
        (100.3, "econnect/events", json.dumps({"source_topic": "bench/cam00/99"}).encode()),
        (100.4, "econnect/events", b"not json"),
        (100.5, "econnect/bridge/state", b"{}"),
    ]
    matched = match(records, offered)
    assert len(matched.samples) == 1
    assert matched.samples[0].latency_ms == pytest.approx(50.0)
    assert matched.samples[0].overhead_ms == pytest.approx(10.0)
    assert matched.errors == 1
    assert matched.unmatched == 2
