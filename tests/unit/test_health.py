"""The health endpoint over real loopback HTTP: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from econnect_bridge.app import BridgeApp
from econnect_bridge.config import load_config
from econnect_bridge.health import (
    HealthServer,
    HealthSnapshot,
    LatencyHistogram,
    bridge_snapshot,
    connection_sample,
    probe_main,
    probe_url,
    prometheus_text,
    serve_health,
)
from econnect_bridge.reporting import Reporter
from econnect_bridge.states import Topics

# -- a strict reader of the Prometheus text exposition format 0.0.4 -------------------------

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_VALUE = r"[-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+|Inf|NaN)"
_LABEL = rf'{_NAME}="(?:[^"\\\n]|\\[\\"n])*"'
_SAMPLE = re.compile(rf"^({_NAME})(?:\{{((?:{_LABEL})(?:,{_LABEL})*)?\}})? ({_VALUE})$")
_TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


@dataclass
class Family:
    kind: str
    help: str | None = None
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)


def parse_prometheus(text: str) -> dict[str, Family]:
    """Parse exposition text, failing on anything the format does not allow."""
    assert text.endswith("\n"), "the exposition must end with a line feed"
    families: dict[str, Family] = {}
    helps: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert re.fullmatch(_NAME, name), line
            helps[name] = help_text
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert kind in _TYPES, line
            assert name not in families, f"TYPE given twice for {name}"
            families[name] = Family(kind, helps.get(name))
        else:
            match = _SAMPLE.match(line)
            assert match, f"not a valid sample line: {line!r}"
            name, labels, value = match.groups()
            family = _family_of(name, families)
            pairs = re.findall(rf'({_NAME})="((?:[^"\\]|\\.)*)"', labels or "")
            family.samples.append((name, dict(pairs), float(value)))
    return families


def _family_of(name: str, families: dict[str, Family]) -> Family:
    if name in families:
        return families[name]
    for suffix in ("_bucket", "_sum", "_count"):
        base = name.removesuffix(suffix)
        if base != name and families.get(base, Family("")).kind == "histogram":
            return families[base]
    raise AssertionError(f"sample {name} comes before its TYPE line")


def value_of(families: dict[str, Family], name: str) -> float:
    (sample,) = families[name].samples
    return sample[2]


# -- fixtures ---------------------------------------------------------------------------------


def snapshot(**changes: object) -> HealthSnapshot:
    base: dict[str, object] = {
        "broker_connected": True,
        "api_reachable": True,
        "received": 12,
        "processed": 9,
        "dropped": 2,
        "errors": 1,
        "queue_pending": 1,
        "in_flight": 2,
        "started": datetime(2025, 5, 1, 8, 0, tzinfo=UTC),
        "last_error": 'EconnectTimeoutError: "read" timed out',
    }
    base.update(changes)
    return HealthSnapshot(**base)  # type: ignore[arg-type]


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[], HealthSnapshot]], HealthServer]]:
    servers: list[HealthServer] = []

    def start(source: Callable[[], HealthSnapshot]) -> HealthServer:
        server = HealthServer(source, "127.0.0.1", 0).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def get(server: HealthServer, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


# -- the histogram ------------------------------------------------------------------------


def test_histogram_counts_into_cumulative_buckets() -> None:
    histogram = LatencyHistogram((10, 100, 1000))
    for ms in (1, 10, 10.5, 99, 500, 5000, -1, float("nan")):
        histogram.observe(ms)
    snap = histogram.snapshot()
    assert snap.bounds_ms == (10.0, 100.0, 1000.0)
    assert snap.cumulative == (2, 4, 5)  # 5000 ms only in +Inf; -1 and NaN ignored
    assert snap.count == 6
    assert snap.sum_ms == pytest.approx(1 + 10 + 10.5 + 99 + 500 + 5000)


def test_histogram_is_consistent_under_concurrent_observers() -> None:
    histogram = LatencyHistogram()

    def worker() -> None:
        for i in range(2000):
            histogram.observe(float(i % 300))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    snap = histogram.snapshot()
    assert snap.count == 16000
    assert snap.cumulative[-1] == 16000  # every value fits under 10 s


@pytest.mark.parametrize("bounds", [(), (0, 1), (5, 1), (1, 1)])
def test_histogram_rejects_bad_bounds(bounds: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="bucket bounds"):
        LatencyHistogram(bounds)


# -- the Prometheus text ------------------------------------------------------------------


def test_metrics_text_parses_and_carries_every_series() -> None:
    histogram = LatencyHistogram()
    for ms in (20, 180, 2600):
        histogram.observe(ms)
    families = parse_prometheus(prometheus_text(snapshot(latency=histogram.snapshot())))
    assert value_of(families, "econnect_bridge_snapshots_processed_total") == 9
    assert value_of(families, "econnect_bridge_snapshots_dropped_total") == 2
    assert value_of(families, "econnect_bridge_errors_total") == 1
    assert value_of(families, "econnect_bridge_queue_pending") == 1
    assert value_of(families, "econnect_bridge_queue_in_flight") == 2
    assert value_of(families, "econnect_bridge_up") == 1
    assert value_of(families, "econnect_bridge_start_time_seconds") == 1746086400
    for name, family in families.items():
        assert family.help, f"{name} has no HELP"
        if family.kind == "counter":
            assert name.endswith("_total")
    latency = families["econnect_bridge_api_latency_seconds"]
    assert latency.kind == "histogram"
    buckets = [(s[1]["le"], s[2]) for s in latency.samples if s[0].endswith("_bucket")]
    counts = [count for _le, count in buckets]
    assert counts == sorted(counts), "buckets must be cumulative"
    assert buckets[-1] == ("+Inf", 3)
    assert dict(buckets)["0.025"] == 1
    assert dict(buckets)["0.25"] == 2
    by_name = {s[0]: s[2] for s in latency.samples}
    assert by_name["econnect_bridge_api_latency_seconds_count"] == 3
    assert by_name["econnect_bridge_api_latency_seconds_sum"] == pytest.approx(2.8)


def test_version_label_is_escaped() -> None:
    families = parse_prometheus(prometheus_text(snapshot(version='1.0"\\x')))
    (sample,) = families["econnect_bridge_info"].samples
    assert sample[1] == {"version": '1.0\\"\\\\x'}


# -- the HTTP endpoint over loopback ------------------------------------------------------


def test_liveness_readiness_and_metrics_over_http(serve: Callable[..., HealthServer]) -> None:
    server = serve(snapshot)
    status, headers, body = get(server, "/healthz")
    assert status == 200
    assert json.loads(body)["status"] == "alive"
    status, headers, body = get(server, "/readyz")
    assert status == 200
    assert json.loads(body)["checks"] == {"broker_connected": True, "engine_reachable": True}
    status, headers, body = get(server, "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "econnect_bridge_snapshots_processed_total" in parse_prometheus(body.decode())


@pytest.mark.parametrize(("broker", "engine"), [(False, True), (True, False), (False, False)])
def test_readiness_fails_with_the_reason(
    serve: Callable[..., HealthServer], broker: bool, engine: bool
) -> None:
    server = serve(lambda: snapshot(broker_connected=broker, api_reachable=engine))
    status, _headers, body = get(server, "/readyz")
    assert status == 503
    answer = json.loads(body)
    assert answer["status"] == "not_ready"
    assert answer["checks"] == {"broker_connected": broker, "engine_reachable": engine}
    assert answer["last_error"].startswith("EconnectTimeoutError")
    assert get(server, "/healthz")[0] == 200, "not ready is still alive"


def test_unknown_path_method_and_head(serve: Callable[..., HealthServer]) -> None:
    server = serve(snapshot)
    assert get(server, "/nope")[0] == 404
    assert get(server, "/metrics", "POST")[0] == 405
    status, headers, body = get(server, "/healthz?probe=1", "HEAD")
    assert (status, body) == (200, b"")
    assert int(headers["Content-Length"]) > 0


def test_a_failing_snapshot_makes_liveness_fail(serve: Callable[..., HealthServer]) -> None:
    def broken() -> HealthSnapshot:
        raise RuntimeError("boom")

    server = serve(broken)
    status, _headers, body = get(server, "/healthz")
    assert status == 500
    assert json.loads(body) == {"status": "error", "error": "RuntimeError"}


def test_keep_alive_serves_several_requests_on_one_connection(
    serve: Callable[..., HealthServer],
) -> None:
    server = serve(snapshot)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        for path in ("/healthz", "/metrics", "/readyz"):
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            assert response.status == 200
    finally:
        conn.close()


def test_accepted_sockets_have_tcp_nodelay(serve: Callable[..., HealthServer]) -> None:
    seen: list[int] = []
    server = serve(snapshot)
    original = server._server.process_request

    def spy(request: socket.socket, address: object) -> None:
        seen.append(request.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        original(request, address)  # type: ignore[arg-type]

    server._server.process_request = spy  # type: ignore[method-assign]
    assert get(server, "/healthz")[0] == 200
    assert seen
    assert seen[0] != 0


# -- configuration and start-up -----------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    enabled: bool
    host: str = "127.0.0.1"
    port: int = 0


def test_serve_health_is_off_unless_enabled() -> None:
    assert serve_health(Settings(enabled=False), snapshot) is None


def test_a_busy_port_is_logged_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert serve_health(Settings(enabled=True, port=port), snapshot) is None
    assert "change health.port" in caplog.text


def _config(tmp_path: Path, health: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        "api: {url: 'http://127.0.0.1:1', username: u, password: p}\n"
        "mqtt: {host: 127.0.0.1, port: 1}\n"
        "frigate: {enabled: true}\n" + health
    )
    return path


def test_health_section_defaults_are_off_and_loopback(tmp_path: Path) -> None:
    health = load_config(_config(tmp_path, "")).health
    assert (health.enabled, health.host, health.port) == (False, "127.0.0.1", 8099)


# -- reading the running bridge -----------------------------------------------------------


class FakePublisher:
    def publish(
        self, topic: str, payload: bytes | str, *, retain: bool = False, qos: int | None = None
    ) -> bool:
        return True


@dataclass
class FakeConnection:
    ready: threading.Event = field(default_factory=threading.Event)
    publish_failures: int = 6
    sessions_lost: int = 7
    acked_on_arrival: int = 8


@dataclass
class FakePipeline:
    reporter: Reporter

    def metrics(self) -> HealthSnapshot:
        return self.reporter.snapshot()


def _reporter(connection: FakeConnection, histogram: LatencyHistogram) -> Reporter:
    reporter = Reporter(FakePublisher(), Topics(), retain_state=True)
    for counter, amount in (("received", 5), ("processed", 4), ("dropped", 1)):
        reporter.count(counter, amount)
    reporter.count("skipped_retained", 3)
    reporter.set_reachable(True)
    reporter.add_sampler(
        lambda: {"queue_pending": 2, "in_flight": 1, "latency": histogram.snapshot()}
    )
    reporter.add_sampler(lambda: connection_sample(connection))
    return reporter


def test_bridge_snapshot_reads_public_counters_only() -> None:
    connection = FakeConnection()
    histogram = LatencyHistogram()
    histogram.observe(42)
    pipeline = FakePipeline(_reporter(connection, histogram))
    snap = bridge_snapshot(pipeline)
    assert not snap.ready
    assert snap.checks()["engine_reachable"]
    assert (snap.received, snap.processed, snap.dropped, snap.skipped_retained) == (5, 4, 1, 3)
    assert (snap.queue_pending, snap.in_flight, snap.latency.count) == (2, 1, 1)
    assert (snap.mqtt_dropped, snap.sessions_lost, snap.acked_on_arrival) == (6, 7, 8)
    connection.ready.set()
    assert bridge_snapshot(pipeline).ready


def test_the_bridge_serves_health_when_enabled(tmp_path: Path) -> None:
    """Wiring in BridgeApp: alive at once, not ready without a broker, port freed at stop."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = load_config(_config(tmp_path, f"health: {{enabled: true, port: {port}}}\n"))
    app = BridgeApp(config)
    thread = threading.Thread(target=app.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if getattr(app, "health_server", None) is not None:
                break
            threading.Event().wait(0.05)
        server = app.health_server
        assert server is not None
        assert get(server, "/healthz")[0] == 200
        status, _headers, body = get(server, "/readyz")
        assert status == 503
        assert json.loads(body)["checks"]["broker_connected"] is False
    finally:
        app.request_stop()
        thread.join(15)
    assert not thread.is_alive()
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))  # released by stop()


