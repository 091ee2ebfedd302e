"""The bridge's HTTP health endpoint: liveness, readiness and Prometheus metrics.

Container orchestrators (Docker's HEALTHCHECK, Kubernetes probes, the Home Assistant
Supervisor watchdog) and Prometheus need to ask a running bridge how it is doing without
speaking MQTT. This module answers three GET paths:

- ``/healthz`` (liveness): 200 while the process can produce a health snapshot at all.
- ``/readyz`` (readiness): 200 when the broker is connected (and subscribed) and the engine
  reachable, else 503 with the failing checks, so a load balancer or a human sees *why*.
- ``/metrics``: counters, gauges and the engine latency histogram in the Prometheus text
  exposition format (version 0.0.4).

It only uses the standard library (``http.server``) so the bridge gains no dependency, and it
never reaches into the pipeline: it is given a callable returning a `HealthSnapshot`. The
server is off by default and binds to loopback by default (configuration section ``health``),
because counters and error messages are not for the whole network.
"""

from __future__ import annotations

import json
import logging
import math
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final, Protocol

from econnect_bridge import __version__

_LOGGER = logging.getLogger(__name__)

#: Upper bounds (ms) of the latency buckets: from a LAN engine (~20 ms) to a timeout (10 s+).
DEFAULT_BUCKETS_MS: Final = (10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0)
METRICS_CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
PREFIX: Final = "econnect_bridge"


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


@dataclass(frozen=True, slots=True)
class HealthSnapshot:
    """Everything the endpoint reports, frozen at one instant by the snapshot callable."""

    broker_connected: bool
    engine_reachable: bool
    received: int = 0
    processed: int = 0
    dropped: int = 0
    errors: int = 0
    skipped_retained: int = 0
    queue_pending: int = 0
    in_flight: int = 0
    latency: HistogramSnapshot = field(default_factory=HistogramSnapshot)
    started: datetime | None = None
    last_error: str | None = None
    version: str = __version__

    @property
    def ready(self) -> bool:
        """Whether the bridge can do its job: snapshots in (broker) and answers out (engine)."""
        return self.broker_connected and self.engine_reachable

    def checks(self) -> dict[str, bool]:
        """Name each readiness condition, so a failing probe says which one failed."""
        return {
            "broker_connected": self.broker_connected,
            "engine_reachable": self.engine_reachable,
        }


SnapshotSource = Callable[[], HealthSnapshot]


# -- building a snapshot from the running bridge -------------------------------------------


class _Counters(Protocol):
    """The pipeline's `Health` counters, as far as this module reads them."""

    received: int
    processed: int
    dropped: int
    errors: int
    skipped_retained: int
    api_reachable: bool
    last_error: str | None
    started: datetime


class _Queue(Protocol):
    def pending(self) -> int: ...

    def in_flight(self) -> int: ...


class _PipelineView(Protocol):
    @property
    def health(self) -> _Counters: ...

    @property
    def queue(self) -> _Queue: ...


class _Flag(Protocol):
    def is_set(self) -> bool: ...


class _ConnectionView(Protocol):
    @property
    def ready(self) -> _Flag: ...


def bridge_snapshot(
    pipeline: _PipelineView, connection: _ConnectionView, latency: LatencyHistogram
) -> HealthSnapshot:
    """Read the pipeline's public counters and the connection's `ready` flag.

    `ready` (connected AND every subscription acknowledged) rather than `connected`: a bridge
    whose snapshot subscription was not yet granted receives nothing. Plain int reads need no
    lock; the counters may be one update apart, which a probe does not notice.
    """
    counters = pipeline.health
    return HealthSnapshot(
        broker_connected=connection.ready.is_set(),
        engine_reachable=counters.api_reachable,
        received=counters.received,
        processed=counters.processed,
        dropped=counters.dropped,
        errors=counters.errors,
        skipped_retained=counters.skipped_retained,
        queue_pending=pipeline.queue.pending(),
        in_flight=pipeline.queue.in_flight(),
        latency=latency.snapshot(),
        started=counters.started,
        last_error=counters.last_error,
    )


# -- Prometheus text format -----------------------------------------------------------------


