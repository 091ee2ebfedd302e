"""The bridge's one metrics object: every counter and gauge, and the table that names them.

The retained `<base>/bridge/state` payload and Prometheus `/metrics` are both rendered from a
`BridgeMetrics` through `SERIES`, so a counter added here reaches both (the tests check it)
and a name cannot differ between them by accident. Pure: no I/O, no threads; the reporter
owns the lock and the live object, everyone else reads copies.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Literal

from econnect_bridge import __version__

#: Upper bounds (ms) of the latency buckets: from a LAN engine (~20 ms) to a timeout (10 s+).
DEFAULT_BUCKETS_MS: Final = (10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0)

SeriesKind = Literal["counter", "gauge", "flag"]


@dataclass(frozen=True, slots=True)
class HistogramSnapshot:
    """A consistent copy of a histogram: cumulative counts per upper bound (ms)."""

    bounds_ms: tuple[float, ...] = ()
    cumulative: tuple[int, ...] = ()
    count: int = 0
    sum_ms: float = 0.0


class LatencyHistogram:
    """A thread-safe, fixed-bucket histogram of engine round trips in milliseconds.

    Workers call `observe` concurrently; the HTTP thread calls `snapshot`. One lock keeps
    count, sum and buckets consistent with each other, which Prometheus requires (the
    ``+Inf`` bucket must equal the count).
    """

    def __init__(self, bounds_ms: Sequence[float] = DEFAULT_BUCKETS_MS) -> None:
        bounds = tuple(float(b) for b in bounds_ms)
        if not bounds or list(bounds) != sorted(set(bounds)) or bounds[0] <= 0:
            msg = "bucket bounds must be positive, unique and increasing"
            raise ValueError(msg)
        self._bounds = bounds
        self._counts = [0] * len(bounds)
        self._count = 0
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe(self, ms: float) -> None:
        """Record one engine round trip; negative or NaN values (clock oddities) are ignored."""
        if not ms >= 0:  # also rejects NaN
            return
        with self._lock:
            self._count += 1
            self._sum += ms
            for index, bound in enumerate(self._bounds):
                if ms <= bound:
                    self._counts[index] += 1
                    break

    def snapshot(self) -> HistogramSnapshot:
        """Return cumulative bucket counts, count and sum taken under one lock."""
        with self._lock:
            counts, count, total = list(self._counts), self._count, self._sum
        cumulative: list[int] = []
        running = 0
        for value in counts:
            running += value
            cumulative.append(running)
        return HistogramSnapshot(self._bounds, tuple(cumulative), count, total)


@dataclass(slots=True)
class BridgeMetrics:
    """Every figure the bridge reports about itself, counted since `started`.

    The first eight fields keep the positional order of the former `HealthState`, so code
    that built one positionally still builds the same thing. Counters are incremented by the
    pipeline's stages through the reporter (under its lock); gauges and the MQTT adapter's
    counters are sampled into a copy when one is taken (`Reporter.snapshot`).
    """

    version: str = __version__
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    api_reachable: bool = False
    api_latency_ms: float | None = None
    processed: int = 0
    dropped: int = 0
    errors: int = 0
    last_error: str | None = None
    received: int = 0
    skipped_retained: int = 0
    skipped_own_output: int = 0  # messages on the bridge's own topics, never processed
    redeliveries_skipped: int = 0  # QoS 1 duplicates (DUP flag) already received
    engine_failures: int = 0  # failed engine calls, retries included
    retries: int = 0  # engine calls repeated after a transient failure
    circuit_rejected: int = 0  # snapshots refused while the circuit was open
    lost: int = 0  # snapshots that never got a result (each also an error event)
    spooled: int = 0  # snapshots written to the spool
    replayed: int = 0  # spooled snapshots the engine accepted later
    mqtt_dropped: int = 0  # outgoing messages paho's full queue refused
    sessions_lost: int = 0  # reconnections where the broker had forgotten our session
    acked_on_arrival: int = 0  # snapshots acknowledged on arrival: more were held than the cap
    frigate_fetches: int = 0  # pictures of Frigate objects fetched over its HTTP API
    frigate_fetch_failures: int = 0  # fetches that failed (Frigate unreachable, refused, ...)
    frigate_corrections: int = 0  # outcomes replaced once by a better later attempt
    frigate_sub_labels: int = 0  # names written back to Frigate events
    frigate_sub_label_failures: int = 0  # names not written back (after retries)
    frigate_skipped_named: int = 0  # objects left to Frigate's own face recognition
    faces_excluded: int = 0  # faces of excluded people or tags, removed before publishing
    broker_connected: bool = False
    api_signed_in: bool = False  # the engine accepted the credentials (api_reachable: it answered)
    queue_pending: int = 0
    in_flight: int = 0
    latency: HistogramSnapshot = field(default_factory=HistogramSnapshot)

    @property
    def ready(self) -> bool:
        """Whether the bridge can do its job: snapshots in (broker) and answers out (engine)."""
        return self.broker_connected and self.api_reachable

    @property
    def engine_reachable(self) -> bool:
        """The engine's reachability under the name `/readyz` and `/metrics` have used."""
        return self.api_reachable

    def checks(self) -> dict[str, bool]:
        """Name each readiness condition, so a failing probe says which one failed."""
        return {
            "broker_connected": self.broker_connected,
            "engine_reachable": self.api_reachable,
        }


