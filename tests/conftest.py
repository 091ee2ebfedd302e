"""Fixtures shared by every test directory (tests/unit, tests/integration, tests/ha).

Mosquitto:
    ``mosquitto``           a started broker for one test (anonymous, no persistence)
    ``mosquitto_session``   one broker shared by the whole session (do not stop it)
    ``mosquitto_factory``   ``mosquitto_factory(users=..., acl=..., tls=..., persistence=...)``
                            makes more started brokers, all closed after the test
    ``free_port``           ``free_port()`` returns a free TCP port on 127.0.0.1

This file is also loaded by the Home Assistant venv (``pytest tests/ha``), which has neither the
dev extras nor Pillow: keep imports at module level to the standard library, pytest and
``tests.support``, and import anything else inside the fixtures that need it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# `tests.support` must import however pytest is started (`pytest`, `python -m pytest`, from any
# directory, with or without tests/__init__.py): put the repository root on sys.path.
_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from tests.support.mosquitto import (  # noqa: E402
    MosquittoBroker,
    MosquittoNotInstalledError,
    find_mosquitto,
)
from tests.support.mosquitto import free_port as _free_port  # noqa: E402


def _require_mosquitto() -> None:
    """Fail (never skip) when Mosquitto is missing: the test command must install it."""
    try:
        find_mosquitto()
    except MosquittoNotInstalledError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture
def free_port() -> Callable[[], int]:
    """Return a function giving a free TCP port on 127.0.0.1 each time it is called."""
    return _free_port


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A started Mosquitto for one test: anonymous, no persistence, log in tmp_path/mosquitto."""
    _require_mosquitto()
    broker = MosquittoBroker(workdir=tmp_path / "mosquitto")
    with broker:
        yield broker


@pytest.fixture(scope="session")
def mosquitto_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    """One started Mosquitto for the whole session. Tests must not stop it; use own topics."""
    _require_mosquitto()
    broker = MosquittoBroker(workdir=tmp_path_factory.mktemp("mosquitto-session"))
    with broker:
        yield broker


@pytest.fixture
def mosquitto_factory(tmp_path: Path) -> Iterator[Callable[..., MosquittoBroker]]:
    """Make started brokers with options (see MosquittoBroker); all are closed after the test.

    Example: ``broker = mosquitto_factory(users={"alice": "pw"}, allow_anonymous=False)``.
    """
    _require_mosquitto()
    brokers: list[MosquittoBroker] = []

    def make(**options: Any) -> MosquittoBroker:
        options.setdefault("workdir", tmp_path / f"mosquitto-{len(brokers)}")
        broker = MosquittoBroker(**options)
        brokers.append(broker)
        return broker.start()

    yield make
    for broker in brokers:
        broker.close()


# --- emulator fixtures ---
# (Import Pillow and econnect_bridge.emulator inside the fixtures, not at module level: this file
# is also loaded by the Home Assistant venv.)
