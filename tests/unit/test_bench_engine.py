"""The benchmark's engine between scenarios: a peer's backlog must not reach the next peer.

A Node-RED flow with no concurrency limit leaves thousands of requests queued at the engine
when it stops; the benchmark replaces the engine then. These tests run the real engine process
(benchmarks/engine_proc.py) and fill it with requests over real sockets.
"""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import procs  # noqa: E402
from benchmarks.run import PROFILES, Bench, Settings  # noqa: E402

PUBLISH = (
    b"POST /api/v1/faceEdge/publishWithResponse HTTP/1.1\r\n"
    b"Host: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
)


def _bench(tmp_path: Path) -> Bench:
    # A call takes 20 s, far longer than a test: what the engine holds cannot change under it.
    settings = Settings(
        latency_ms=20_000, capacity=1, concurrency=1, connect_rtt_ms=0, cameras=1, half_cameras=1
    )
    bench = Bench(PROFILES["short"], settings, tmp_path)
    bench._start_engine(procs.free_port())
    return bench


def _fill(url: str, count: int) -> list[socket.socket]:
    """Send `count` publish calls on their own connections and wait until the engine holds
    them all (one served at a time, the rest queued at the capacity gate)."""
    port = int(url.rsplit(":", 1)[1])
    socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(count)]
    for sock in socks:
        sock.sendall(PUBLISH)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if procs.admin(url, "stats").get("in_flight_received") == count:
            break
        time.sleep(0.05)
    return socks


def test_a_fresh_engine_has_no_backlog_and_keeps_the_url(tmp_path: Path) -> None:
    bench = _bench(tmp_path)
    socks: list[socket.socket] = []
    try:
        url = bench.engine_url
        old_pid = bench.engine.pid if bench.engine else None
        socks = _fill(url, 6)
        left = bench.restart_engine("test")
        assert left == 6  # what the old engine still held, as the run logs it
        assert bench.engine_url == url  # configs and ceilings keep working
        assert bench.engine is not None
        assert bench.engine.pid != old_pid
        stats = procs.admin(url, "stats")
        assert stats["in_flight_received"] == 0
        assert stats["max_concurrent_received"] == 0
    finally:
        for sock in socks:
            sock.close()
        if bench.engine is not None:
            bench.engine.stop()


def test_the_fresh_engine_keeps_latency_and_capacity(tmp_path: Path) -> None:
    bench = _bench(tmp_path)
    socks: list[socket.socket] = []
    try:
        bench.restart_engine("test")
        socks = _fill(bench.engine_url, 3)
        stats = procs.admin(bench.engine_url, "stats")
        assert stats["in_flight_received"] == 3
        assert stats["max_concurrent_publish"] == 1  # capacity 1: the others wait
    finally:
        for sock in socks:
            sock.close()
        if bench.engine is not None:
            bench.engine.stop()
