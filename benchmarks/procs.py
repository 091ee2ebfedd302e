"""Child processes of the benchmark and what /proc says about them (RSS, CPU time).

Each system under test runs as its own process, started with its real command line, so that
its CPU time and memory are its own and no GIL is shared with the load generator. Linux only:
figures come from `/proc/<pid>/status` and `/proc/<pid>/stat`.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> tuple[float, float]:
    """Return (current RSS, peak RSS) in MB of a process (VmRSS, VmHWM)."""
    rss = hwm = 0.0
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    return rss, hwm


def cpu_times(pid: int) -> tuple[float, float]:
    """Return the (user, system) CPU seconds a process has used (all its threads)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS


def cpu_seconds(pid: int) -> float:
    """Return the user + system CPU seconds a process has used (all its threads)."""
    return sum(cpu_times(pid))


class ProcWatch:
    """Sample a process's RSS every `interval` seconds in a thread, until stopped."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, float]] = []  # (monotonic seconds, RSS MB)
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"watch-{pid}", daemon=True)

    def start(self) -> ProcWatch:
        """Start sampling."""
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rss, hwm = rss_mb(self.pid)
            except (OSError, ValueError):
                return
            self.samples.append((time.monotonic(), rss))
            self.peak_mb = max(self.peak_mb, hwm)
            self._stop.wait(self.interval)

    def stop(self) -> None:
        """Stop sampling (keeps one last peak reading)."""
        self._stop.set()
        self._thread.join(2)
        with contextlib.suppress(OSError, ValueError):
            self.peak_mb = max(self.peak_mb, rss_mb(self.pid)[1])

    def between(self, start: float, end: float) -> list[tuple[float, float]]:
        """Return the samples taken within [start, end]."""
        return [(t, mb) for t, mb in self.samples if start <= t <= end]


class Child:
    """A child process whose output goes to a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, name: str, argv: list[str], log_path: Path, *, wait_line: str) -> None:
        self.name = name
        self.log_path = log_path
        self.started = time.monotonic()
        log = log_path.open("ab")
        # A child that never says "ready" on stdout logs there too: an unread pipe would fill.
        stdout: int | IO[bytes] = subprocess.PIPE if wait_line else log
        self.process = subprocess.Popen(argv, stdout=stdout, stderr=log, cwd=ROOT)
        log.close()
        self.first_line = self._wait_for(wait_line) if wait_line else ""

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.process.pid

    def _wait_for(self, prefix: str, timeout: float = 20.0) -> str:
        """Read stdout until a line starting with `prefix` (the child says it is ready)."""
        stdout: IO[bytes] | None = self.process.stdout
        assert stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _w, _x = select.select([stdout], [], [], 0.2)
            if not ready:
                if self.process.poll() is not None:
                    break
                continue
            line = stdout.readline().decode(errors="replace").strip()
            if line.startswith(prefix):
                return line
            if not line and self.process.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"{self.name} did not start; see {self.log_path}")

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, wait, SIGKILL if needed; return the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode


def python_child(name: str, args: list[str], log_path: Path, *, wait_line: str) -> Child:
    """Start `python <args>` with this interpreter (the project's venv)."""
    return Child(name, [sys.executable, *args], log_path, wait_line=wait_line)


def bridge_child(config_path: Path, log_path: Path) -> Child:
    """Start the bridge exactly as a user does: `econnect-bridge run -c FILE`.

    `python -m econnect_bridge` is the same entry point as the `econnect-bridge` script and does not
    depend on the venv's bin directory being on PATH.
    """
    return Child(
        "bridge",
        [sys.executable, "-m", "econnect_bridge", "run", "-c", str(config_path)],
        log_path,
        wait_line="",
    )


def admin(
    url: str, route: str, data: dict[str, Any] | None = None, *, timeout: float = 10.0
) -> Any:
    """Call one of the emulator's loopback admin routes (`stats`, `reset`, `faults`)."""
    body = None if data is None else json.dumps(data).encode()
    method = "GET" if route == "stats" else "POST"
    request = urllib.request.Request(
        f"{url}/_emulator/{route}",
        data=body if method == "POST" else None,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    if method == "POST" and body is None:
        request.data = b"{}"
    with urllib.request.urlopen(request, timeout=timeout) as reply:  # loopback only
        return json.loads(reply.read() or b"null")


def free_port() -> int:
    """Return a TCP port free on loopback now (bind to 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def find_mosquitto() -> str:
    """Return the Mosquitto binary (PATH, then /usr/sbin, where Debian puts it)."""
    for candidate in (
        shutil.which("mosquitto"),
        "/usr/sbin/mosquitto",
        "/usr/local/sbin/mosquitto",
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError(
        "mosquitto not found: run bash scripts/bootstrap.sh (apt-get install mosquitto)"
    )


def start_mosquitto(workdir: Path, extra: Sequence[str] = ()) -> tuple[Child, int]:
    """Start a real Mosquitto on a free loopback port, with Mosquitto's defaults.

    The configuration holds only what a listener needs (its port, anonymous clients): every
    other setting is Mosquitto's default, as users run it (no `set_tcp_nodelay`, the default
    `max_queued_messages` 1000, default logging to stderr: errors, warnings, notices and
    information, i.e. one line per connection, not per message). tests/support/mosquitto.py
    logs every packet (`log_type all`), which is right for a test that reads the log and wrong
    for a benchmark. `queue_drops()` reads the log's "Outgoing messages are being dropped"
    notices, so a subscriber that fell behind the broker's default queue is seen. `extra`
    lines (`run.py --broker-conf`, e.g. `set_tcp_nodelay true`) are for diagnosis only.
    """
    port = free_port()
    conf = workdir / "mosquitto.conf"
    lines = [f"listener {port} 127.0.0.1", "allow_anonymous true", *extra]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        lines.append("user root")
    conf.write_text("\n".join(lines) + "\n")
    child = Child(
        "mosquitto", [find_mosquitto(), "-c", str(conf)], workdir / "mosquitto.log", wait_line=""
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return child, port
        except OSError:
            if child.process.poll() is not None:
                break
            time.sleep(0.02)
    child.stop()
    raise RuntimeError(f"mosquitto did not start; see {workdir / 'mosquitto.log'}")


def queue_drops(log_path: Path) -> int:
    """How many times Mosquitto's log says it dropped outgoing messages for a slow client."""
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return 0
    return text.count("Outgoing messages are being dropped")