@dataclass(frozen=True, slots=True)
class Series:
    """One reported figure: its `BridgeMetrics` attribute, payload key and Prometheus name.

    `metric` is the name without the `econnect_bridge_` prefix; a "flag" is ON/OFF in the
    payload and 1/0 in Prometheus (a gauge there).
    """

    attr: str
    field: str
    metric: str
    kind: SeriesKind
    help: str

    @property
    def prometheus_type(self) -> str:
        """The Prometheus TYPE of this series."""
        return "counter" if self.kind == "counter" else "gauge"


#: The one table: every counter and gauge of `BridgeMetrics`, in /metrics order.
SERIES: Final[tuple[Series, ...]] = (
    Series("broker_connected", "broker_connected", "broker_connected", "flag",
           "1 when connected and subscribed to the broker."),
    Series("api_reachable", "api_reachable", "engine_reachable", "flag",
           "1 when the engine answered the last call, even to refuse it."),
    Series("api_signed_in", "api_signed_in", "engine_signed_in", "flag",
           "1 when the engine accepted the bridge's credentials."),
    Series("received", "received", "snapshots_received_total", "counter",
           "Snapshots received from MQTT."),
    Series("processed", "processed", "snapshots_processed_total", "counter",
           "Snapshots the engine processed."),
    Series("dropped", "dropped", "snapshots_dropped_total", "counter",
           "Snapshots replaced by a newer one before sending."),
    Series("skipped_retained", "skipped_retained", "snapshots_skipped_retained_total", "counter",
           "Retained snapshots ignored."),
    Series("skipped_own_output", "skipped_own_output", "snapshots_skipped_own_output_total",
           "counter", "Messages on the bridge's own output topics, ignored."),
    Series("errors", "errors", "errors_total", "counter",
           "Snapshots that could not be processed."),
    Series("queue_pending", "queue_pending", "queue_pending", "gauge",
           "Snapshots waiting for a worker."),
    Series("in_flight", "queue_in_flight", "queue_in_flight", "gauge",
           "Snapshots being sent to the engine now."),
    Series("redeliveries_skipped", "redeliveries_skipped", "snapshots_redeliveries_skipped_total",
           "counter", "QoS 1 redeliveries of snapshots already received."),
    Series("engine_failures", "engine_failures", "engine_failures_total", "counter",
           "Failed engine calls, retries included."),
    Series("retries", "retries", "engine_retries_total", "counter",
           "Engine calls repeated after a transient failure."),
    Series("circuit_rejected", "circuit_rejected", "snapshots_circuit_rejected_total", "counter",
           "Snapshots refused while the circuit breaker was open."),
    Series("lost", "lost", "snapshots_lost_total", "counter",
           "Snapshots that never got a result."),
    Series("spooled", "spooled", "snapshots_spooled_total", "counter",
           "Snapshots written to the spool while the engine was away."),
    Series("replayed", "replayed", "snapshots_replayed_total", "counter",
           "Spooled snapshots the engine accepted later."),
    Series("mqtt_dropped", "mqtt_dropped", "mqtt_outgoing_dropped_total", "counter",
           "Outgoing MQTT messages dropped because the queue was full."),
    Series("sessions_lost", "sessions_lost", "mqtt_sessions_lost_total", "counter",
           "Reconnections where the broker had forgotten the persistent session."),
    Series("acked_on_arrival", "acked_on_arrival", "snapshots_acked_on_arrival_total",
           "counter", "QoS 1 snapshots acknowledged as they arrived (held ones at the cap)."),
    Series("frigate_fetches", "frigate_fetches", "frigate_fetches_total", "counter",
           "Pictures of Frigate objects fetched over Frigate's HTTP API."),
    Series("frigate_fetch_failures", "frigate_fetch_failures", "frigate_fetch_failures_total",
           "counter", "Pictures of Frigate objects that could not be fetched."),
    Series("frigate_corrections", "frigate_corrections", "frigate_corrections_total", "counter",
           "Frigate objects whose outcome a later, better picture replaced."),
    Series("frigate_sub_labels", "frigate_sub_labels", "frigate_sub_labels_total", "counter",
           "Names written back to Frigate events as sub_labels."),
    Series("frigate_sub_label_failures", "frigate_sub_label_failures",
           "frigate_sub_label_failures_total", "counter",
           "Names that could not be written back to Frigate (after retries)."),
    Series("frigate_skipped_named", "frigate_skipped_named", "frigate_skipped_named_total",
           "counter", "Frigate objects left to Frigate's own face recognition (skip_named)."),
    Series("faces_excluded", "faces_excluded", "faces_excluded_total", "counter",
           "Faces of excluded people or tags, removed before anything was published."),
)  # fmt: skip

#: The `BridgeMetrics` attributes the stages count with `Reporter.count`.
COUNTERS: Final[frozenset[str]] = frozenset(s.attr for s in SERIES if s.kind == "counter")


def series_value(metrics: BridgeMetrics, series: Series) -> int | float:
    """Read one series as a number (a flag is 1 or 0)."""
    value: bool | int | float = getattr(metrics, series.attr)
    return int(value) if isinstance(value, bool) else value
