"""A real Mosquitto broker on a free loopback port, for tests.

Example:
    >>> with MosquittoBroker(users={"alice": "s3cret"}, allow_anonymous=False) as broker:
    ...     client.username_pw_set("alice", "s3cret")
    ...     client.connect(broker.host, broker.port)

Each broker has its own directory (a temporary one, or the ``workdir`` given) holding
``mosquitto.conf``, the password and ACL files, the persistence database and ``mosquitto.log``
(the broker's stdout and stderr, appended to across restarts). The ports are chosen once, so
``stop()``/``kill()`` followed by ``start()`` brings the broker back on the same address, which
is what reconnection tests need.

Only the standard library is used, so this module also loads in the Home Assistant venv.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

__all__ = [
    "MosquittoBroker",
    "MosquittoError",
    "MosquittoNotInstalledError",
    "TlsListener",
    "find_mosquitto",
    "find_mosquitto_passwd",
    "free_port",
]

LOOPBACK = "127.0.0.1"
_SBIN = Path("/usr/sbin")
_BIN = Path("/usr/bin")
_INSTALL_HINT = "install it with: bash scripts/bootstrap.sh (or apt-get install mosquitto)"

# Brokers that are running, so that none outlives the test process.
_RUNNING: weakref.WeakSet[MosquittoBroker] = weakref.WeakSet()


class MosquittoError(RuntimeError):
    """The broker could not be configured, started or stopped."""


class MosquittoNotInstalledError(MosquittoError):
    """No ``mosquitto`` (or ``mosquitto_passwd``) binary was found."""


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port that is free on ``host`` right now.

    The port is found by binding to port 0 and closing the socket, so another process could
    take it before the caller does; on a test machine that is rare enough.

    Args:
        host: The address to check the port on.

    Returns:
        A port number.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _find_binary(name: str, *fallbacks: Path) -> Path:
    found = shutil.which(name)
    if found:
        return Path(found)
    for candidate in fallbacks:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise MosquittoNotInstalledError(f"{name} not found on PATH nor in /usr/sbin; {_INSTALL_HINT}")


def find_mosquitto() -> Path:
    """Return the path of the ``mosquitto`` binary (PATH, then ``/usr/sbin/mosquitto``).

    Raises:
        MosquittoNotInstalledError: Mosquitto is not installed.
    """
    return _find_binary("mosquitto", _SBIN / "mosquitto", Path("/usr/local/sbin/mosquitto"))


def find_mosquitto_passwd() -> Path:
    """Return the path of ``mosquitto_passwd`` (PATH, next to ``mosquitto``, ``/usr/bin``).

    Raises:
        MosquittoNotInstalledError: The tool is not installed.
    """
    beside = find_mosquitto().parent / "mosquitto_passwd"
    return _find_binary("mosquitto_passwd", beside, _BIN / "mosquitto_passwd")


@dataclass(frozen=True)
class TlsListener:
    """Files for a TLS listener (PEM). Clients verify the broker with ``cafile``.

    Attributes:
        cafile: CA certificate(s); also used to verify client certificates when required.
        certfile: The broker's certificate.
        keyfile: The broker's private key.
        require_certificate: Ask clients for a certificate signed by ``cafile``.
        port: The port of the TLS listener; a free one when ``None``.
    """

    cafile: Path
    certfile: Path
    keyfile: Path
    require_certificate: bool = False
    port: int | None = None


class MosquittoBroker:
    """A Mosquitto process listening on loopback, configured for one test (or session).

    Args:
        port: Port of the plain MQTT listener; a free one when ``None``.
        host: Address the listeners bind to.
        users: User name → password, written with ``mosquitto_passwd`` to a password file.
        allow_anonymous: Accept clients without a user name. Defaults to ``True`` even with
            ``users`` (wrong credentials are still refused); pass ``False`` to require a login.
        acl: Text of an ACL file (``user alice`` / ``topic readwrite cameras/#`` ...).
        tls: Adds a TLS listener (see :class:`TlsListener`) beside the plain one.
        persistence: Keep retained messages, subscriptions and queued messages across restarts
            in ``persistence_path`` (saved on a clean ``stop()``, or every ``autosave_interval``).
        autosave_interval: Seconds between saves of the persistence database.
        max_queued_messages: Per-client queue limit while offline (Mosquitto's default: 1000).
        extra_config: More lines for ``mosquitto.conf``.
        workdir: Directory for the configuration, data and log; kept after ``close()``. A
            temporary directory (removed by ``close()``) when ``None``.
        startup_timeout: Seconds to wait for the listeners to accept connections.
        start: Start the broker now (otherwise call :meth:`start` or use ``with``).
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        host: str = LOOPBACK,
        users: Mapping[str, str] | None = None,
        allow_anonymous: bool = True,
        acl: str | None = None,
        tls: TlsListener | None = None,
        persistence: bool = False,
        autosave_interval: int | None = None,
        max_queued_messages: int | None = None,
        extra_config: Sequence[str] = (),
        workdir: Path | None = None,
        startup_timeout: float = 10.0,
        start: bool = False,
    ) -> None:
        self.binary: Path = find_mosquitto()
        self.host: str = host
        self.port: int = port if port is not None else free_port(host)
        self.tls: TlsListener | None = tls
        self.tls_port: int | None = None
        if tls is not None:
            self.tls_port = tls.port if tls.port is not None else free_port(host)
        self.users: dict[str, str] = dict(users or {})
        self.allow_anonymous = allow_anonymous
        self.acl = acl
        self.persistence = persistence
        self.autosave_interval = autosave_interval
        self.max_queued_messages = max_queued_messages
        self.extra_config: tuple[str, ...] = tuple(extra_config)
        self.startup_timeout = startup_timeout

        self._owns_dir = workdir is None
        self.workdir: Path = (
            Path(tempfile.mkdtemp(prefix="mosquitto-")) if workdir is None else Path(workdir)
        )
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path: Path = self.workdir / "mosquitto.conf"
        self.log_path: Path = self.workdir / "mosquitto.log"
        self.password_path: Path | None = self.workdir / "passwd" if self.users else None
        self.acl_path: Path | None = self.workdir / "acl" if acl is not None else None
        self.persistence_path: Path = self.workdir / "data"

        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._write_files()
        if start:
            self.start()

    # ------------------------------------------------------------------ configuration

    def _write_files(self) -> None:
        if self.password_path is not None:
            self._write_password_file(self.password_path)
        if self.acl_path is not None and self.acl is not None:
            self.acl_path.write_text(self.acl.rstrip("\n") + "\n", encoding="utf-8")
            self.acl_path.chmod(0o600)
        if self.persistence:
            self.persistence_path.mkdir(exist_ok=True)
        self.config_path.write_text(self.config_text(), encoding="utf-8")

    def _write_password_file(self, path: Path) -> None:
        tool = find_mosquitto_passwd()
        path.unlink(missing_ok=True)
        for index, (user, password) in enumerate(self.users.items()):
            args = [str(tool), "-b"]
            if index == 0:
                args.append("-c")
            args += [str(path), user, password]
            result = subprocess.run(args, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise MosquittoError(
                    f"mosquitto_passwd failed for user {user!r}: {result.stderr or result.stdout}"
                )
        path.chmod(0o600)

    def config_text(self) -> str:
        """Return the text of ``mosquitto.conf`` for this broker's options."""
        lines = [
            "# Written by tests/support/mosquitto.py",
            "per_listener_settings false",
            f"allow_anonymous {'true' if self.allow_anonymous else 'false'}",
            "log_dest stderr",
            "log_type all",
            "connection_messages true",
            "log_timestamp true",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            # As root Mosquitto would switch to the `mosquitto` user, who cannot read our files.
            lines.append("user root")
        if self.password_path is not None:
            lines.append(f"password_file {self.password_path}")
        if self.acl_path is not None:
            lines.append(f"acl_file {self.acl_path}")
        if self.persistence:
            lines += [
                "persistence true",
                f"persistence_location {self.persistence_path}/",
                "persistence_file mosquitto.db",
            ]
            if self.autosave_interval is not None:
                lines.append(f"autosave_interval {self.autosave_interval}")
        else:
            lines.append("persistence false")
        if self.max_queued_messages is not None:
            lines.append(f"max_queued_messages {self.max_queued_messages}")
        lines += ["", f"listener {self.port} {self.host}"]
        if self.tls is not None:
            lines += [
                "",
                f"listener {self.tls_port} {self.host}",
                f"cafile {self.tls.cafile}",
                f"certfile {self.tls.certfile}",
                f"keyfile {self.tls.keyfile}",
                f"require_certificate {'true' if self.tls.require_certificate else 'false'}",
            ]
        if self.extra_config:
            lines += ["", *self.extra_config]
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ addresses

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` of the plain listener."""
        return (self.host, self.port)

    @property
    def url(self) -> str:
        """``mqtt://host:port`` of the plain listener."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def tls_url(self) -> str:
        """``mqtts://host:port`` of the TLS listener.

        Raises:
            MosquittoError: The broker has no TLS listener.
        """
        if self.tls_port is None:
            raise MosquittoError("this broker has no TLS listener (pass tls=TlsListener(...))")
        return f"mqtts://{self.host}:{self.tls_port}"

    @property
    def ports(self) -> tuple[int, ...]:
        """Every listening port (plain first, then TLS)."""
        return (self.port,) if self.tls_port is None else (self.port, self.tls_port)

    # ------------------------------------------------------------------ life cycle

    @property
    def pid(self) -> int | None:
        """The process id while running, else ``None``."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    @property
    def is_running(self) -> bool:
        """Whether the Mosquitto process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        """Start Mosquitto (again, on the same ports) and wait until every listener accepts.

        Returns:
            The broker, for chaining.

        Raises:
            MosquittoError: The process exited or did not listen within ``startup_timeout``.
        """
        if self.is_running:
            return self
        self._close_log()
        self._log_file = self.log_path.open("ab")
        self._log_file.write(f"--- test harness: starting {self.binary} ---\n".encode())
        self._log_file.flush()
        self._process = subprocess.Popen(
            [str(self.binary), "-c", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
        )
        _RUNNING.add(self)
        try:
            self._wait_until_listening()
        except BaseException:
            self.kill()
            raise
        return self

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        pending = list(self.ports)
        while pending:
            process = self._process
            if process is None or process.poll() is not None:
                code = None if process is None else process.returncode
                raise MosquittoError(
                    f"mosquitto exited with code {code} while starting; its log:\n"
                    + self.log_text()
                )
            try:
                with socket.create_connection((self.host, pending[0]), timeout=0.5):
                    pending.pop(0)
                    continue
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise MosquittoError(
                    f"mosquitto did not listen on {self.host}:{pending[0]} within "
                    f"{self.startup_timeout} s; its log:\n" + self.log_text()
                )
            time.sleep(0.02)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop Mosquitto cleanly (SIGTERM; it saves persistence), SIGKILL after ``timeout``."""
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._after_exit()

    def kill(self) -> None:
        """Kill Mosquitto at once (SIGKILL): clients see the connection drop, nothing is saved."""
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        self._after_exit()

    def restart(self) -> Self:
        """``stop()`` then ``start()`` on the same ports.

        Returns:
            The broker, for chaining.
        """
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop the broker and remove its directory unless it was given as ``workdir``."""
        self.stop()
        if self._owns_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _after_exit(self) -> None:
        _RUNNING.discard(self)
        self._close_log()

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    # ------------------------------------------------------------------ log

    def log_text(self) -> str:
        """Return everything Mosquitto has logged so far (all runs of this broker)."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, text: str, timeout: float = 5.0) -> str:
        """Wait until ``text`` appears in the log.

        Args:
            text: A substring to look for, e.g. ``"New client connected"``.
            timeout: Seconds to wait.

        Returns:
            The whole log at the time ``text`` was seen.

        Raises:
            MosquittoError: ``text`` did not appear within ``timeout``.
        """
        deadline = time.monotonic() + timeout
        while True:
            log = self.log_text()
            if text in log:
                return log
            if time.monotonic() > deadline:
                raise MosquittoError(f"{text!r} not in the mosquitto log after {timeout} s:\n{log}")
            time.sleep(0.02)

    # ------------------------------------------------------------------ context manager

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.is_running else "stopped"
        tls = f", tls port {self.tls_port}" if self.tls_port is not None else ""
        return f"<MosquittoBroker {self.host}:{self.port}{tls} {state}>"


@atexit.register
def _kill_leftovers() -> None:
    for broker in list(_RUNNING):
        broker.kill()
        if broker._owns_dir:
            shutil.rmtree(broker.workdir, ignore_errors=True)
