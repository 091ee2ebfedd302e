"""The benchmark: econnect-bridge against the engine's ceiling, a naive bridge and Node-RED.

One command, one machine, one run, the same images and the same emulator for every figure:

    .venv/bin/python benchmarks/run.py                  # default profile, about 7 minutes
    .venv/bin/python benchmarks/run.py --profile short  # about a minute, for CI; no Node-RED

It starts a real Mosquitto on a free loopback port and the engine emulator (fixed latency per
call, finite capacity) in their own processes, then measures, each in its own scenario:

* ceiling: a pooled HTTP client sending the same images with the same concurrency, no MQTT;
* bridge: `python -m econnect_bridge run -c FILE` (a separate process, real configuration) fed by a
  load generator publishing real JPEG snapshots from many cameras, at saturation, at half of
  saturation with 50 cameras, in overload (twice what the engine serves) and with 1 MB images;
* naive: one paho subscriber posting each image on a fresh HTTP connection, one at a time;
* Node-RED: the flow a Home Assistant user builds instead (mqtt in -> function -> http request
  -> function -> mqtt out, Node-RED 4.1 from npm, benchmarks/nodered_peer.py) under the same
  loads as the bridge: half load, saturation, overload x2, and an unlimited engine at 0 ms;
  the default profile runs it (and needs Node.js and npm), the short one skips it unless
  `--nodered` is given.

Images are ~30 KB, ~100 KB and ~1 MB JPEGs, the sizes cameras and Frigate send.

It prints a table and writes every figure, the ratios and the targets' verdicts as JSON under
`benchmarks/results/`. Exit status: 0 when the benchmark ran (whatever the numbers), 1 when it
could not run. Numbers are judged by reading them (docs/performance.md), never by this exit code.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python benchmarks/run.py` puts benchmarks/ first, not the root
    sys.path.insert(0, str(ROOT))

from benchmarks import load, nodered_peer, procs  # noqa: E402
from benchmarks.stats import (  # noqa: E402
    flat_memory,
    percentile,
    ratio,
    seq_from_topic,
    summary,
    throughput,
)

RESULTS = ROOT / "benchmarks" / "results"
EVENTS = "econnect/events"
ERRORS = "econnect/errors"
STATE = "econnect/bridge/state"
AVAILABILITY = "econnect/bridge/availability"
NAIVE_EVENTS = "naive/events"
NODERED_EVENTS = "nodered/events"
FLOOR = "floor/#"
#: Never offer more than this (msgs/s): with a 0 ms engine the ceiling is CPU-bound and huge.
MAX_RATE = 1500.0


@dataclass(frozen=True)
class Profile:
    """How long each scenario runs (seconds)."""

    name: str
    ceiling: float
    saturation: float
    half: float
    overload: float
    big: float
    naive: float
    warmup: float
    floor: float
    fast: float  # engine latency 0, unlimited capacity


PROFILES = {
    "default": Profile("default", 10, 20, 30, 60, 12, 15, 2, 3, 15),
    "short": Profile("short", 3, 5, 5, 6, 3, 4, 1, 1.5, 4),
}
#: The unlimited-engine scenario offers this many snapshots/s: the target is 500 recognised/s.
FAST_RATE = 600.0
FAST_TARGET = 500.0


@dataclass
class Settings:
    """The engine and bridge settings of one run."""

    latency_ms: float
    capacity: int
    concurrency: int
    connect_rtt_ms: float
    cameras: int
    half_cameras: int
    nodered: bool = False
    broker_conf: tuple[str, ...] = ()  # extra mosquitto.conf lines (diagnosis; default none)
    mqtt_protocol: str = "5"  # the bridge's mqtt.protocol (its default: 5)


class Bench:
    """Everything one run shares: broker, engine, load generator, collector, images."""

    def __init__(self, profile: Profile, settings: Settings, workdir: Path) -> None:
        self.profile = profile
        self.settings = settings
        self.workdir = workdir
        self.broker: procs.Child | None = None
        self.engine: procs.Child | None = None
        self.engine_url = ""
        self.port = 0
        self.images: dict[str, list[bytes]] = {}
        self._bridges = 0
        self._noderes = 0
        self._probe_events = 0  # events the last start-up probe got (the bridge counts them)
        self.node_red: tuple[str, Path] | None = None  # (node binary, red.js) when it runs
        self.faults: tuple[float, int] | None = None  # engine (latency, capacity) override
        self.spy_dir: Path | None = None  # --py-spy: record a profile of every scenario
        self.spy_gil = True  # --py-spy-wall: sample every non-idle thread instead

    # -- set-up ----------------------------------------------------------------------------

    def start(self) -> None:
        """Make the images, start Mosquitto, the engine, the publisher and the collector."""
        from econnect_bridge.emulator import make_snapshot_of_size

        started = time.monotonic()
        people: list[tuple[str, ...]] = [("jane",), ("bob",), ("unknown",), ("carol",)]
        self.images["30KB"] = [
            make_snapshot_of_size(30, people=who, seed=i) for i, who in enumerate(people)
        ]
        self.images["100KB"] = [
            make_snapshot_of_size(100, people=who, seed=i) for i, who in enumerate(people)
        ]
        self.images["1MB"] = [
            make_snapshot_of_size(1024, people=who, seed=i) for i, who in enumerate(people[:2])
        ]
        log(f"images ready in {time.monotonic() - started:.1f} s: " + self._image_sizes())
        self.broker, self.port = procs.start_mosquitto(self.workdir, self.settings.broker_conf)
        self._start_engine(procs.free_port())
        self.publisher = load.Publisher(self.port)
        self.collector = load.Collector(
            self.port, [EVENTS, ERRORS, STATE, AVAILABILITY, NAIVE_EVENTS, NODERED_EVENTS, FLOOR]
        )

    def _start_engine(self, port: int) -> None:
        """Start the engine process on `port` with the run's latency and capacity."""
        s = self.settings
        self.engine = procs.python_child(
            "engine",
            [
                str(ROOT / "benchmarks" / "engine_proc.py"),
                "--port",
                str(port),
                "--latency-ms",
                str(s.latency_ms),
                "--capacity",
                str(s.capacity),
                "--connect-rtt-ms",
                str(s.connect_rtt_ms),
            ],
            self.workdir / "engine.log",
            wait_line="READY",
        )
        self.engine_url = self.engine.first_line.split()[1]

    def restart_engine(self, why: str) -> int | None:
        """Replace the engine by a fresh process (same latency, capacity and port); return
        how many requests the old one still had in flight (None: it did not say in time).

        Why not wait for the old one to drain: after a peer with no concurrency limit it holds
        thousands of requests whose client has gone, each a thread waiting at the capacity
        gate, and every slot released wakes them all; it then serves far slower than its
        capacity and can take minutes to drain, while a start-up probe queues behind them. A
        fresh process has none of that. The same port keeps the url the bridge's configuration
        and the ceilings use; a new free port only if another process took it meanwhile.
        """
        left = self._engine_in_flight()
        port = int(self.engine_url.rsplit(":", 1)[1])
        if self.engine is not None:
            self.engine.stop(timeout=5)
        try:
            self._start_engine(port)
        except RuntimeError:
            self._start_engine(procs.free_port())
        log(f"fresh engine at {self.engine_url} ({why}; the old one had {left} in flight)")
        return left

    def _engine_in_flight(self) -> int | None:
        """Requests the engine holds now, or None when its stats do not come back in 2 s."""
        try:
            value = procs.admin(self.engine_url, "stats", timeout=2).get("in_flight_received")
        except OSError:
            return None
        return value if isinstance(value, int) else None

    def _image_sizes(self) -> str:
        return ", ".join(
            f"{name}: " + "/".join(f"{len(i) // 1024}" for i in images) + " KB"
            for name, images in self.images.items()
        )

    def close(self) -> None:
        """Stop everything this run started."""
        for closer in (
            getattr(self, "publisher", None),
            getattr(self, "collector", None),
        ):
            if closer is not None:
                closer.close()
        for child in (self.engine, self.broker):
            if child is not None:
                child.stop()

    def reset_engine(self) -> None:
        """Zero the engine's counters and set its latency and capacity again."""
        latency, capacity = self.faults or (self.settings.latency_ms, self.settings.capacity)
        procs.admin(self.engine_url, "reset")
        procs.admin(self.engine_url, "faults", {"latency_ms": latency, "capacity": capacity})

    def engine_stats(self) -> dict[str, Any]:
        """The engine's view of the last scenario."""
        stats = procs.admin(self.engine_url, "stats")
        return {
            "max_concurrent_received": stats.get("max_concurrent_received"),
            "max_concurrent_served": stats.get("max_concurrent_publish"),
            "service_ms": summary(stats.get("service_ms") or []),
        }

    # -- scenarios -------------------------------------------------------------------------

    def ceiling(self, size: str, duration: float) -> dict[str, Any]:
        """The pooled HTTP client at the bridge's concurrency: what the engine allows."""
        self.reset_engine()
        run = load.ceiling(
            self.engine_url,
            self.images[size],
            concurrency=self.settings.concurrency,
            duration=duration,
        )
        window = (run.start + self.profile.warmup, run.end)
        result = {
            "scenario": f"ceiling {size}",
            "image": size,
            "concurrency": self.settings.concurrency,
            "duration_s": duration,
            "throughput_per_s": round(throughput(run.completed, *window), 1),
            "latency_ms": summary(run.latencies_ms[len(run.latencies_ms) // 10 :]),
            "errors": run.errors,
            **self.engine_stats(),
        }
        log_row(result)
        return result

    def mqtt_floor(self, duration: float) -> dict[str, Any]:
        """MQTT alone, no bridge: what a bridge that cost nothing would still add.

        A snapshot makes two hops through the broker (load generator -> bridge, bridge ->
        subscriber). Both are timed here with the same publisher, broker and collector as the
        real runs: a 100 KB snapshot one hop, then a 1 KB event one hop.
        """
        hops: dict[str, Any] = {}
        for label, payload in (
            ("snapshot_100KB", self.images["100KB"][0]),
            ("event_1KB", b"{}" * 512),
        ):
            self.collector.take()
            offered = self.publisher.run(
                rate=50, cameras=4, duration=duration, images=[payload], root="floor"
            )
            records = self._drain("floor/", quiet=0.3, limit=3)
            latencies = []
            for received, topic, _p in records:
                sent = (
                    offered.sent.get(seq_from_topic(topic) or -1)
                    if topic.startswith("floor/")
                    else None
                )
                if sent is not None:
                    latencies.append((received - sent) * 1000)
            hops[label] = summary(latencies)
        p50 = [h["p50"] for h in hops.values()]
        result = {
            "scenario": "MQTT floor (no bridge)",
            "image": "100KB",
            "throughput_per_s": None,
            "hops_ms": hops,
            "two_hops_p50_ms": round(sum(p50), 2) if all(v is not None for v in p50) else None,
            "latency_ms": {},
        }
        log(f"MQTT floor: two hops p50 {result['two_hops_p50_ms']} ms")
        return result

    def bridge(
        self,
        name: str,
        size: str,
        *,
        cameras: int,
        rate: float,
        duration: float,
        faults: tuple[float, int] | None = None,
    ) -> dict[str, Any]:
        """Run the real bridge as a child process and feed it `rate` snapshots/s."""
        self.faults = faults

        def spawn() -> procs.Child:
            self._bridges += 1
            config = self._bridge_config(self._bridges)  # the engine url of this attempt
            return procs.bridge_child(config, self.workdir / f"bridge-{self._bridges}.log")

        child, watch, startup = self._start_ready(spawn, EVENTS)  # a failure ends the run
        try:
            result = self._drive(
                name,
                size,
                child,
                watch,
                cameras=cameras,
                rate=rate,
                duration=duration,
                startup=startup,
            )
            result["peer"] = "bridge"
            return result
        finally:
            watch.stop()
            child.stop()
            self.faults = None

    def nodered(
        self,
        name: str,
        size: str,
        *,
        cameras: int,
        rate: float,
        duration: float,
        faults: tuple[float, int] | None = None,
        fresh_engine: bool = True,
    ) -> dict[str, Any]:
        """Run the Node-RED flow (benchmarks/nodered_peer.py) under the same load as the bridge.

        The flow has no concurrency limit (Node-RED's http request node opens as many
        keep-alive connections as there are messages in flight), so past the engine's capacity
        its requests queue at the engine; `fresh_engine` replaces the engine afterwards
        (`restart_engine`) so that the next scenario starts on an idle one.
        """
        assert self.node_red is not None
        node, red = self.node_red
        self.faults = faults

        def spawn() -> procs.Child:
            self._noderes += 1
            user_dir = self.workdir / f"node-red-{self._noderes}"
            settings = nodered_peer.write_user_dir(
                user_dir,
                broker_port=self.port,
                engine_url=self.engine_url,  # the engine of this attempt
                topic="bench/+/+",
                events_topic=NODERED_EVENTS,
            )
            return procs.Child(
                "node-red",
                nodered_peer.argv(node, red, user_dir, settings),
                self.workdir / f"node-red-{self._noderes}.log",
                wait_line="",
            )

        child, watch, startup = self._start_ready(spawn, NODERED_EVENTS)  # a failure ends the run
        try:
            result = self._drive(
                name,
                size,
                child,
                watch,
                cameras=cameras,
                rate=rate,
                duration=duration,
                startup=startup,
                events_topic=NODERED_EVENTS,
            )
            result["peer"] = "node-red"
        finally:
            watch.stop()
            child.stop()
        self.faults = None
        if fresh_engine:
            result["engine_in_flight_left"] = self.restart_engine("after a Node-RED scenario")
        return result

    def naive(self, size: str, *, rate: float, duration: float) -> dict[str, Any]:
        """The naive bridge (benchmarks/naive_bridge.py) under the same kind of load."""
        child = procs.python_child(
            "naive",
            [
                str(ROOT / "benchmarks" / "naive_bridge.py"),
                "--broker-port",
                str(self.port),
                "--engine-url",
                self.engine_url,
            ],
            self.workdir / "naive.log",
            wait_line="READY",
        )
        watch = procs.ProcWatch(child.pid).start()
        try:
            return self._drive(
                "naive",
                size,
                child,
                watch,
                cameras=self.settings.cameras,
                rate=rate,
                duration=duration,
                startup=None,
                events_topic=NAIVE_EVENTS,
            )
        finally:
            watch.stop()
            child.stop()

    def _bridge_config(self, index: int) -> Path:
        s = self.settings
        path = self.workdir / f"bridge-{index}.yaml"
        path.write_text(
            f"""\
api:
  url: {self.engine_url}
  username: bridge
  password: bridge-password
  time_zone: UTC
mqtt:
  host: 127.0.0.1
  port: {self.port}
  base_topic: econnect
  client_id: bench-bridge-{index}
  protocol: "{s.mqtt_protocol}"
cameras:
  - name: bench
    topic: "bench/{{camera}}/+"
processing:
  workers: {s.concurrency}
"""
        )
        return path

    def _start_ready(
        self, spawn: Callable[[], procs.Child], events_topic: str
    ) -> tuple[procs.Child, procs.ProcWatch, dict[str, float | None]]:
        """Start a peer with `spawn()` and time it to ready; if it never gets ready, stop it
        and try once more on a fresh engine (a busy engine is the likely cause, not the peer).

        A second failure means the benchmark cannot run: the error goes up (exit status 1).
        """
        for attempt in (1, 2):
            child: procs.Child = spawn()
            watch = procs.ProcWatch(child.pid).start()
            try:
                self.reset_engine()
                return child, watch, self._wait_ready(child, events_topic=events_topic)
            except (RuntimeError, OSError) as err:
                watch.stop()
                child.stop()
                if attempt == 2:
                    raise
                log(f"{child.name} not ready ({err}); once more on a fresh engine")
                self.restart_engine(f"{child.name} did not get ready")
        raise AssertionError("unreachable")

    def _wait_ready(
        self, child: procs.Child, events_topic: str = EVENTS
    ) -> dict[str, float | None]:
        """Time from spawning the bridge to `online`, and to the first snapshot it accepts.

        A probe snapshot is published every 10 ms (not retained, QoS 0: lost while nobody is
        subscribed); the first one that yields an event was published after the bridge was
        subscribed and ready, so its publish time bounds "ready" to within 10 ms.
        """
        self.collector.take()
        probe = self.faults[0] if self.faults else self.settings.latency_ms
        image = self.images["100KB"][0]
        stop = threading.Event()
        box: dict[str, load.Offered] = {}

        def publish() -> None:
            box["offered"] = self.publisher.run(
                rate=100, cameras=1, duration=15, images=[image], camera_prefix="probe", stop=stop
            )

        thread = threading.Thread(target=publish, daemon=True)
        thread.start()
        deadline = time.monotonic() + 15
        records: list[tuple[float, str, bytes]] = []
        while time.monotonic() < deadline and child.process.poll() is None:
            records += self.collector.take()
            if any(topic == events_topic for _t, topic, _p in records):
                break
            time.sleep(0.01)
        stop.set()
        thread.join(5)
        time.sleep(0.3 + probe / 1000 * 3)  # let the last probes finish
        records += self.collector.take()
        self._probe_events = sum(1 for r in records if r[1] == events_topic)
        matched = load.match([r for r in records if r[1] == events_topic], box["offered"])
        online = [
            t for t, topic, payload in records if topic == AVAILABILITY and payload == b"online"
        ]
        if not matched.samples:
            raise RuntimeError(f"{child.name} never processed a snapshot; see {child.log_path}")
        first = min(sample.sent for sample in matched.samples)
        return {
            "ready_ms": round((first - child.started) * 1000, 1),
            "online_ms": round((min(online) - child.started) * 1000, 1) if online else None,
        }

    def _drive(
        self,
        name: str,
        size: str,
        child: procs.Child,
        watch: procs.ProcWatch,
        *,
        cameras: int,
        rate: float,
        duration: float,
        startup: dict[str, float | None] | None,
        events_topic: str = EVENTS,
    ) -> dict[str, Any]:
        self.reset_engine()
        self.collector.take()
        rate = min(rate, MAX_RATE)
        spy = self._spy(name, child.pid, duration) if child.name != "node-red" else None
        others_before = self._cpu_others()
        cpu_before = procs.cpu_seconds(child.pid)
        user_before = procs.cpu_times(child.pid)[0]
        offered = self.publisher.run(
            rate=rate, cameras=cameras, duration=duration, images=self.images[size]
        )
        records = self._drain(events_topic)
        cpu_after = procs.cpu_seconds(child.pid)
        user_after = procs.cpu_times(child.pid)[0]
        span = max(time.monotonic() - offered.start, 1e-9)
        others = {k: round((v - others_before[k]) / span, 3) for k, v in self._cpu_others().items()}
        if spy is not None:
            spy.wait(30)
        engine = self.engine_stats()
        code = child.stop()
        time.sleep(0.2)
        records += self.collector.take()
        matched = load.match([r for r in records if r[1] == events_topic], offered)
        health = _last_health(records) if events_topic == EVENTS else {}
        warm = offered.start + self.profile.warmup
        window = (warm, offered.end)
        samples = [s for s in matched.samples if s.sent >= warm]
        overheads = [s.overhead_ms for s in samples if s.overhead_ms is not None]
        rss = watch.between(offered.start, offered.end)
        processed = len(matched.samples)
        result: dict[str, Any] = {
            "scenario": name,
            "image": size,
            "cameras": cameras,
            "concurrency": self.settings.concurrency,
            "duration_s": duration,
            "offered_per_s": round(offered.rate, 1),
            "publisher_behind_ms_max": round(offered.behind_ms_max, 1),
            "throughput_per_s": round(
                throughput([s.received for s in matched.samples], *window), 1
            ),
            "offered": len(offered.sent),
            "processed": processed,
            "unanswered": len(offered.sent) - processed,
            "dropped_reported": health.get("dropped"),
            # Recognised by the bridge (its own counter) but no event reached the subscriber:
            # results lost on the way out, unlike `dropped` (stale snapshots never sent).
            "results_lost": _results_lost(health, matched, self._probe_events),
            "mqtt_dropped_reported": health.get("mqtt_dropped"),
            "errors": matched.errors + int(health.get("errors") or 0),
            "latency_ms": summary(s.latency_ms for s in samples),
            "engine_call_ms": summary(s.engine_ms for s in samples if s.engine_ms is not None),
            "overhead_ms": summary(overheads),
            # The event built (its processed_time) -> received here: the outgoing MQTT path.
            "event_delay_ms": summary(s.outbound_ms for s in samples if s.outbound_ms is not None),
            # From the events' millisecond timestamps: +-1 ms each, medians only.
            "overhead_parts_p50_ms": {
                "mqtt_in": percentile(
                    [s.inbound_ms for s in samples if s.inbound_ms is not None], 50
                ),
                "inside_bridge": percentile(
                    [s.inside_ms for s in samples if s.inside_ms is not None], 50
                ),
                "mqtt_out": percentile(
                    [s.outbound_ms for s in samples if s.outbound_ms is not None], 50
                ),
            },
            "cpu_ms_per_image": round((cpu_after - cpu_before) * 1000 / processed, 2)
            if processed
            else None,
            "cpu_user_fraction": round((user_after - user_before) / (cpu_after - cpu_before), 2)
            if cpu_after > cpu_before
            else None,
            "cpu_cores": {"system_under_test": round((cpu_after - cpu_before) / span, 3), **others},
            "rss_peak_mb": round(watch.peak_mb, 1),
            "rss_start_mb": round(rss[0][1], 1) if rss else None,
            "rss_end_mb": round(rss[-1][1], 1) if rss else None,
            "rss_flat": flat_memory(rss),
            "exit_code": code,
            **engine,
        }
        if startup is not None:
            result["startup"] = startup
        log_row(result)
        return result

    def _cpu_others(self) -> dict[str, float]:
        """CPU seconds used so far by the engine, the broker and this process (the load)."""
        assert self.engine is not None
        assert self.broker is not None
        return {
            "engine": procs.cpu_seconds(self.engine.pid),
            "broker": procs.cpu_seconds(self.broker.pid),
            "load_generator": procs.cpu_seconds(os.getpid()),
        }

    def _spy(self, name: str, pid: int, duration: float) -> subprocess.Popen[bytes] | None:
        """Attach py-spy to the process under test for the scenario (profiling runs only)."""
        if self.spy_dir is None:
            return None
        slug = "".join(ch if ch.isalnum() else "-" for ch in name).strip("-")
        out = self.spy_dir / f"{self._bridges:02d}-{slug}.txt"
        argv = ["py-spy", "record", "--pid", str(pid), "--rate", "200", "--format", "raw"]
        argv += ["--duration", str(int(duration)), "--output", str(out), "--threads"]
        if self.spy_gil:
            argv.append("--gil")  # only the thread holding the GIL: where Python CPU goes
        spy_bin = Path(sys.executable).with_name("py-spy")
        argv[0] = str(spy_bin) if spy_bin.exists() else "py-spy"
        log(f"py-spy -> {out}")
        return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _drain(self, topic: str, quiet: float = 0.5, limit: float = 3.0) -> list[Any]:
        """Collect results until none arrived for `quiet` s (bounded by `limit` s).

        The bridge finishes within a few engine calls of the last snapshot; the naive bridge
        has a backlog of seconds by then, which is not worth waiting for.
        """
        records: list[Any] = []
        last = time.monotonic()
        deadline = last + limit
        while time.monotonic() < deadline:
            batch = self.collector.take()
            records += batch
            now = time.monotonic()
            if any(r[1].startswith(topic) for r in batch):
                last = now
            elif now - last >= quiet:
                break
            time.sleep(0.05)
        return records


def _results_lost(health: dict[str, Any], matched: load.Matched, probes: int) -> int | None:
    """Snapshots the bridge says it processed (less the start-up probes' `probes` events)
    minus the results that arrived; None when the bridge's counter is unknown."""
    processed = health.get("processed")
    if not isinstance(processed, int):
        return None
    arrived = len(matched.samples) + matched.errors + matched.unmatched
    return max(0, processed - probes - arrived)


def _last_health(records: list[tuple[float, str, bytes]]) -> dict[str, Any]:
    """The bridge's own counters, from its last `bridge/state` (published when it stops)."""
    states = [payload for _t, topic, payload in records if topic == STATE]
    if not states:
        return {}
    try:
        data = json.loads(states[-1])
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


# -- the run ---------------------------------------------------------------------------------


def run(
    profile: Profile,
    settings: Settings,
    *,
    naive_rate: float,
    only: set[str] | None = None,
    spy_dir: Path | None = None,
    spy_gil: bool = True,
    keep_logs: bool = False,
) -> dict[str, Any]:
    """Run every scenario in order and return the report (figures, ratios, targets).

    `only` (scenario keys, for profiling and quick checks) skips the others; the targets that
    need a skipped scenario are then left out of the report.
    """
    node_red = None
    if settings.nodered:  # first: a missing Node.js fails the run before anything starts
        node_red = nodered_peer.install(log)
        log(f"Node-RED {nodered_peer.installed_version()} with Node.js {node_red[0]}")
    else:
        log("Node-RED peer skipped (not asked: the short profile skips it, --nodered runs it)")
    workdir = Path(tempfile.mkdtemp(prefix="econnect-bench-"))
    bench = Bench(profile, settings, workdir)
    bench.spy_dir = spy_dir
    bench.spy_gil = spy_gil
    started = time.monotonic()
    scenarios: dict[str, dict[str, Any]] = {}
    broker_drops: int | None = None
    try:
        bench.node_red = node_red
        bench.start()
        p, s = profile, settings

        def want(key: str) -> bool:
            return only is None or key in only

        scenarios["mqtt_floor"] = bench.mqtt_floor(p.floor)
        # The ceilings always run: the bridge's loads are set from them.
        scenarios["ceiling_100KB"] = bench.ceiling("100KB", p.ceiling)
        full = scenarios["ceiling_100KB"]["throughput_per_s"]
        # Node-RED runs on the same loads; the overload goes last (see below).
        peers: list[tuple[str, Any]] = [("bridge", bench.bridge)]
        if s.nodered:
            peers.append(("nodered", bench.nodered))
        label = {"bridge": "bridge", "nodered": "Node-RED"}
        for peer, start in peers:
            if want(f"{peer}_saturation_100KB"):
                scenarios[f"{peer}_saturation_100KB"] = start(
                    f"{label[peer]} saturation",
                    "100KB",
                    cameras=s.cameras,
                    rate=full * 1.25,
                    duration=p.saturation,
                )
            if want(f"{peer}_half_100KB"):
                scenarios[f"{peer}_half_100KB"] = start(
                    f"{label[peer]} half load, {s.half_cameras} cams",
                    "100KB",
                    cameras=s.half_cameras,
                    rate=full * 0.5,
                    duration=p.half,
                )
        if want("bridge_overload_100KB"):
            scenarios["bridge_overload_100KB"] = bench.bridge(
                "bridge overload x2", "100KB", cameras=s.cameras, rate=full * 2, duration=p.overload
            )
        if want("naive_100KB"):
            scenarios["naive_100KB"] = bench.naive("100KB", rate=naive_rate, duration=p.naive)
        # ~30 KB (a small camera snapshot) in the default profile only: the short one must
        # stay under about a minute.
        sizes = [("30KB", p.big)] if p.name != "short" else []
        for size, duration in [*sizes, ("1MB", p.big)]:
            keys = [f"{peer}_{kind}_{size}" for peer, _ in peers for kind in ("half", "saturation")]
            if not any(want(k) for k in [f"ceiling_{size}", *keys]):
                continue
            scenarios[f"ceiling_{size}"] = bench.ceiling(size, duration)
            top = scenarios[f"ceiling_{size}"]["throughput_per_s"]
            cams = s.half_cameras if size == "30KB" else s.cameras
            for peer, start in peers:
                if size == "1MB" and peer == "bridge" and want(f"{peer}_saturation_{size}"):
                    scenarios[f"{peer}_saturation_{size}"] = start(
                        f"{label[peer]} saturation",
                        size,
                        cameras=s.cameras,
                        rate=top * 1.25,
                        duration=duration,
                    )
                if want(f"{peer}_half_{size}"):
                    scenarios[f"{peer}_half_{size}"] = start(
                        f"{label[peer]} half load, {cams} cams",
                        size,
                        cameras=cams,
                        rate=top * 0.5,
                        duration=duration,
                    )
        # Engine latency 0 and unlimited capacity: the peers' own limits (CPU, GIL, MQTT).
        for peer, start in peers:
            if want(f"{peer}_fast_100KB"):
                scenarios[f"{peer}_fast_100KB"] = start(
                    f"{label[peer]} engine 0 ms, unlimited",
                    "100KB",
                    cameras=s.cameras,
                    rate=FAST_RATE,
                    duration=p.fast,
                    faults=(0.0, 0),
                )
        # Last: Node-RED has no concurrency limit, so in overload its requests pile up at the
        # engine (thousands after 60 s); nothing runs after it that this backlog could slow.
        if s.nodered and want("nodered_overload_100KB"):
            scenarios["nodered_overload_100KB"] = bench.nodered(
                "Node-RED overload x2",
                "100KB",
                cameras=s.cameras,
                rate=full * 2,
                duration=p.overload,
                fresh_engine=False,
            )
        broker_drops = procs.queue_drops(workdir / "mosquitto.log")
    except BaseException:
        log(f"logs of the broker, engine and bridges kept in {workdir}")
        raise
    finally:
        bench.close()
    if keep_logs:
        log(f"logs of the broker, engine and bridges in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)  # the logs only matter when something failed
    report = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "profile": asdict(profile),
        "settings": asdict(settings),
        "machine": _machine(),
        "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "elapsed_s": round(time.monotonic() - started, 1),
        "image_bytes": {k: [len(i) for i in v] for k, v in bench.images.items()},
        "scenarios": scenarios,
        # Mosquitto's "Outgoing messages are being dropped" notices (its default queue of
        # 1000 QoS 1 messages per client): 0 means no subscriber lost a message there.
        "broker_queue_drop_notices": broker_drops,
        "nodered": {"ran": settings.nodered, "version": nodered_peer.installed_version()}
        if settings.nodered
        else {"ran": False, "why": "the short profile and --no-nodered skip it"},
    }
    report["ratios"] = _ratios(scenarios)
    report["targets"] = _targets(scenarios, settings) if only is None else {}
    return report


#: Scenarios that run for both the bridge and Node-RED, in the comparison table's order.
PAIRS = (
    ("half_30KB", "half load 30 KB"),
    ("half_100KB", "half load 100 KB"),
    ("half_1MB", "half load 1 MB"),
    ("saturation_100KB", "saturation 100 KB"),
    ("overload_100KB", "overload x2 100 KB"),
    ("fast_100KB", "engine 0 ms, unlimited, 100 KB"),
)


def _ratios(sc: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    def tput(key: str) -> float | None:
        return sc.get(key, {}).get("throughput_per_s")

    def ovh(key: str, pct: str) -> float | None:
        value: float | None = sc.get(key, {}).get("overhead_ms", {}).get(pct)
        return value

    return {
        "bridge_over_ceiling_100KB": ratio(tput("bridge_saturation_100KB"), tput("ceiling_100KB")),
        "bridge_over_ceiling_1MB": ratio(tput("bridge_saturation_1MB"), tput("ceiling_1MB")),
        "bridge_over_naive_100KB": ratio(tput("bridge_saturation_100KB"), tput("naive_100KB")),
        # The best any bridge could do against this naive one with this engine: a bound.
        "ceiling_over_naive_100KB": ratio(tput("ceiling_100KB"), tput("naive_100KB")),
        "nodered_over_ceiling_100KB": ratio(
            tput("nodered_saturation_100KB"), tput("ceiling_100KB")
        ),
        # How many times the bridge's overhead is lower than the Node-RED flow's (>1: better).
        "overhead_p50_nodered_over_bridge_half_100KB": ratio(
            ovh("nodered_half_100KB", "p50"), ovh("bridge_half_100KB", "p50")
        ),
        "overhead_p99_nodered_over_bridge_half_100KB": ratio(
            ovh("nodered_half_100KB", "p99"), ovh("bridge_half_100KB", "p99")
        ),
    }


def _targets(sc: dict[str, dict[str, Any]], settings: Settings) -> dict[str, dict[str, Any]]:
    """Each performance target: the figure, the limit and whether it is met.

    A target whose scenario did not run (Node-RED in the short profile) is left out.
    """
    ratios = _ratios(sc)
    half = sc["bridge_half_100KB"]
    over = sc["bridge_overload_100KB"]
    engine_ms = sc["ceiling_100KB"]["latency_ms"]["p50"] or settings.latency_ms
    # "3 x the engine latency plus one queued snapshot per camera": a waiting snapshot of each
    # camera ahead of ours costs one engine call shared among `concurrency` workers.
    bound = engine_ms * (3 + settings.cameras / settings.concurrency)
    startups = [
        v["startup"]["ready_ms"]
        for v in sc.values()
        if isinstance(v.get("startup"), dict) and v.get("peer") != "node-red"
    ]

    def target(value: Any, limit: Any, ok: bool) -> dict[str, Any]:
        return {"value": value, "limit": limit, "met": ok}

    def at_most(value: float | None, limit: float) -> bool:
        return value is not None and value <= limit

    def at_least(value: float | None, limit: float) -> bool:
        return value is not None and value >= limit

    over_p99 = over["latency_ms"]["p99"]
    out = {
        "throughput_vs_ceiling_100KB": target(
            ratios["bridge_over_ceiling_100KB"],
            ">= 0.9",
            at_least(ratios["bridge_over_ceiling_100KB"], 0.9),
        ),
        "overhead_p50_half_load_ms": target(
            half["overhead_ms"]["p50"], "<= 2", at_most(half["overhead_ms"]["p50"], 2)
        ),
        "overhead_p99_half_load_ms": target(
            half["overhead_ms"]["p99"], "<= 5", at_most(half["overhead_ms"]["p99"], 5)
        ),
    }
    if "nodered_half_100KB" in sc:
        for pct in ("p50", "p99"):
            value = ratios[f"overhead_{pct}_nodered_over_bridge_half_100KB"]
            out[f"overhead_{pct}_half_load_nodered_over_bridge"] = target(
                value, ">= 4", at_least(value, 4)
            )
    out["cpu_ms_per_image_100KB_half_load"] = target(
        half["cpu_ms_per_image"], "<= 1.0", at_most(half["cpu_ms_per_image"], 1.0)
    )
    fast = sc.get("bridge_fast_100KB")
    if fast is not None:
        lost = fast.get("results_lost")
        delay = fast["event_delay_ms"]["p99"]
        out["engine_0ms_recognised_per_s"] = target(
            fast["throughput_per_s"],
            f">= {FAST_TARGET:g} (offered {fast['offered_per_s']})",
            at_least(fast["throughput_per_s"], FAST_TARGET),
        )
        out["engine_0ms_results_dropped"] = target(
            lost, "0", lost == 0 and not fast.get("mqtt_dropped_reported")
        )
        out["engine_0ms_event_delay_p99_ms"] = target(
            delay, "< 50", delay is not None and delay < 50
        )
    out.update(
        {
            "throughput_vs_naive": target(
                ratios["bridge_over_naive_100KB"],
                ">= 8",
                at_least(ratios["bridge_over_naive_100KB"], 8),
            ),
            "overload_latency_p99_ms": target(over_p99, f"< {bound:.0f}", at_most(over_p99, bound)),
            "overload_memory_flat": target(
                f"{over['rss_start_mb']} -> {over['rss_end_mb']} MB",
                "flat",
                bool(over["rss_flat"]),
            ),
            "overload_drops_reported": target(
                over["dropped_reported"],
                "counted",
                isinstance(over["dropped_reported"], int) and over["dropped_reported"] > 0,
            ),
            "overload_max_concurrent_requests": target(
                over["max_concurrent_received"],
                f"<= {settings.concurrency}",
                at_most(over["max_concurrent_received"], settings.concurrency),
            ),
            "rss_peak_50_cameras_mb": target(
                half["rss_peak_mb"], "< 80", half["rss_peak_mb"] < 80 and half["cameras"] >= 50
            ),
            "startup_to_ready_ms_max": target(
                max(startups) if startups else None,
                "< 1000",
                bool(startups) and max(startups) < 1000,
            ),
        }
    )
    return out


def _machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_avg_at_end": [round(x, 2) for x in os.getloadavg()],
    }


# -- output ----------------------------------------------------------------------------------


def log(text: str) -> None:
    """Progress on stderr, so stdout carries only the table."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def log_row(result: dict[str, Any]) -> None:
    """One line of progress per scenario."""
    lat = result.get("latency_ms", {})
    log(
        f"{result['scenario']} {result['image']}: {result['throughput_per_s']}/s, "
        f"p50 {lat.get('p50')} ms, p99 {lat.get('p99')} ms"
    )


COLUMNS = (
    ("scenario", 28),
    ("img", 5),
    ("cams", 4),
    ("offered/s", 9),
    ("done/s", 7),
    ("e2e p50", 7),
    ("p95", 7),
    ("p99", 7),
    ("ovh p50", 7),
    ("ovh p99", 7),
    ("CPU ms/img", 10),
    ("RSS MB", 6),
    ("dropped", 7),
    ("no result", 9),
    ("ev p99", 6),
    ("max conc", 8),
)


def table(report: dict[str, Any]) -> str:
    """The results as a Markdown table (it goes into docs/performance.md as is)."""

    def cell(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
        return str(value)

    header = "| " + " | ".join(name for name, _w in COLUMNS) + " |"
    rule = "|" + "|".join("-" * (w + 2) for _n, w in COLUMNS) + "|"
    lines = [header, rule]
    for result in report["scenarios"].values():
        if "hops_ms" in result:
            continue  # the MQTT floor is a line of its own, below
        lat = result.get("latency_ms", {})
        ovh = result.get("overhead_ms", {})
        row = [
            result["scenario"],
            result["image"],
            result.get("cameras", "-"),
            result.get("offered_per_s", "-"),
            result["throughput_per_s"],
            lat.get("p50"),
            lat.get("p95"),
            lat.get("p99"),
            ovh.get("p50"),
            ovh.get("p99"),
            result.get("cpu_ms_per_image"),
            result.get("rss_peak_mb"),
            result.get("dropped_reported"),
            result.get("unanswered"),
            result.get("event_delay_ms", {}).get("p99"),
            result.get("max_concurrent_received"),
        ]
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    lines += _comparison(report, cell)
    lines.append("")
    lines.append("| target | value | limit | met |")
    lines.append("|---|---|---|---|")
    for name, t in report["targets"].items():
        lines.append(
            f"| {name} | {cell(t['value'])} | {t['limit']} | {'yes' if t['met'] else 'NO'} |"
        )
    ratios = report["ratios"]
    floor = report["scenarios"].get("mqtt_floor")
    if floor:
        hops = floor["hops_ms"]
        lines.append("")
        lines.append(
            f"MQTT floor, no bridge (the overhead a bridge costing nothing would show): "
            f"100 KB snapshot one hop p50 {cell(hops['snapshot_100KB']['p50'])} ms, "
            f"1 KB event one hop p50 {cell(hops['event_1KB']['p50'])} ms, "
            f"two hops {cell(floor['two_hops_p50_ms'])} ms."
        )
    lines.append("")
    lines.append(
        "Ratios: "
        + ", ".join(f"{k} = {cell(v)}" for k, v in ratios.items())
        + ". Start to ready (ms): "
        + "; ".join(
            f"{who} "
            + ", ".join(
                str(v["startup"]["ready_ms"])
                for v in report["scenarios"].values()
                if isinstance(v.get("startup"), dict) and (v.get("peer") == "node-red") == is_nr
            )
            for who, is_nr in (("bridge", False), ("Node-RED", True))
            if is_nr is False or report.get("nodered", {}).get("ran")
        )
        + "."
    )
    return "\n".join(lines)


def _comparison(report: dict[str, Any], cell: Any) -> list[str]:
    """The bridge beside the Node-RED flow, scenario by scenario, with bridge/Node-RED ratios."""
    sc = report["scenarios"]
    if not any(key.startswith("nodered_") for key in sc):
        why = report.get("nodered", {}).get("why", "not asked")
        return ["", f"Node-RED peer: not run ({why}; --nodered runs it, with Node.js and npm)."]
    lines = [
        "",
        "| bridge vs Node-RED | done/s B | done/s N | ovh p50 B | ovh p50 N | B/N "
        "| ovh p99 B | ovh p99 N | B/N | e2e p99 B | e2e p99 N | CPU ms/img B | CPU ms/img N "
        "| B/N | RSS MB B | RSS MB N | max conc B | max conc N |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, label in PAIRS:
        b, n = sc.get(f"bridge_{key}"), sc.get(f"nodered_{key}")
        if b is None or n is None:
            continue

        def both(get: Any, with_ratio: bool = False, b: Any = b, n: Any = n) -> list[Any]:
            pair = [get(b), get(n)]
            return [*pair, ratio(*pair)] if with_ratio else pair

        row = [
            label,
            *both(lambda r: r["throughput_per_s"]),
            *both(lambda r: r["overhead_ms"]["p50"], True),
            *both(lambda r: r["overhead_ms"]["p99"], True),
            *both(lambda r: r["latency_ms"]["p99"]),
            *both(lambda r: r["cpu_ms_per_image"], True),
            *both(lambda r: r["rss_peak_mb"]),
            *both(lambda r: r["max_concurrent_received"]),
        ]
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Parse options, run, print the table, write the JSON; 1 only if the run failed."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", choices=sorted(PROFILES), default="default")
    parser.add_argument("--latency-ms", type=float, default=40.0, help="engine latency per call")
    parser.add_argument("--capacity", type=int, default=8, help="engine capacity (0 = unlimited)")
    parser.add_argument("--concurrency", type=int, default=8, help="bridge workers and ceiling")
    parser.add_argument(
        "--connect-rtt-ms",
        type=float,
        default=0.0,
        help="round trip a new TCP connection costs the engine (0: loopback, free)",
    )
    parser.add_argument("--cameras", type=int, default=16, help="cameras in the busy scenarios")
    parser.add_argument("--half-cameras", type=int, default=50, help="cameras at half load")
    parser.add_argument("--naive-rate", type=float, default=60.0, help="snapshots/s to naive")
    parser.add_argument("--out", type=Path, help="JSON file (default: benchmarks/results/...)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs")
    parser.add_argument(
        "--nodered",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the Node-RED peer (default: yes in the default profile, no in short)",
    )
    parser.add_argument(
        "--broker-conf",
        action="append",
        default=[],
        metavar="LINE",
        help="extra mosquitto.conf line, e.g. 'set_tcp_nodelay true' (diagnosis only: the "
        "benchmark's broker runs with Mosquitto's defaults)",
    )
    parser.add_argument(
        "--mqtt-protocol",
        choices=("3.1.1", "5"),
        default="5",
        help="the bridge's mqtt.protocol (default 5, the bridge's default)",
    )
    parser.add_argument(
        "--fast-s", type=float, help="duration of the engine-0-ms scenario (s; default: profile)"
    )
    parser.add_argument("--only", help="comma-separated scenario keys (quick checks, profiling)")
    parser.add_argument("--py-spy", type=Path, help="record a py-spy profile per scenario here")
    parser.add_argument(
        "--py-spy-wall", action="store_true", help="profile wall time (default: GIL holder, CPU)"
    )
    args = parser.parse_args(argv)
    # This process publishes, collects and times on three threads: a 5 ms GIL switch interval
    # would let the publisher's thread delay the collector's timestamps and bill it to the bridge.
    sys.setswitchinterval(0.0005)
    profile = PROFILES[args.profile]
    if args.fast_s is not None:
        profile = dataclasses.replace(profile, fast=args.fast_s)
    settings = Settings(
        latency_ms=args.latency_ms,
        capacity=args.capacity,
        concurrency=args.concurrency,
        connect_rtt_ms=args.connect_rtt_ms,
        cameras=args.cameras,
        half_cameras=args.half_cameras,
        nodered=args.nodered if args.nodered is not None else profile.name == "default",
        broker_conf=tuple(args.broker_conf),
        mqtt_protocol=args.mqtt_protocol,
    )
    log(
        f"profile {profile.name}: engine {settings.latency_ms:g} ms, capacity "
        f"{settings.capacity}, connect RTT {settings.connect_rtt_ms:g} ms, broker "
        + (f"with {list(settings.broker_conf)}" if settings.broker_conf else "Mosquitto defaults")
        + f", bridge MQTT {settings.mqtt_protocol}"
    )
    try:
        if args.py_spy is not None:
            args.py_spy.mkdir(parents=True, exist_ok=True)
        only = set(args.only.split(",")) if args.only else None
        report = run(
            profile,
            settings,
            naive_rate=args.naive_rate,
            only=only,
            spy_dir=args.py_spy,
            spy_gil=not args.py_spy_wall,
            keep_logs=args.keep_logs,
        )
    except nodered_peer.NodeRedUnavailableError as err:
        log(f"the benchmark could not run: {err}")
        return 1
    except Exception as err:  # the one place a failed run becomes exit status 1
        log(f"the benchmark could not run: {type(err).__name__}: {err}")
        return 1
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or RESULTS / f"bench-{profile.name}-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    if args.out is None and args.only is None:  # a partial or redirected run is not "latest"
        (RESULTS / f"latest-{profile.name}.json").write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    print(f"\nJSON: {out} (run took {report['elapsed_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
