"""The benchmark's verdicts and table: a run must never end in a crash while printing them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.profile_summary import frame_name, summarise  # noqa: E402
from benchmarks.run import Settings, _ratios, _targets, table  # noqa: E402

SETTINGS = Settings(
    latency_ms=40, capacity=8, concurrency=8, connect_rtt_ms=0, cameras=16, half_cameras=50
)


def _lat(p50: float | None, p99: float | None) -> dict[str, Any]:
    return {"count": 1, "mean": p50, "p50": p50, "p95": p99, "p99": p99, "max": p99}


def _bridge(tput: float, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "scenario": "bridge",
        "image": "100KB",
        "cameras": 16,
        "offered_per_s": tput * 2,
        "throughput_per_s": tput,
        "latency_ms": _lat(45.0, 60.0),
        "overhead_ms": _lat(1.5, 6.0),
        "cpu_ms_per_image": 3.0,
        "rss_peak_mb": 44.0,
        "rss_start_mb": 43.0,
        "rss_end_mb": 44.0,
        "rss_flat": True,
        "dropped_reported": 100,
        "max_concurrent_received": 8,
        "startup": {"ready_ms": 300.0, "online_ms": 250.0},
    }
    return {**base, **extra}


def _scenarios(naive: float) -> dict[str, dict[str, Any]]:
    return {
        "mqtt_floor": {
            "scenario": "MQTT floor",
            "image": "100KB",
            "throughput_per_s": None,
            "hops_ms": {"snapshot_100KB": _lat(0.7, 1.0), "event_1KB": _lat(0.4, 0.9)},
            "two_hops_p50_ms": 1.1,
            "latency_ms": {},
        },
        "ceiling_100KB": {
            "scenario": "ceiling",
            "image": "100KB",
            "throughput_per_s": 180.0,
            "latency_ms": _lat(45.0, 55.0),
            "max_concurrent_received": 8,
        },
        "bridge_saturation_100KB": _bridge(171.0),
        "bridge_half_100KB": _bridge(90.0, cameras=50, overhead_ms=_lat(None, None)),
        "bridge_overload_100KB": _bridge(170.0, max_concurrent_received=9),
        "naive_100KB": _bridge(naive, dropped_reported=None, startup=None),
    }


def test_ratios_and_verdicts() -> None:
    scenarios = _scenarios(naive=20.0)
    ratios = _ratios(scenarios)
    assert ratios["bridge_over_ceiling_100KB"] == 0.95
    assert ratios["bridge_over_naive_100KB"] == 8.55
    assert ratios["bridge_over_ceiling_1MB"] is None  # not run: no figure, no crash
    targets = _targets(scenarios, SETTINGS)
    assert targets["throughput_vs_ceiling_100KB"]["met"]
    assert targets["throughput_vs_naive"]["met"]
    # a missing figure is never "met"
    assert not targets["overhead_p50_half_load_ms"]["met"]
    # one request too many at the engine fails the overload target
    assert not targets["overload_max_concurrent_requests"]["met"]
    # bound = 45 ms x (3 + 16 / 8)
    assert targets["overload_latency_p99_ms"]["limit"] == "< 225"
    assert targets["startup_to_ready_ms_max"] == {"value": 300.0, "limit": "< 1000", "met": True}


def test_table_renders_missing_figures_as_dashes() -> None:
    scenarios = _scenarios(naive=25.0)
    report = {"scenarios": scenarios, "ratios": _ratios(scenarios)}
    report["targets"] = _targets(scenarios, SETTINGS)
    text = table(report)
    assert text.startswith("| scenario |")
    assert "| throughput_vs_naive | 6.84 | >= 8 | NO |" in text
    assert "MQTT floor" in text
    assert "MQTT floor |" not in text  # the floor is a sentence, not a row
    assert "| - |" in text


def test_profile_summary_counts_self_and_inclusive() -> None:
    lines = [
        "process 1:python;thread (0x1): worker;f (a.py:1);g (b/c.py:2) 3",
        "process 1:python;thread (0x1): worker;f (a.py:1) 1",
        "garbage",
    ]
    total, inclusive, own, threads = summarise(lines)
    assert total == 4
    assert inclusive["f (a.py)"] == 4
    assert own["g (c.py)"] == 3
    assert own["f (a.py)"] == 1
    assert threads["thread : worker"] == 4
    assert frame_name("publish (paho/mqtt/client.py:123)") == "publish (client.py)"
