"""Helpers shared by the tests (standard library only, so they load in every venv)."""

from .mosquitto import (
    MosquittoBroker,
    MosquittoError,
    MosquittoNotInstalledError,
    TlsListener,
    find_mosquitto,
    free_port,
)

__all__ = [
    "MosquittoBroker",
    "MosquittoError",
    "MosquittoNotInstalledError",
    "TlsListener",
    "find_mosquitto",
    "free_port",
]
