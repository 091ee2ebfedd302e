"""The emulator's server and its Python face, :class:`Emulator`.

A real ``ThreadingHTTPServer`` on loopback (HTTPS when given a certificate and key), so the
bridge is tested through its real HTTP stack: connection pooling, keep-alive, TLS trust, timeouts
and dropped connections all behave as they would against the vendor's engine. ``stop()`` also
closes the open keep-alive connections, so a stopped emulator looks stopped to pooled clients,
and ``start()`` after ``stop()`` binds the same port again (a restarted engine).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import ssl
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from econnect_bridge.emulator.engine import Engine
from econnect_bridge.emulator.faults import Faults
from econnect_bridge.emulator.gallery import Gallery, load_gallery, sample_gallery_path
from econnect_bridge.emulator.handler import CLOUD_PREFIX, Handler
from econnect_bridge.emulator.stats import Stats

__all__ = ["Emulator", "EmulatorHTTPServer"]

logger = logging.getLogger("econnect_bridge.emulator")


class EmulatorHTTPServer(ThreadingHTTPServer):
    """A threading HTTP(S) server that knows its open connections and the engine."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        owner: Emulator,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        self.owner = owner
        self.engine, self.faults, self.stats = owner.engine, owner.faults, owner._stats
        self.ssl_context = ssl_context
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS lookup (slow on machines without DNS)."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def finish_request(self, request: Any, client_address: Any) -> None:
        """TLS handshake in the connection's own thread, then serve it while tracked."""
        conn = request
        if self.ssl_context is not None:
            request.settimeout(Handler.timeout)
            try:
                conn = self.ssl_context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as err:
                logger.debug("TLS handshake with %s failed: %s", client_address, err)
                return
        with self._conn_lock:
            self._connections.add(conn)
        try:
            Handler(conn, client_address, self)
        finally:
            with self._conn_lock:
                self._connections.discard(conn)
            if conn is not request:
                conn.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Client hang-ups are routine here (drops, stops); log them quietly."""
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)

    def close_connections(self) -> None:
        """Shut every open connection, so pooled clients see the server go away."""
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def reset(self) -> None:
        """The admin reset: faults off, counters zero, users as in the gallery."""
        self.owner.reset()


class Emulator:
    """The emulated eConnect Identities engine, started and stopped from Python.

    Example:
        >>> with Emulator() as emu:  # doctest: +SKIP
        ...     requests.post(f"{emu.url}/api/v1/authenticate", json={...})
    """

    def __init__(
        self,
        gallery: Gallery | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        certfile: str | Path | None = None,
        keyfile: str | Path | None = None,
        token_lifetime: float | None = None,
    ) -> None:
        self.gallery = gallery or load_gallery(sample_gallery_path())
        self.host = host
        self._port = port
        self._stats = Stats()
        self.faults = Faults()
        self.engine = Engine(self.gallery, self._stats, token_lifetime=token_lifetime)
        self._ssl = _ssl_context(certfile, keyfile)
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (known after the first ``start()`` when created with port 0)."""
        return self._port

    @property
    def url(self) -> str:
        """Base URL of the on-prem style, e.g. ``http://127.0.0.1:54321``."""
        if not self._port:
            raise RuntimeError("the emulator has not been started yet")
        scheme = "https" if self._ssl else "http"
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host  # noqa: S104
        host = f"[{host}]" if ":" in host else host
        return f"{scheme}://{host}:{self._port}"

    @property
    def cloud_url(self) -> str:
        """Base URL of the cloud style, with the ``/identities`` prefix."""
        return self.url + CLOUD_PREFIX

    @property
    def running(self) -> bool:
        """True between ``start()`` and ``stop()``."""
        return self._server is not None

    def start(self) -> Self:
        """Bind (the same port again after a stop) and serve in a background thread."""
        if self._server is not None:
            return self
        server = EmulatorHTTPServer((self.host, self._port), self, self._ssl)
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"emulator-{self._port}",
            daemon=True,
        )
        self._thread.start()
        logger.info("eConnect emulator listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop accepting, close the listening socket and every open connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        self.faults.interrupt()
        if self._thread is not None:
            self._thread.join(timeout=5)
        logger.info("eConnect emulator on port %s stopped", self._port)

    def stats(self) -> dict[str, Any]:
        """The counters, as ``GET /_emulator/stats`` returns them."""
        return self._stats.snapshot()

    def set_user(
        self, username: str, password: str | None = None, permissions: list[str] | None = None
    ) -> None:
        """Change a user's password and/or permissions (or add a user)."""
        self.engine.set_user(username, password, permissions)

    def reset(self) -> None:
        """Faults off, counters zero, users as in the gallery, duplicate window forgotten."""
        self.faults.reset()
        self._stats.reset()
        self.engine.reset()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _ssl_context(certfile: str | Path | None, keyfile: str | Path | None) -> ssl.SSLContext | None:
    if certfile is None and keyfile is None:
        return None
    if certfile is None:
        raise ValueError("keyfile given without certfile")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(certfile), None if keyfile is None else str(keyfile))
    return context
