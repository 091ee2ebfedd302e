"""The one metrics object: every figure reaches /metrics and the bridge state, from one table."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from econnect_bridge.health import prometheus_text
from econnect_bridge.metrics import (
    COUNTERS,
    SERIES,
    BridgeMetrics,
    series_value,
)
from econnect_bridge.reporting import STATE_MIN_INTERVAL, Reporter
from econnect_bridge.states import Topics, bridge_state_payload
from econnect_identities.schemas import load_schema, validate_payload
from tests.unit.test_health import parse_prometheus, value_of

#: Fields that are not a counter or gauge: labels, times, the latency (its own histogram).
NOT_SERIES = {"version", "started", "api_latency_ms", "last_error", "latency"}


def distinct_metrics() -> BridgeMetrics:
    """Every series set to a value no other series has, so a swapped name shows."""
    values: dict[str, object] = {}
    for index, series in enumerate(SERIES, start=2):
        values[series.attr] = True if series.kind == "flag" else index * 10 + 1
    started = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)
    return BridgeMetrics(started=started, **values)  # type: ignore[arg-type]


def schema_fields() -> set[str]:
    return set(load_schema()["$defs"]["bridge_state"]["properties"])


def test_the_table_covers_every_figure_of_the_object_once() -> None:
    fields = {f.name for f in dataclasses.fields(BridgeMetrics)}
    attrs = [s.attr for s in SERIES]
    assert sorted(attrs) == sorted(fields - NOT_SERIES)
    assert len({s.field for s in SERIES}) == len(SERIES)
    assert len({s.metric for s in SERIES}) == len(SERIES)
    for series in SERIES:
        assert series.metric.endswith("_total") == (series.kind == "counter"), series


def test_every_series_is_in_metrics_with_its_value() -> None:
    metrics = distinct_metrics()
    families = parse_prometheus(prometheus_text(metrics))
    for series in SERIES:
        name = f"econnect_bridge_{series.metric}"
        assert families[name].kind == series.prometheus_type, name
        assert families[name].help == series.help, name
        assert value_of(families, name) == series_value(metrics, series), name


def test_every_series_is_in_the_bridge_state() -> None:
    metrics = distinct_metrics()
    payload = bridge_state_payload(metrics)
    for series in SERIES:
        expected = "ON" if series.kind == "flag" else series_value(metrics, series)
        assert payload[series.field] == expected, series.field
    validate_payload("bridge_state", payload)


def test_the_schema_describes_exactly_the_bridge_state() -> None:
    assert load_schema()["$defs"]["bridge_state"]["additionalProperties"] is False
    payload = bridge_state_payload(distinct_metrics())
    assert set(payload) == schema_fields()


def test_count_accepts_only_counters_of_the_table() -> None:
    reporter = Reporter(Recorder(), Topics(), retain_state=True)
    for counter in sorted(COUNTERS):
        reporter.count(counter, 2)
    snap = reporter.snapshot()
    assert all(getattr(snap, counter) == 2 for counter in COUNTERS)
    with pytest.raises(ValueError, match="not a counter"):
        reporter.count("queue_pending")


class Recorder:
    """A Publisher that remembers what it was given."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | str, bool]] = []

    def publish(
        self, topic: str, payload: bytes | str, *, retain: bool = False, qos: int | None = None
    ) -> bool:
        self.sent.append((topic, payload, retain))
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bridge_state_is_published_on_change_at_most_once_a_second() -> None:
    recorder, clock = Recorder(), Clock()
    reporter = Reporter(recorder, Topics(), retain_state=True, clock=clock)
    assert reporter.publish_health_if_changed()  # nothing published yet
    assert not reporter.publish_health_if_changed()  # too soon, and unchanged
    reporter.count("processed")
    assert not reporter.publish_health_if_changed()  # changed, but too soon
    clock.now += STATE_MIN_INTERVAL
    assert reporter.publish_health_if_changed()
    clock.now += STATE_MIN_INTERVAL
    assert not reporter.publish_health_if_changed()  # unchanged
    assert [(t, r) for t, _p, r in recorder.sent] == [("econnect/bridge/state", True)] * 2
    assert b'"processed":1' in bytes(recorder.sent[-1][1])  # type: ignore[arg-type]


def test_samplers_fill_the_copy_not_the_live_object() -> None:
    reporter = Reporter(Recorder(), Topics(), retain_state=True)
    reporter.add_sampler(lambda: {"mqtt_dropped": 4, "broker_connected": True})
    snap = reporter.snapshot()
    assert (snap.mqtt_dropped, snap.broker_connected) == (4, True)
    assert (reporter.health.mqtt_dropped, reporter.health.broker_connected) == (0, False)
