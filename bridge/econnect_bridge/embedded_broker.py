"""A pure-Python MQTT broker on loopback, so that the demo needs nothing installed by hand.

The tests and benchmarks use a real Mosquitto instead; this one (amqtt) only serves the demo.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any


def free_port() -> int:
    """Return a TCP port that is free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class EmbeddedBroker:
    """amqtt running in its own thread and event loop."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._loop = asyncio.new_event_loop()
        self._broker: Any = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="embedded-broker", daemon=True)

    def start(self, timeout: float = 10.0) -> EmbeddedBroker:
        """Start listening on 127.0.0.1:`port`; raise if the broker cannot start."""
        self._thread.start()
        if not self._started.wait(timeout) or self._error is not None:
            msg = f"the embedded MQTT broker did not start: {self._error}"
            raise RuntimeError(msg)
        return self

    def _serve(self) -> None:
        from amqtt.broker import Broker

        asyncio.set_event_loop(self._loop)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        try:
            self._broker = Broker(config, loop=self._loop)
            self._loop.run_until_complete(self._broker.start())
        except BaseException as err:  # noqa: BLE001 - reported to the starting thread
            self._error = err
            self._started.set()
            return
        self._started.set()
        self._loop.run_forever()

    def stop(self) -> None:
        """Shut the broker down and end its thread."""
        if self._broker is not None:
            future = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
            future.result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
