"""The HTTP request handler: routing, the ``/identities`` prefix, faults, and byte moving.

Routes are matched case-insensitively (the vendor's engine is an ASP.NET service, whose routes
are) and also under ``/identities`` so a test can use the cloud-style base URL. The engine
decides every answer; this module only reads the request, applies the faults around the publish
endpoints and writes the reply with a Content-Length so keep-alive connections stay usable.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import time
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from econnect_bridge.emulator.engine import Reply
from econnect_bridge.emulator.faults import DROP, shape_success

if TYPE_CHECKING:
    from econnect_bridge.emulator.server import EmulatorHTTPServer

__all__ = ["CLOUD_PREFIX", "Handler"]

logger = logging.getLogger("econnect_bridge.emulator")

CLOUD_PREFIX = "/identities"
PUBLISH = frozenset({"publish", "publishWithResponse"})
_ROUTES: dict[str, dict[str, str]] = {
    "/api/v1/authenticate": {"POST": "authenticate"},
    "/api/v1/renewtoken": {"GET": "renewToken"},
    "/api/v1/faceedge/publishwithresponse": {"POST": "publishWithResponse"},
    "/api/v1/faceedge/publish": {"POST": "publish"},
    "/api/v1/tags": {"GET": "Tags"},
    "/api/v1/people": {"GET": "people"},
    "/_emulator/faults": {"GET": "admin-faults", "POST": "admin-faults"},
    "/_emulator/stats": {"GET": "admin-stats"},
    "/_emulator/users": {"POST": "admin-users"},
    "/_emulator/reset": {"POST": "admin-reset"},
}
_PERSON = re.compile(r"/api/v1/people/([^/]+)", re.IGNORECASE)
_SLOW_CHUNKS = 20


def _route(method: str, path: str) -> tuple[str | None, str | None, set[str]]:
    """``(endpoint, personId, allowed methods)`` for a path; endpoint None = no match."""
    if path.lower().startswith(CLOUD_PREFIX + "/"):
        path = path[len(CLOUD_PREFIX) :]
    path = path.rstrip("/") or "/"
    methods = _ROUTES.get(path.lower())
    if methods is not None:
        return methods.get(method), None, set(methods)
    person = _PERSON.fullmatch(path)
    if person is not None:
        return ("people" if method == "GET" else None), person.group(1), {"GET"}
    return None, None, set()


class Handler(BaseHTTPRequestHandler):
    """One connection (keep-alive: many requests) to the emulated engine."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # without TCP_NODELAY each keep-alive call waits ~40 ms
    server_version = "econnect-emulator/1"
    timeout = 120  # idle keep-alive connections are closed after this many seconds
    server: EmulatorHTTPServer

    def do_GET(self) -> None:
        """Dispatch a GET."""
        self._handle("GET")

    def do_POST(self) -> None:
        """Dispatch a POST."""
        self._handle("POST")

    def do_PUT(self) -> None:
        """Answer 404/405 for PUT (no emulated route takes it)."""
        self._handle("PUT")

    def do_DELETE(self) -> None:
        """Answer 404/405 for DELETE (no emulated route takes it)."""
        self._handle("DELETE")

    def do_PATCH(self) -> None:
        """Answer 404/405 for PATCH (no emulated route takes it)."""
        self._handle("PATCH")

    def log_message(self, format: str, *args: Any) -> None:
        """Route the stdlib's access log to logging (paths only; tokens are in headers)."""
        logger.debug("%s %s", self.address_string(), format % args)

    def _handle(self, method: str) -> None:
        body = self._read_body()
        if body is None:
            return
        url = urlsplit(self.path)
        query = {k.lower(): v for k, v in parse_qsl(url.query)}
        endpoint, person_id, allowed = _route(method, url.path)
        if endpoint is None:
            self._no_route(allowed)
        elif endpoint.startswith("admin-"):
            self._send(self._admin(endpoint, body), "admin")
        elif endpoint in PUBLISH:
            self._publish(endpoint, body)
        else:
            self._send(self._api(endpoint, body, query, person_id), endpoint)

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            self._send(Reply.text(411, "Send a Content-Length"), "unknown")
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._send(Reply.text(400, "Bad Content-Length"), "unknown")
            return None
        return self.rfile.read(length) if length else b""

    def _no_route(self, allowed: set[str]) -> None:
        if allowed:
            allow = ("Allow", ", ".join(sorted(allowed)))
            self._send(Reply.text(405, "Method not allowed", allow), "unknown")
        else:
            self._send(Reply.text(404, "Not found"), "unknown")

    def _api(
        self, endpoint: str, body: bytes, query: dict[str, str], person_id: str | None
    ) -> Reply:
        engine, auth = self.server.engine, self.headers.get("Authorization")
        if endpoint == "authenticate":
            return engine.authenticate(body)
        if endpoint == "renewToken":
            return engine.renew(auth)
        if endpoint == "Tags":
            return engine.tags(auth, query)
        return engine.people(auth, query, person_id)

    def _publish(self, endpoint: str, body: bytes) -> None:
        faults, stats = self.server.faults, self.server.stats
        with faults.capacity_slot(), stats.publish_in_flight():
            faults.wait_while_hanging()
            faults.delay()
            outcome = faults.decide()
            if outcome == DROP:
                self.close_connection = True
                stats.record_request(endpoint, "dropped")
                return
            if isinstance(outcome, int):
                reply = Reply.text(outcome, f"Emulated fault: HTTP {outcome}")
            else:
                reply = self.server.engine.publish(
                    body, self.headers.get("Authorization"), endpoint
                )
            settings = faults.settings
            if reply.status == 200:
                shaped, content_type = shape_success(reply.body, endpoint, settings)
                reply = Reply(200, shaped, content_type if shaped else "", reply.headers)
            self._send(reply, endpoint, settings.slow_body_ms)

    def _admin(self, endpoint: str, body: bytes) -> Reply:
        if not ipaddress.ip_address(self.client_address[0]).is_loopback:
            return Reply.text(403, "The emulator's admin routes answer loopback clients only")
        server = self.server
        try:
            data = json.loads(body) if body else {}
            if not isinstance(data, dict):
                raise ValueError("send a JSON object")
            if endpoint == "admin-faults":
                server.faults.update(**data)
                return Reply.json(server.faults.snapshot())
            if endpoint == "admin-users":
                return self._set_user(data)
        except (ValueError, KeyError, TypeError) as err:
            return Reply.text(400, f"Bad admin request: {err}")
        if endpoint == "admin-reset":
            server.reset()
            return Reply.json({})
        return Reply.json(server.stats.snapshot())

    def _set_user(self, data: dict[str, Any]) -> Reply:
        username, password, perms = data["username"], data.get("password"), data.get("permissions")
        if not isinstance(username, str) or not isinstance(password, str | None):
            raise TypeError("username and password must be strings")
        if perms is not None and not (
            isinstance(perms, list) and all(isinstance(p, str) for p in perms)
        ):
            raise TypeError("permissions must be a list of names")
        self.server.engine.set_user(username, password, perms)
        return Reply.json({"username": username})

    def _send(self, reply: Reply, endpoint: str, slow_ms: float = 0.0) -> None:
        # counted before the bytes leave, so a client that reads the stats next sees this call
        self.server.stats.record_request(endpoint, reply.status)
        self.send_response(reply.status)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        if slow_ms <= 0:
            self.end_headers()
            self.wfile.write(reply.body)
        else:
            self._send_slowly(reply.body, slow_ms)

    def _send_slowly(self, body: bytes, slow_ms: float) -> None:
        """Headers now, then the body in small pieces spread over ``slow_ms``."""
        self.end_headers()
        chunks = max(1, min(len(body), _SLOW_CHUNKS))
        size = -(-len(body) // chunks) if body else 0
        for index in range(chunks):
            time.sleep(slow_ms / 1000 / chunks)
            self.wfile.write(body[index * size : (index + 1) * size])
            self.wfile.flush()
