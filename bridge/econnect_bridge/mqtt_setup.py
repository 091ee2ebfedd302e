"""How the bridge's paho clients are set up, and what a failed connection means in words.

Shared by the long-lived connection (`mqtt.py`) and `doctor`'s one-off sessions, so that both
log in, verify TLS and explain a failure the same way.
"""

from __future__ import annotations

import logging
import socket
import ssl
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from econnect_bridge.config.model import MqttConfig
from econnect_identities.errors import strict_tls_advice

__all__ = [
    "PahoLog",
    "apply_credentials",
    "default_client_id",
    "describe_connect_error",
    "keeps_session",
    "refusal_fix",
]


def keeps_session(settings: MqttConfig) -> bool:
    """Return whether to ask the broker for a persistent session.

    Not with a shared group: Mosquitto keeps an offline member's persistent session in the
    group's rotation and queues every n-th snapshot for a dead instance. With a clean session a
    dead member leaves the group, and the live ones get everything.
    """
    return settings.persistent_session and not settings.shared_group


def describe_connect_error(err: BaseException | None) -> str:
    """Explain a failed connection attempt for the log (never shows a password)."""
    if isinstance(err, ssl.SSLCertVerificationError):
        advice = strict_tls_advice(err.verify_message or str(err))
        if advice is not None:
            return (
                f"the broker's TLS certificate was refused: {advice}. The bridge never falls "
                "back to unencrypted MQTT"
            )
        return (
            f"the broker's TLS certificate is not trusted ({err.verify_message}); set "
            "mqtt.tls.ca_file to the CA that signed it. The bridge never falls back to "
            "unencrypted MQTT"
        )
    if isinstance(err, ssl.SSLError):
        return f"TLS handshake failed ({err.reason or err}); check mqtt.port and mqtt.tls"
    if isinstance(err, ConnectionRefusedError):
        return "connection refused (is the broker running, is mqtt.port right?)"
    if err is None:
        return "unknown error"
    return f"{type(err).__name__}: {err}"


def apply_credentials(client: mqtt.Client, settings: MqttConfig) -> None:
    """Set the login and TLS of a paho client (the bridge's and `doctor`'s, the same way).

    TLS always verifies the broker's certificate (CERT_REQUIRED); there is no fallback to
    plain MQTT. `tls.insecure` only skips the host-name check, as paho defines it.
    """
    if settings.username:
        password = settings.password.reveal() if settings.password else None
        client.username_pw_set(settings.username, password)
    tls = settings.tls
    if tls.enabled:
        client.tls_set(
            ca_certs=str(tls.ca_file) if tls.ca_file else None,
            certfile=str(tls.certfile) if tls.certfile else None,
            keyfile=str(tls.keyfile) if tls.keyfile else None,
            cert_reqs=ssl.CERT_REQUIRED,
        )
        client.tls_insecure_set(tls.insecure)


class PahoLog(logging.LoggerAdapter[logging.Logger]):
    """paho's own log, at DEBUG, except an exception it caught in one of our callbacks.

    paho reports at ERROR what the bridge already says once, in words a user can act on, per
    state change ("Disconnected from MQTT broker ...", "Cannot connect ..."): e.g. "Client is
    not connected. Socket: None" on every loop turn while the broker is down, or "failed to
    receive on socket" when it goes away. Our callbacks never raise; if one did, that is a bug
    to see. A logger (not paho's `on_log` callback) lets paho skip formatting its per-packet
    lines when DEBUG is off: it checks the level first.
    """

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        """Demote every line but a caught exception to DEBUG."""
        caught = level >= logging.ERROR and str(msg).startswith("Caught exception")
        self.logger.log(logging.ERROR if caught else logging.DEBUG, msg, *args, **kwargs)

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - the logging API's name
        """Answer for the level the line will really have."""
        return self.logger.isEnabledFor(logging.DEBUG) or level >= logging.ERROR


def refusal_fix(refusal: ReasonCode) -> str:
    """Say what to change when the broker refuses the connection."""
    if "protocol" in str(refusal).lower():
        return "this broker does not speak MQTT 5: set mqtt.protocol: '3.1.1'"
    return "check mqtt.username, mqtt.password and the broker's ACL"


def default_client_id(base_topic: str) -> str:
    """Return a client id that is stable across restarts (persistent sessions need that)."""
    host = "".join(ch if ch.isalnum() else "-" for ch in socket.gethostname())[:40]
    return f"econnect-bridge-{host}-{base_topic.replace('/', '-')}"
