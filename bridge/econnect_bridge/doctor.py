"""`econnect-bridge doctor -c FILE`: check the broker, the engine and the topics; say how to fix.

`check-config` only reads the file. Most set-up problems are elsewhere: a broker that refuses
the password, an ACL that silently drops the bridge's messages, an engine user without the
"Face Publishing" permission, a Frigate that publishes nothing on the configured topic. The
doctor tries each of these for real, with its own short-lived connections (never the running
bridge's), and prints one line per check with the fix for anything wrong.

What it cannot know is said too: a topic with no traffic for a few seconds may just mean that
nobody walked past a camera, and the engine only reveals the include-section permissions it
has a read endpoint for.
"""

from __future__ import annotations

import secrets
import socket
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from econnect_bridge.app import engine_client
from econnect_bridge.client import EconnectClient
from econnect_bridge.config.model import BridgeConfig, MqttConfig
from econnect_bridge.doctor_findings import MARKS, Finding, Status
from econnect_bridge.doctor_frigate import check_frigate
from econnect_bridge.mqtt import apply_credentials
from econnect_bridge.sources import sources_from_config
from econnect_bridge.states import Topics
from econnect_identities.errors import (
    STRICT_TLS_DOCS,
    EconnectAuthenticationError,
    EconnectConnectionError,
    EconnectError,
    EconnectPermissionError,
    EconnectSchemeError,
    EconnectStrictTLSError,
    EconnectTLSError,
    strict_tls_advice,
)
from econnect_identities.models import PublishOptions

DETECTOR: Final = "econnect-doctor"
ROUND_TRIP_TIMEOUT: Final = 5.0


def _png(width: int, height: int, grey: int) -> bytes:
    """Encode a uniform grey PNG with the standard library (no Pillow in a slim install)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = b"".join(b"\x00" + bytes([grey]) * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


#: The built-in test image: 64x64 plain grey, so no engine can find a face in it.
NO_FACE_PNG: Final = _png(64, 64, 128)


@dataclass
class DoctorOptions:
    """How long to listen on the camera topics, and whether to send the test image."""

    listen: float = 3.0
    publish_test_image: bool = True


# -- the broker -------------------------------------------------------------------------------


@dataclass
class _Received:
    topic: str
    retain: bool


@dataclass
class _Session:
    """A paho client with its callbacks turned into events and lists the checks can wait on."""

    client: mqtt.Client
    connected: threading.Event = field(default_factory=threading.Event)
    refused: ReasonCode | None = None
    subacks: dict[int, list[ReasonCode]] = field(default_factory=dict)
    suback_event: threading.Condition = field(default_factory=threading.Condition)
    messages: list[_Received] = field(default_factory=list)
    payloads: dict[str, bytes] = field(default_factory=dict)


def _new_session(settings: MqttConfig) -> _Session:
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"{DETECTOR}-{secrets.token_hex(4)}",
        protocol=mqtt.MQTTv5 if settings.protocol == "5" else mqtt.MQTTv311,
    )
    apply_credentials(client, settings)
    session = _Session(client)
    client.on_connect = _connect_handler(session)
    client.on_subscribe = _subscribe_handler(session)
    client.on_message = _message_handler(session)
    return session


def _connect_handler(session: _Session) -> Callable[..., None]:
    """Record the CONNACK: success sets `connected`, a refusal keeps its reason code."""

    def on_connect(_c: Any, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        if reason.is_failure:
            session.refused = reason
        session.connected.set()

    return on_connect


def _subscribe_handler(session: _Session) -> Callable[..., None]:
    """Record each SUBACK's reason codes (a failure code is a refused subscription)."""

    def on_subscribe(_c: Any, _u: Any, mid: int, codes: list[ReasonCode], _p: Any) -> None:
        with session.suback_event:
            session.subacks[mid] = list(codes)
            session.suback_event.notify_all()

    return on_subscribe