# -- the probe used by the Docker HEALTHCHECK -----------------------------------------------


@pytest.mark.parametrize(
    ("host", "ready", "url"),
    [
        ("127.0.0.1", False, "http://127.0.0.1:8099/healthz"),
        ("0.0.0.0", True, "http://127.0.0.1:8099/readyz"),
        ("::", False, "http://[::1]:8099/healthz"),
        ("::1", False, "http://[::1]:8099/healthz"),
    ],
)
def test_probe_url(host: str, ready: bool, url: str) -> None:
    assert probe_url(Settings(enabled=True, host=host, port=8099), ready=ready) == url


def test_probe_main_against_a_running_endpoint(
    tmp_path: Path, serve: Callable[..., HealthServer], capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve(lambda: snapshot(api_reachable=False))
    path = _config(tmp_path, f"health: {{enabled: true, port: {server.port}}}\n")
    assert probe_main(["-c", str(path)]) == 0
    assert probe_main(["-c", str(path), "--ready"]) == 1
    assert "503" in capsys.readouterr().out


def test_probe_main_when_nothing_listens(tmp_path: Path) -> None:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]
    path = _config(tmp_path, f"health: {{enabled: true, port: {port}}}\n")
    assert probe_main(["-c", str(path)]) == 1


def test_probe_main_when_disabled_or_misconfigured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert probe_main(["-c", str(_config(tmp_path, ""))]) == 0
    assert "disabled" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("api: {}\n")
    assert probe_main(["-c", str(bad)]) == 1