def _number(value: float) -> str:
    """Format a sample value the way Prometheus expects (integers without `.0`, `+Inf`)."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _metric(name: str, kind: str, help_text: str, value: float) -> list[str]:
    full = f"{PREFIX}_{name}"
    return [f"# HELP {full} {help_text}", f"# TYPE {full} {kind}", f"{full} {_number(value)}"]


def _histogram_lines(snap: HistogramSnapshot) -> list[str]:
    """Export milliseconds as seconds: Prometheus base units keep dashboards comparable."""
    name = f"{PREFIX}_api_latency_seconds"
    lines = [
        f"# HELP {name} Round trip of engine calls (publishWithResponse / publish).",
        f"# TYPE {name} histogram",
    ]
    for bound, count in zip(snap.bounds_ms, snap.cumulative, strict=True):
        lines.append(f'{name}_bucket{{le="{_number(bound / 1000)}"}} {count}')
    lines.append(f'{name}_bucket{{le="+Inf"}} {snap.count}')
    lines.append(f"{name}_sum {_number(snap.sum_ms / 1000)}")
    lines.append(f"{name}_count {snap.count}")
    return lines


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


#: (name, type, help, how to read the value): one row per exported series.
_SERIES: Final[tuple[tuple[str, str, str, Callable[[HealthSnapshot], float]], ...]] = (
    ("up", "gauge", "1 when the broker is connected and the engine reachable.",
     lambda s: int(s.ready)),
    ("broker_connected", "gauge", "1 when connected and subscribed to the broker.",
     lambda s: int(s.broker_connected)),
    ("engine_reachable", "gauge", "1 when the engine answered the last call.",
     lambda s: int(s.engine_reachable)),
    ("snapshots_received_total", "counter", "Snapshots received from MQTT.",
     lambda s: s.received),
    ("snapshots_processed_total", "counter", "Snapshots the engine processed.",
     lambda s: s.processed),
    ("snapshots_dropped_total", "counter", "Snapshots replaced by a newer one before sending.",
     lambda s: s.dropped),
    ("snapshots_skipped_retained_total", "counter", "Retained snapshots ignored.",
     lambda s: s.skipped_retained),
    ("errors_total", "counter", "Snapshots that could not be processed.",
     lambda s: s.errors),
    ("queue_pending", "gauge", "Snapshots waiting for a worker.",
     lambda s: s.queue_pending),
    ("queue_in_flight", "gauge", "Snapshots being sent to the engine now.",
     lambda s: s.in_flight),
)  # fmt: skip


def prometheus_text(snap: HealthSnapshot) -> str:
    """Render a snapshot in the Prometheus text exposition format 0.0.4."""
    info = f"{PREFIX}_info"
    lines = [
        f"# HELP {info} Version of the running bridge (always 1).",
        f"# TYPE {info} gauge",
        f'{info}{{version="{_escape_label(snap.version)}"}} 1',
    ]
    for name, kind, help_text, read in _SERIES:
        lines += _metric(name, kind, help_text, read(snap))
    if snap.started is not None:
        started = snap.started.timestamp()
        lines += _metric("start_time_seconds", "gauge", "Start of the bridge (Unix time).", started)
    lines += _histogram_lines(snap.latency)
    return "\n".join(lines) + "\n"


def readiness_body(snap: HealthSnapshot) -> dict[str, Any]:
    """Say which readiness checks fail, and the last error, for a human reading the probe."""
    return {
        "status": "ready" if snap.ready else "not_ready",
        "checks": snap.checks(),
        "last_error": snap.last_error,
        "version": snap.version,
    }


# -- the HTTP server ------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    """Route the three paths; anything else is 404, anything but GET/HEAD 405."""

    server: _HealthHTTPServer
    protocol_version = "HTTP/1.1"  # keep-alive: Prometheus scrapes reuse the connection

    def do_GET(self) -> None:
        """Answer a probe or a scrape."""
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        """Answer like GET without a body (some probes use HEAD)."""
        self._answer(with_body=False)

    def do_POST(self) -> None:
        """Refuse writes: the endpoint is read-only."""
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"method not allowed\n", "text/plain", True)

    def _answer(self, *, with_body: bool) -> None:
        path = self.path.split("?", 1)[0]
        try:
            snap = self.server.source()
        except Exception as err:  # a broken snapshot means the bridge is not alive
            _LOGGER.exception("health snapshot failed")
            body = json.dumps({"status": "error", "error": type(err).__name__}).encode()
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, body, "application/json", with_body)
            return
        if path == "/healthz":
            body = json.dumps({"status": "alive", "version": snap.version}).encode()
            self._send(HTTPStatus.OK, body, "application/json", with_body)
        elif path == "/readyz":
            status = HTTPStatus.OK if snap.ready else HTTPStatus.SERVICE_UNAVAILABLE
            body = json.dumps(readiness_body(snap)).encode()
            self._send(status, body, "application/json", with_body)
        elif path == "/metrics":
            body = prometheus_text(snap).encode()
            self._send(HTTPStatus.OK, body, METRICS_CONTENT_TYPE, with_body)
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain", with_body)

    def _send(self, status: HTTPStatus, body: bytes, content_type: str, with_body: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Log at DEBUG: a probe every few seconds must not flood the bridge's log."""
        _LOGGER.debug("health %s - " + format, self.address_string(), *args)


