"""The emulated engine for the benchmark, in its own process, with one extra gauge.

Why not just `econnect-bridge emulator`: its `max_concurrent_publish` counts requests *inside*
the capacity gate, so it can never exceed the capacity and cannot show whether a client sent
more requests at once than it should. This process runs the same `Emulator` and wraps the
publish handler to count requests from the moment their body has been read (before the gate),
and to time each one as the engine served it. The figures are added to `GET /_emulator/stats`
as `max_concurrent_received` and `service_ms` (a bounded list), and zeroed by the admin reset.

Run: `python benchmarks/engine_proc.py --port P --latency-ms 40 --capacity 8`; prints
`READY <url>` once it accepts connections.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections import deque
from typing import Any

from econnect_bridge.emulator import Emulator
from econnect_bridge.emulator.handler import Handler
from econnect_bridge.emulator.server import EmulatorHTTPServer
from econnect_bridge.emulator.stats import Stats

#: Service times kept for the statistics (a 60 s overload run makes ~12,000).
MAX_SERVICE_SAMPLES = 50_000


class Gauge:
    """Requests being served at once (before the capacity gate) and their service times."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.current = 0
        self.peak = 0
        self.service_ms: deque[float] = deque(maxlen=MAX_SERVICE_SAMPLES)

    def enter(self) -> float:
        """Count one more request being served; return its start time."""
        with self._lock:
            self.current += 1
            self.peak = max(self.peak, self.current)
        return time.perf_counter()

    def leave(self, started: float) -> None:
        """Count one request answered and remember how long it took."""
        elapsed = (time.perf_counter() - started) * 1000
        with self._lock:
            self.current -= 1
            self.service_ms.append(round(elapsed, 3))

    def reset(self) -> None:
        """Zero the peak and forget the service times (keeps the live count)."""
        with self._lock:
            self.peak = self.current
            self.service_ms.clear()

    def snapshot(self) -> dict[str, Any]:
        """The figures for the stats endpoint."""
        with self._lock:
            return {
                "max_concurrent_received": self.peak,
                "in_flight_received": self.current,
                "service_ms": list(self.service_ms),
            }


GAUGE = Gauge()


def _slow_connects(rtt_ms: float) -> None:
    """Make every new connection cost one round trip before its first request is read.

    On loopback a TCP connection is free; to a cloud engine 40 ms away its handshake costs a
    round trip (TLS one or two more). `--connect-rtt-ms` models the TCP part, so that a client
    opening a connection per image pays what it would pay over a real network. Off by default:
    the issue's emulator has a latency per call only.
    """
    if rtt_ms <= 0:
        return
    original_finish = EmulatorHTTPServer.finish_request

    def finish_request(self: EmulatorHTTPServer, request: Any, client_address: Any) -> None:
        time.sleep(rtt_ms / 1000)  # runs in the connection's own thread
        original_finish(self, request, client_address)

    EmulatorHTTPServer.finish_request = finish_request  # type: ignore[method-assign]


def _instrument() -> None:
    """Wrap the emulator's publish handler and stats so the gauge is served and reset."""
    original_publish = Handler._publish
    original_snapshot = Stats.snapshot
    original_reset = Stats.reset

    def publish(self: Handler, endpoint: str, body: bytes) -> None:
        started = GAUGE.enter()
        try:
            original_publish(self, endpoint, body)
        finally:
            GAUGE.leave(started)

    def snapshot(self: Stats) -> dict[str, Any]:
        return {**original_snapshot(self), **GAUGE.snapshot()}

    def reset(self: Stats) -> None:
        original_reset(self)
        GAUGE.reset()

    Handler._publish = publish  # type: ignore[method-assign]
    Stats.snapshot = snapshot  # type: ignore[method-assign]
    Stats.reset = reset  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=40.0)
    parser.add_argument("--capacity", type=int, default=8)
    parser.add_argument("--connect-rtt-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    _instrument()
    _slow_connects(args.connect_rtt_ms)
    emu = Emulator(host="127.0.0.1", port=args.port)
    emu.faults.update(latency_ms=args.latency_ms, capacity=args.capacity)
    emu.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"READY {emu.url}", flush=True)
    stop.wait()
    emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
