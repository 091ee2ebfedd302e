"""Small, pure statistics helpers for the benchmark (no I/O, so they are unit tested).

Percentiles use the nearest-rank method on the sorted sample: with a few thousand samples the
difference from interpolation is far below the noise of a shared 2-core machine, and a
nearest-rank p99 is always a latency that really happened.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Return the nearest-rank `pct` percentile of `values` (None for an empty sample)."""
    if not values:
        return None
    if not 0 <= pct <= 100:
        raise ValueError(f"percentile must be within 0..100, got {pct}")
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(values: Iterable[float]) -> dict[str, float | int | None]:
    """Return count, mean, p50, p95, p99 and max, rounded to 0.01 (milliseconds in practice)."""
    data = sorted(values)
    if not data:
        return {"count": 0, "mean": None, "p50": None, "p95": None, "p99": None, "max": None}
    return {
        "count": len(data),
        "mean": round(sum(data) / len(data), 2),
        "p50": _r(percentile(data, 50)),
        "p95": _r(percentile(data, 95)),
        "p99": _r(percentile(data, 99)),
        "max": round(data[-1], 2),
    }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """Return numerator/denominator rounded to 0.001, or None when either is missing or zero."""
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


@dataclass(frozen=True)
class Sample:
    """One snapshot's journey: published at `sent`, its event received at `received`.

    Times are seconds on the benchmark process's monotonic clock; `engine_ms` is the engine
    call as the bridge timed it (the event's `api_latency_ms`).
    """

    sent: float
    received: float
    engine_ms: float | None = None
    inbound_ms: float | None = None  # publish -> the bridge took the message (its detect_time)
    outbound_ms: float | None = None  # the bridge built the event -> the event arrived here

    @property
    def latency_ms(self) -> float:
        """End-to-end latency: MQTT publish to result event received."""
        return (self.received - self.sent) * 1000

    @property
    def overhead_ms(self) -> float | None:
        """End-to-end latency minus the engine call: what the bridge itself adds."""
        return None if self.engine_ms is None else self.latency_ms - self.engine_ms

    @property
    def inside_ms(self) -> float | None:
        """Overhead spent inside the bridge: queue, hand-offs, event building (not MQTT)."""
        parts = (self.overhead_ms, self.inbound_ms, self.outbound_ms)
        if any(part is None for part in parts):
            return None
        return self.overhead_ms - self.inbound_ms - self.outbound_ms  # type: ignore[operator]


def iso_epoch(text: object) -> float | None:
    """Seconds since the epoch of the events' `2026-11-22T04:20:27.123Z`, None if absent."""
    if not isinstance(text, str) or not text:
        return None
    from datetime import datetime

    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def throughput(received: Sequence[float], start: float, end: float) -> float:
    """Return results per second among `received` times that fall inside [start, end)."""
    if end <= start:
        return 0.0
    inside = sum(1 for t in received if start <= t < end)
    return inside / (end - start)


def flat_memory(rss_samples: Sequence[tuple[float, float]], tolerance_mb: float = 5.0) -> bool:
    """Say whether RSS stayed flat: the last third's peak is within `tolerance_mb` of the
    second third's peak (the first third is warm-up: imports settle, pools fill).

    `rss_samples` are `(seconds, MB)` pairs in time order. Fewer than 6 samples: not enough to
    say, so False (a benchmark that cannot show flatness must not claim it).
    """
    if len(rss_samples) < 6:
        return False
    third = len(rss_samples) // 3
    middle = max(mb for _t, mb in rss_samples[third : 2 * third])
    last = max(mb for _t, mb in rss_samples[2 * third :])
    return last - middle <= tolerance_mb


def seq_from_topic(topic: str) -> int | None:
    """Return the sequence number the load generator put in a topic's last level."""
    last = topic.rsplit("/", 1)[-1]
    return int(last) if last.isdigit() else None
