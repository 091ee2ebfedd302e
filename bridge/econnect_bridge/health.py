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
never reaches into the pipeline: it is given a callable returning a `BridgeMetrics` copy, the
same one the retained bridge-state payload is rendered from, through the same table. The
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
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final, Protocol

from econnect_bridge.metrics import (
    DEFAULT_BUCKETS_MS,
    SERIES,
    BridgeMetrics,
    HistogramSnapshot,
    LatencyHistogram,
    series_value,
)

__all__ = [
    "DEFAULT_BUCKETS_MS",
    "HealthServer",
    "HealthSnapshot",
    "HistogramSnapshot",
    "LatencyHistogram",
    "bridge_snapshot",
    "connection_sample",
    "prometheus_text",
    "serve_health",
]

_LOGGER = logging.getLogger(__name__)

METRICS_CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
PREFIX: Final = "econnect_bridge"


#: What the endpoint reports: one copy of the bridge's metrics (the former name kept).
HealthSnapshot = BridgeMetrics

SnapshotSource = Callable[[], HealthSnapshot]


# -- building a snapshot from the running bridge -------------------------------------------


class _PipelineView(Protocol):
    def metrics(self) -> BridgeMetrics: ...


class _Flag(Protocol):
    def is_set(self) -> bool: ...


class _ConnectionView(Protocol):
    @property
    def ready(self) -> _Flag: ...

    publish_failures: int
    sessions_lost: int

    @property
    def acked_on_arrival(self) -> int: ...


def connection_sample(connection: _ConnectionView) -> dict[str, object]:
    """Read the MQTT adapter's figures into `BridgeMetrics` fields (a reporter's sampler).

    `ready` (connected AND every subscription acknowledged) rather than `connected`: a bridge
    whose snapshot subscription was not yet granted receives nothing. Plain int reads need no
    lock; the counters may be one update apart, which nobody notices.
    """
    return {
        "broker_connected": connection.ready.is_set(),
        "mqtt_dropped": connection.publish_failures,
        "sessions_lost": connection.sessions_lost,
        "acked_on_arrival": connection.acked_on_arrival,
    }


def bridge_snapshot(pipeline: _PipelineView) -> BridgeMetrics:
    """The running bridge's metrics: the very copy its bridge-state payload is rendered from."""
    return pipeline.metrics()


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


_UP_HELP: Final = "1 when the broker is connected and the engine reachable."


def prometheus_text(snap: BridgeMetrics) -> str:
    """Render every series of the metrics table in the Prometheus text format 0.0.4."""
    info = f"{PREFIX}_info"
    lines = [
        f"# HELP {info} Version of the running bridge (always 1).",
        f"# TYPE {info} gauge",
        f'{info}{{version="{_escape_label(snap.version)}"}} 1',
    ]
    lines += _metric("up", "gauge", _UP_HELP, int(snap.ready))
    for series in SERIES:
        lines += _metric(
            series.metric, series.prometheus_type, series.help, series_value(snap, series)
        )
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
