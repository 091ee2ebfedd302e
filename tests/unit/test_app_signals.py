"""SIGTERM must stop the bridge whatever the main thread holds when it arrives."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from econnect_bridge.app import BridgeApp
from econnect_bridge.config import load_config

CONFIG = """\
api: {url: "http://127.0.0.1:9", username: u, password: p}
mqtt: {host: 127.0.0.1, port: 9}
cameras: [{name: porch, topic: cameras/porch/snapshot}]
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[BridgeApp]:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    previous = signal.getsignal(signal.SIGTERM)
    bridge = BridgeApp(load_config(path, environ={}))
    bridge._install_signal_handlers()
    try:
        yield bridge
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_the_handler_takes_no_lock_the_main_thread_may_hold(app: BridgeApp) -> None:
    # Python runs a handler between two bytecodes of the main thread; here that thread is
    # inside the control queue's get(), holding its mutex. A handler that needs the mutex
    # would wait for itself forever: SIGTERM would hang the bridge.
    handler = signal.getsignal(signal.SIGTERM)
    assert callable(handler)
    returned = threading.Event()

    def deliver() -> None:
        handler(signal.SIGTERM, None)
        returned.set()

    with app.control._events.mutex:
        thread = threading.Thread(target=deliver, daemon=True)
        thread.start()
        handled = returned.wait(1.0)
    thread.join(5)
    assert handled, "the signal handler waited for a lock the main thread held"
    assert app._signalled.is_set()


def test_a_signal_before_the_loop_starts_still_stops_it(app: BridgeApp) -> None:
    handler = signal.getsignal(signal.SIGTERM)
    assert callable(handler)
    handler(signal.SIGTERM, None)
    done = threading.Event()
    thread = threading.Thread(target=lambda: (app.control.run(app._signalled), done.set()))
    thread.start()
    assert done.wait(2.0), "the control loop did not see the signal"
    thread.join()