def _message_handler(session: _Session) -> Callable[..., None]:
    """Record every message's topic and retain flag (payloads only for small text ones)."""

    def on_message(_c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        session.messages.append(_Received(msg.topic, bool(msg.retain)))
        if len(msg.payload) < 256:
            session.payloads[msg.topic] = bytes(msg.payload)

    return on_message


def _connect_fix(settings: MqttConfig, err: BaseException | ReasonCode) -> str:
    """Say what to change for each way a broker connection fails."""
    text = str(err).lower()
    where = f"mqtt.host ({settings.host}) and mqtt.port ({settings.port})"
    if isinstance(err, ReasonCode):
        if "not authorized" in text or "bad user name" in text or "password" in text:
            return (
                "check mqtt.username and mqtt.password (a user the broker knows; with the "
                "Mosquitto app, a Home Assistant user or one listed in its logins)"
            )
        return "see the broker's log for why it refused the connection"
    if isinstance(err, ssl.SSLError):
        strict = strict_tls_advice(f"{getattr(err, 'verify_message', '')} {err}")
        if strict is not None:
            return f"the broker's CA is trusted, but its certificates must change: {strict}"
        return "set mqtt.tls.ca_file to the CA that signed the broker's certificate"
    if isinstance(err, socket.gaierror):
        return f"the host name does not resolve: check {where}"
    if isinstance(err, ConnectionRefusedError):
        return f"nothing listens there: is the broker running? check {where}"
    return f"check {where}, and that no firewall is in the way"


@contextmanager
def _broker_session(settings: MqttConfig, found: list[Finding]) -> Iterator[_Session | None]:
    """Connect once for all broker checks; yield None (after a FAIL finding) when impossible."""
    session = _new_session(settings)
    where = f"{settings.host}:{settings.port}"
    try:
        session.client.connect(settings.host, settings.port, keepalive=30)
    except (OSError, ValueError) as err:
        fix = _connect_fix(settings, err)
        found.append(Finding("broker", "connect", "fail", f"cannot reach {where}: {err}", fix))
        yield None
        return
    session.client.loop_start()
    try:
        yield _after_connack(session, settings, where, found)
    finally:
        session.client.disconnect()
        session.client.loop_stop()


def _after_connack(
    session: _Session, settings: MqttConfig, where: str, found: list[Finding]
) -> _Session | None:
    if not session.connected.wait(ROUND_TRIP_TIMEOUT):
        detail = f"{where} accepted TCP but sent no CONNACK in {ROUND_TRIP_TIMEOUT:.0f} s"
        fix = "is this an MQTT port? (TLS on 8883 needs mqtt.tls.enabled: true)"
        found.append(Finding("broker", "connect", "fail", detail, fix))
        return None
    if session.refused is not None:
        detail = f"{where} refused the connection: {session.refused}"
        found.append(
            Finding("broker", "connect", "fail", detail, _connect_fix(settings, session.refused))
        )
        return None
    user = f" as {settings.username}" if settings.username else " anonymously"
    detail = f"connected to {where}{user} (MQTT {settings.protocol})"
    found.append(Finding("broker", "connect", "ok", detail))
    return session


def _subscribe(session: _Session, topic_filter: str, qos: int = 1) -> list[ReasonCode] | None:
    """Subscribe and wait for the SUBACK; None when none came in time."""
    rc, mid = session.client.subscribe(topic_filter, qos=qos)
    if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or mid is None:
        return None
    with session.suback_event:
        session.suback_event.wait_for(lambda: mid in session.subacks, ROUND_TRIP_TIMEOUT)
        return session.subacks.get(mid)


def _round_trip(session: _Session, topics: Topics, found: list[Finding]) -> None:
    """Publish on a private topic and wait to receive it: proves both ACL directions."""
    topic = f"{topics.base}/doctor/{secrets.token_hex(6)}"
    codes = _subscribe(session, topic)
    if not codes or any(code.is_failure for code in codes):
        detail = f"the broker refused the subscription to {topic}"
        fix = f"allow this user to read {topics.base}/# in the broker's ACL"
        found.append(Finding("broker", "round trip", "fail", detail, fix))
        return
    started = time.perf_counter()
    session.client.publish(topic, b"ping", qos=1)
    deadline = time.monotonic() + ROUND_TRIP_TIMEOUT
    while time.monotonic() < deadline:
        if any(m.topic == topic for m in session.messages):
            ms = (time.perf_counter() - started) * 1000
            detail = f"published and received a message on {topic} in {ms:.0f} ms"
            found.append(Finding("broker", "round trip", "ok", detail))
            session.client.unsubscribe(topic)
            return
        time.sleep(0.01)
    detail = f"a message published on {topic} never came back in {ROUND_TRIP_TIMEOUT:.0f} s"
    fix = f"allow this user to write {topics.base}/# in the broker's ACL (Mosquitto drops silently)"
    found.append(Finding("broker", "round trip", "fail", detail, fix))


# -- the topics -------------------------------------------------------------------------------


def valid_filter(topic_filter: str) -> str | None:
    """Return why an MQTT topic filter is invalid, or None when it is valid."""
    if not topic_filter:
        return "it is empty"
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return "'#' must be a whole level and the last one"
        if "+" in level and level != "+":
            return "'+' must be a whole level"
    if "\x00" in topic_filter:
        return "it contains a NUL character"
    return None


def _check_topics(
    session: _Session, config: BridgeConfig, listen: float, found: list[Finding]
) -> None:
    """Subscribe to every snapshot filter, listen a few seconds, report what arrived."""
    sources = sources_from_config(config)
    granted: list[str] = []
    for source in sources:
        problem = valid_filter(source.subscription)
        if problem:
            fix = "fix the camera's topic (or frigate.topic_prefix)"
            found.append(Finding("topics", source.subscription, "fail", f"invalid: {problem}", fix))
            continue
        codes = _subscribe(session, source.subscription, qos=min(config.mqtt.qos, 1))
        if not codes or any(code.is_failure for code in codes):
            fix = "allow this user to read it in the broker's ACL"
            detail = "the broker refused the subscription"
            found.append(Finding("topics", source.subscription, "fail", detail, fix))
            continue
        granted.append(source.subscription)
    time.sleep(listen)
    for source in sources:
        if source.subscription in granted:
            received = [
                m for m in session.messages if mqtt.topic_matches_sub(source.subscription, m.topic)
            ]
            found.append(_topic_finding(source.subscription, received, source.camera_for, listen))


def _topic_finding(
    topic_filter: str, received: list[_Received], camera_for: Callable[[str], str], listen: float
) -> Finding:
    retained = [m for m in received if m.retain]
    live = [m for m in received if not m.retain]
    cameras = sorted({camera_for(m.topic) for m in received})
    parts = [f"valid filter; {len(retained)} retained snapshot(s), {len(live)} new in {listen:g} s"]
    if cameras:
        parts.append(f"cameras: {', '.join(cameras)}")
    if received:
        return Finding("topics", topic_filter, "ok", "; ".join(parts))
    fix = (
        "nothing was published there: normal if no one passed a camera; otherwise check the "
        "topic against what the camera (or Frigate) publishes, e.g. with "
        "mosquitto_sub -v -t '#'. In Frigate keep cameras.<name>.mqtt.enabled: true."
    )
    return Finding("topics", topic_filter, "warn", "; ".join(parts), fix)


def _check_availability(session: _Session, topics: Topics, found: list[Finding]) -> None:
    """Say whether a bridge already announces itself on this base topic (retained state)."""
    topic = topics.availability()
    state = session.payloads.get(topic, b"").decode(errors="replace")
    if state == "online":
        detail = f"{topic} says online: a bridge with this base topic is running (or died hard)"
        found.append(Finding("topics", topic, "info", detail))
    elif state:
        found.append(Finding("topics", topic, "info", f"{topic} says {state}"))


def check_broker(config: BridgeConfig, options: DoctorOptions) -> list[Finding]:
    """Connect, round-trip on a private topic, then listen to the configured topics."""
    found: list[Finding] = []
    settings = config.mqtt
    topics = Topics(config.mqtt.base_topic)
    with _broker_session(settings, found) as session:
        if session is None:
            skip = "skipped: no broker connection"
            found.append(Finding("broker", "round trip", "skip", skip))
            found.append(Finding("topics", "snapshot topics", "skip", skip))
            return found
        _subscribe(session, topics.availability())
        _round_trip(session, topics, found)
        _check_topics(session, config, options.listen, found)
        _check_availability(session, topics, found)
    return found


# -- the engine -------------------------------------------------------------------------------


def _engine_fix(err: EconnectError) -> str:
    if isinstance(err, EconnectStrictTLSError):
        return (
            "the engine's CA is trusted, but its certificates must change: re-issue the one the "
            "message names with the extensions strict verification requires, as "
            f"{STRICT_TLS_DOCS} shows (api.verify_ssl: false is not the fix)"
        )
    if isinstance(err, EconnectSchemeError):
        return err.advice
    if isinstance(err, EconnectTLSError):
        return "set api.ca_file to the CA that signed the engine's certificate"
    if isinstance(err, EconnectConnectionError):
        return "check api.url and that this host can reach the engine (proxy, firewall, DNS)"
    if isinstance(err, EconnectAuthenticationError):
        return "check api.username and api.password (or api.token)"
    if isinstance(err, EconnectPermissionError):
        return "give the user's role the Face Publishing permission on the engine"
    return "see the message; the engine's log may say more"


def _needed_sections(config: BridgeConfig) -> set[str]:
    """Which include sections the configuration asks the engine for, on any camera."""
    settings = [config.processing.camera_defaults, *(c.settings for c in config.cameras)]
    needed: set[str] = set()
    for s in settings:
        if s.mode == "publishWithResponse" and s.include.person:
            flags = {"names": s.include.names, "tags": s.include.tags}
            flags |= {"fields": s.include.fields, "addresses": s.include.addresses}
            needed |= {name for name, on in flags.items() if on}
    return needed


def _check_publish(client: EconnectClient, config: BridgeConfig, found: list[Finding]) -> bool:
    started = time.perf_counter()
    try:
        result = client.publish_with_response(
            NO_FACE_PNG,
            detector_name=DETECTOR,
            time_zone=config.api.time_zone,
            options=PublishOptions(include_person=False),
        )
    except EconnectError as err:
        found.append(
            Finding("engine", "publish", "fail", f"publishWithResponse: {err}", _engine_fix(err))
        )
        return False
    ms = (time.perf_counter() - started) * 1000
    detail = (
        f"publishWithResponse accepted a built-in 64x64 grey PNG with no face ({len(result.faces)} "
        f"face(s), {ms:.0f} ms); the engine may list it as a detection by '{DETECTOR}'"
    )
    found.append(Finding("engine", "publish", "ok", detail))
    return True


def _check_roster(client: EconnectClient, config: BridgeConfig, found: list[Finding]) -> None:
    """Read Tags, then people: the read endpoints reveal which include sections will come back."""
    needed = _needed_sections(config)
    try:
        tags = client.tags()
    except EconnectPermissionError:
        sev: Status = "warn" if ("tags" in needed or config.homeassistant.roster) else "info"
        fix = "give the role Read Tags (or Read All Identity) for tags in events and the roster"
        found.append(Finding("engine", "roster: tags", sev, "GET Tags refused (403)", fix))
        _report_unverified(needed - {"tags"}, found)
        return
    except EconnectError as err:
        found.append(
            Finding("engine", "roster: tags", "warn", f"GET Tags: {err}", _engine_fix(err))
        )
        return
    names = ", ".join(tag.name for tag in tags[:5]) + (", ..." if len(tags) > 5 else "")
    detail = f"{len(tags)} tag(s) readable ({names or 'none'}): includeTags will be answered"
    found.append(Finding("engine", "roster: tags", "ok", detail))
    _check_people(client, tags[0].tag_id if tags else None, needed, found)


def _check_people(
    client: EconnectClient, tag_id: str | None, needed: set[str], found: list[Finding]
) -> None:
    if tag_id is None:
        found.append(Finding("engine", "roster: people", "skip", "no tag to list people by"))
        _report_unverified(needed - {"tags"}, found)
        return
    try:
        client.people(tag_id)
    except EconnectError as err:
        sev: Status = "warn" if needed - {"tags"} else "info"
        fix = (
            "without Read All Identity, names, fields and addresses need their own Read "
            "permissions (Read Aliases, Read Entity Fields, Read Addresses)"
        )
        found.append(Finding("engine", "roster: people", sev, f"GET people: {err}", fix))
        _report_unverified(needed - {"tags"}, found)
        return
    detail = "people readable (Read All Identity): every include section will be answered"
    found.append(Finding("engine", "roster: people", "ok", detail))


def _report_unverified(sections: set[str], found: list[Finding]) -> None:
    if sections:
        detail = (
            f"could not verify the permissions for include {', '.join(sorted(sections))}: the "
            "engine leaves out sections the role may not read, without an error"
        )
        found.append(Finding("engine", "include sections", "info", detail))


def check_engine(config: BridgeConfig, options: DoctorOptions) -> list[Finding]:
    """Sign in, send the no-face test image (unless told not to), then read the roster."""
    found: list[Finding] = []
    with engine_client(config) as client:
        try:
            client.authenticate()
        except EconnectError as err:
            found.append(Finding("engine", "sign in", "fail", str(err), _engine_fix(err)))
            found.append(Finding("engine", "publish", "skip", "skipped: not signed in"))
            return found
        how = "with a token" if config.api.token else f"as {config.api.username}"
        found.append(Finding("engine", "sign in", "ok", f"signed in to {client.base_url} {how}"))
        if options.publish_test_image:
            _check_publish(client, config, found)
        else:
            found.append(Finding("engine", "publish", "skip", "skipped (--no-publish)"))
        _check_roster(client, config, found)
    return found


# -- running and printing ---------------------------------------------------------------------


def run_doctor(config: BridgeConfig, options: DoctorOptions | None = None) -> list[Finding]:
    """Run every check; the broker, the engine and Frigate are checked in parallel."""
    options = options or DoctorOptions()
    engine: list[Finding] = []
    frigate: list[Finding] = []
    threads = [
        threading.Thread(target=lambda: engine.extend(_safe_engine(config, options))),
        threading.Thread(target=lambda: frigate.extend(_safe_frigate(config))),
    ]
    for thread in threads:
        thread.start()
    broker = check_broker(config, options)
    for thread in threads:
        thread.join()
    order = {"broker": 0, "engine": 1, "frigate": 2, "topics": 3}
    found = [*broker, *engine, *frigate]
    return sorted(found, key=lambda finding: order.get(finding.area, 4))


def _safe_frigate(config: BridgeConfig) -> list[Finding]:
    try:
        return check_frigate(config)
    except Exception as err:  # noqa: BLE001 - a bug in one check must not hide the others
        return [Finding("frigate", "checks", "fail", f"unexpected error: {err!r}")]


def _safe_engine(config: BridgeConfig, options: DoctorOptions) -> list[Finding]:
    try:
        return check_engine(config, options)
    except Exception as err:  # noqa: BLE001 - a bug in one check must not hide the others
        return [Finding("engine", "checks", "fail", f"unexpected error: {err!r}")]


def render(findings: list[Finding]) -> str:
    """One line per check, grouped by area, with the fix indented under problems."""
    lines: list[str] = []
    area = None
    for item in findings:
        if item.area != area:
            area = item.area
            lines.append(f"\n{area.capitalize()}")
        lines.append(f"  {MARKS[item.status]}  {item.check}: {item.detail}")
        if item.fix and item.status in ("warn", "fail"):
            lines.append(f"        fix: {item.fix}")
    fails = sum(1 for f in findings if f.status == "fail")
    warns = sum(1 for f in findings if f.status == "warn")
    verdict = "everything checked is fine" if not (fails or warns) else ""
    lines.append(
        f"\nResult: {fails} problem(s), {warns} warning(s){'; ' + verdict if verdict else ''}"
    )
    return "\n".join(lines).lstrip("\n") + "\n"


def exit_code(findings: list[Finding]) -> int:
    """1 when any check failed (scripts and CI can rely on it), else 0."""
    return 1 if any(f.status == "fail" for f in findings) else 0