class _HealthHTTPServer(ThreadingHTTPServer):
    """A threading server with TCP_NODELAY: small replies must not wait for Nagle."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], source: SnapshotSource) -> None:
        self.source = source
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        """Bind, then turn off Nagle on the listening socket (inherited by accepted ones)."""
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().server_bind()


class HealthServer:
    """The health endpoint on its own daemon thread; `stop()` closes the socket."""

    def __init__(self, source: SnapshotSource, host: str = "127.0.0.1", port: int = 8099) -> None:
        self._server = _HealthHTTPServer((host, port), source)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="econnect-health", daemon=True
        )

    @property
    def port(self) -> int:
        """The bound port (useful with port 0 in tests)."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL of the endpoint, for logs and tests."""
        host = str(self._server.server_address[0])
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def start(self) -> HealthServer:
        """Serve in the background; returns self so it chains after the constructor."""
        self._thread.start()
        _LOGGER.info("Health endpoint on %s (/healthz, /readyz, /metrics)", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()


class _HealthSettings(Protocol):
    @property
    def enabled(self) -> bool: ...

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...


def serve_health(settings: _HealthSettings, source: SnapshotSource) -> HealthServer | None:
    """Start the endpoint when the configuration enables it; None when it is off.

    A port already in use is logged, not fatal: the bridge's real job (MQTT) must not stop
    because a probe cannot be served.
    """
    if not settings.enabled:
        return None
    try:
        return HealthServer(source, settings.host, settings.port).start()
    except OSError as err:
        _LOGGER.error(
            "Cannot serve the health endpoint on %s:%s: %s (change health.port or health.host)",
            settings.host,
            settings.port,
            err,
        )
        return None


# -- the probe: `python -m econnect_bridge.health -c FILE` (Docker HEALTHCHECK, scripts) ------


def probe_url(settings: _HealthSettings, *, ready: bool = False) -> str:
    """The URL a local probe should ask: a wildcard bind address is reached over loopback."""
    host = settings.host
    if host in ("0.0.0.0", "", "::"):  # noqa: S104 - compared, not bound
        host = "127.0.0.1" if host != "::" else "::1"
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.port}{'/readyz' if ready else '/healthz'}"


def probe(url: str, timeout: float = 4.0) -> tuple[bool, str]:
    """GET `url`; healthy on a 2xx answer. Returns the verdict and a one-line reason."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - http URL we built
            return True, f"{url}: {response.status}"
    except urllib.error.HTTPError as err:
        return False, f"{url}: {err.code} {err.read(300).decode(errors='replace')}"
    except OSError as err:
        return False, f"{url}: {err}"


def probe_main(argv: Sequence[str] | None = None) -> int:
    """Exit 0 when the configured endpoint answers (or is turned off), 1 otherwise.

    Reading the configuration keeps the port in one place, and a container whose user has
    not enabled the endpoint is reported healthy with a note, rather than restarted forever.
    """
    import argparse

    from econnect_bridge.config import ConfigError, load_config

    parser = argparse.ArgumentParser(
        prog="python -m econnect_bridge.health", description=probe_main.__doc__
    )
    parser.add_argument("-c", "--config", required=True, help="the bridge's configuration file")
    parser.add_argument("--ready", action="store_true", help="ask /readyz instead of /healthz")
    args = parser.parse_args(argv)
    try:
        settings = load_config(args.config).health
    except ConfigError as err:
        print(err)
        return 1
    if not settings.enabled:
        print("health endpoint disabled (health.enabled: false): nothing to check")
        return 0
    healthy, reason = probe(probe_url(settings, ready=args.ready))
    print(reason)
    return 0 if healthy else 1


if __name__ == "__main__":
    raise SystemExit(probe_main())
