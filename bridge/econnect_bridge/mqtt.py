"""The paho-mqtt 2.x adapter: the only module that imports paho.

It owns the connection: last will `offline`, retained `online` after every connect,
resubscription in the connect callback (so subscriptions survive reconnects), automatic
reconnect with backoff, routing messages to handlers, and the MQTT 5 limits it announces. What
it keeps beside the connection lives apart: the outgoing backlog and its back pressure
(`backlog.py`), when a snapshot is acknowledged (`acks.py`), how a client is set up and a
failure explained (`mqtt_setup.py`). paho's callbacks never raise and never block: incoming
messages go to a handler that only enqueues, and connection changes to a listener that only
enqueues too.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from econnect_bridge.acks import AckHolder
from econnect_bridge.backlog import OutgoingBacklog
from econnect_bridge.config.model import MqttConfig
from econnect_bridge.messages import Incoming, no_ack, topic_matches
from econnect_bridge.mqtt_setup import (
    PahoLog,
    apply_credentials,
    default_client_id,
    describe_connect_error,
    keeps_session,
    refusal_fix,
)

__all__ = [  # Incoming lives in messages.py (no paho there); it stays importable from here
    "MAX_INFLIGHT",
    "OFFLINE",
    "ONLINE",
    "SESSION_EXPIRY",
    "ConnectionListener",
    "Incoming",
    "MessageHandler",
    "MqttConnection",
    "PahoLog",
    "apply_credentials",
    "default_client_id",
    "describe_connect_error",
    "keeps_session",
]

_LOGGER = logging.getLogger(__name__)
ONLINE = "online"
OFFLINE = "offline"
#: MQTT 5 Receive Maximum: QoS 1 messages the broker may send before the bridge acknowledges
#: them (snapshots are acknowledged when their outcome is out; 3.1.1 has the broker's own cap).
RECEIVE_MAXIMUM = 2048
#: At most this many snapshots are held unacknowledged with MQTT 3.1.1, where the broker caps
#: unacknowledged messages itself (Mosquitto's max_inflight_messages: 20) and sends nothing
#: more once the cap is reached: past it, a snapshot is acknowledged as it arrives, so that a
#: busy bridge keeps receiving (it loses the crash protection of those snapshots only).
HOLD_MQTT_3 = 8
#: The same with MQTT 5, below the Receive Maximum the bridge announces.
HOLD_MQTT_5 = RECEIVE_MAXIMUM - 48
#: Room above a source's largest payload in MQTT 5's Maximum Packet Size (topic, properties).
PACKET_HEADROOM = 64 * 1024
#: At most this many topics remember their route (cameras x labels, in practice).
ROUTE_CACHE = 4096
#: MQTT 5 session expiry (s) for persistent sessions: a bridge down longer starts afresh.
SESSION_EXPIRY = 3600
#: QoS 1 messages sent and not yet acknowledged (Mosquitto accepts up to 65535 by default).
MAX_INFLIGHT = 100


MessageHandler = Callable[[Incoming], None]
ConnectionListener = Callable[[bool], None]


@dataclass(frozen=True, slots=True)
class _Route:
    """A subscription: its filter, the filter as subscribed, its handler, when to acknowledge."""

    topic_filter: str
    subscribed_as: str
    handler: MessageHandler
    ack_on_outcome: bool = False


def _no_delay(_client: mqtt.Client, _userdata: Any, sock: Any) -> None:
    """Turn Nagle's algorithm off on the broker connection (paho 2.x leaves it on).

    The bridge writes several small messages per result (event, states, acknowledgements);
    with Nagle on, each small write after the first waits for the broker's delayed ACK, about
    10 ms a snapshot on a Mosquitto with its defaults (set_tcp_nodelay false). A socket that
    is not TCP (a Unix socket, a WebSocket wrapper) keeps its options.
    """
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class MqttConnection:
    """One long-lived paho client shared by the whole bridge."""

    def __init__(
        self,
        settings: MqttConfig,
        *,
        availability_topic: str,
        client_id: str | None = None,
        on_connection: ConnectionListener = lambda _up: None,
        max_payload: int | None = None,
    ) -> None:
        """Connect as the `mqtt` section says; `client_id` overrides `mqtt.client_id`.

        Without either, the id is `default_client_id(mqtt.base_topic)`: stable across
        restarts, as a persistent session needs. `max_payload` is the largest payload any
        subscription accepts: with MQTT 5 the broker is told not to send larger packets.
        """
        self._settings = settings
        self._max_payload = max_payload
        self._manual_ack = settings.acknowledge == "outcome"
        client_id = client_id or settings.client_id or default_client_id(settings.base_topic)
        self._availability = availability_topic
        self._on_connection = on_connection
        self._routes: list[_Route] = []
        self._route_cache: dict[str, _Route | None] = {}
        self._lock = threading.Lock()
        self.connected = threading.Event()
        self.ready = threading.Event()  # connected AND every subscription acknowledged
        self._pending_subacks: set[int] = set()
        self.publish_failures = 0
        self.connect_failures = 0
        self.queued_while_disconnected = 0
        self.connections = 0
        self.sessions_lost = 0  # reconnections where the broker had forgotten our session
        self.last_connect_error: str | None = None
        self._stopping = False
        self._backlog = OutgoingBacklog(
            limit_while_away=settings.max_queued_messages,
            passing=lambda: not self.connected.is_set() or self._stopping,
        )
        self._client = self._make_client(client_id)
        self._acks = AckHolder(
            cap=HOLD_MQTT_5 if settings.protocol == "5" else HOLD_MQTT_3,
            send=self._client.ack,
            connection=lambda: self.connections if self.connected.is_set() else -1,
        )

    def _make_client(self, client_id: str) -> mqtt.Client:
        s = self._settings
        v5 = s.protocol == "5"
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            manual_ack=self._manual_ack,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else not keeps_session(s),
        )
        client.suppress_exceptions = True  # an escaped exception must never kill the loop
        # paho's own log (packet types, flags, topics and sizes; never payloads or passwords)
        # shows at DEBUG under econnect_bridge.mqtt.paho; see `PahoLog`.
        client.enable_logger(PahoLog(logging.getLogger(f"{__name__}.paho")))  # type: ignore[arg-type]
        apply_credentials(client, s)
        client.will_set(self._availability, OFFLINE, qos=1, retain=True)
        # Unbounded in paho: the bridge bounds the backlog itself (see `publish`), so that a
        # connected broker never costs a message, and a disconnected one costs counted ones.
        client.max_queued_messages_set(0)
        # QoS 1 messages awaiting PUBACK; paho's 20 throttles a burst of events on loopback.
        client.max_inflight_messages_set(MAX_INFLIGHT)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        client.on_subscribe = self._handle_subscribe
        client.on_publish = self._handle_publish
        client.on_connect_fail = self._handle_connect_fail
        client.on_socket_open = _no_delay
        return client

    def start(self) -> None:
        """Connect in the background; paho retries until the broker answers."""
        s = self._settings
        if s.protocol == "5":
            # MQTT 5 keeps the session on the broker only when asked to, for a bounded time.
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = SESSION_EXPIRY if keeps_session(s) else 0
            properties.ReceiveMaximum = RECEIVE_MAXIMUM
            if self._max_payload is not None:
                # The broker drops a larger message for us instead of sending it: it never
                # reaches the bridge's memory (nor its counters; Mosquitto logs it).
                properties.MaximumPacketSize = self._max_payload + PACKET_HEADROOM
            self._client.connect_async(
                s.host,
                s.port,
                keepalive=s.keepalive,
                clean_start=not keeps_session(s),
                properties=properties,
            )
        else:
            self._client.connect_async(s.host, s.port, keepalive=s.keepalive)
        self._client.loop_start()

    def wait_ready(self, timeout: float) -> bool:
        """Block until connected and subscribed (or timeout); used at start-up and by tests."""
        return self.ready.wait(timeout)

    def subscribe(
        self,
        topic_filter: str,
        handler: MessageHandler,
        *,
        shared: bool,
        ack_on_outcome: bool = False,
    ) -> None:
        """Register a route; it is (re)subscribed on every connect.

        With `ack_on_outcome` (snapshot sources), a QoS 1 message is acknowledged only when
        the handler's pipeline calls `Incoming.ack` (if `mqtt.acknowledge` is `outcome`);
        every other message is acknowledged as it arrives.
        """
        group = self._settings.shared_group
        as_subscribed = f"$share/{group}/{topic_filter}" if shared and group else topic_filter
        with self._lock:
            self._routes.append(_Route(topic_filter, as_subscribed, handler, ack_on_outcome))
            self._route_cache = {}
        if self.connected.is_set():
            self._client.subscribe(as_subscribed, qos=self._settings.qos)

    def _route_for(self, topic: str) -> _Route | None:
        """Return the handler of the first route matching `topic` (cached per topic).

        paho's `topic_matches_sub` builds a matcher tree per call: at thousands of messages a
        second on paho's only thread, that is time the socket is not read.
        """
        cache = self._route_cache
        if topic in cache:
            return cache[topic]
        with self._lock:
            routes = list(self._routes)
        route = next((r for r in routes if topic_matches(r.topic_filter, topic)), None)
        if len(cache) >= ROUTE_CACHE:
            cache.clear()
        cache[topic] = route
        return route

    def unsubscribe(self, topic_filter: str) -> None:
        """Drop the routes of `topic_filter`; it is not subscribed again on reconnect."""
        with self._lock:
            gone = {r.subscribed_as for r in self._routes if r.topic_filter == topic_filter}
            self._routes = [r for r in self._routes if r.topic_filter != topic_filter]
            self._route_cache = {}
        if self.connected.is_set():
            for sub in gone:
                self._client.unsubscribe(sub)

    def publish(
        self, topic: str, payload: bytes | str, *, retain: bool = False, qos: int | None = None
    ) -> bool:
        """Queue a message for the broker; paho keeps it across reconnects until published.

        While the broker is connected every message is taken (the workers' back pressure,
        `wait_for_room`, bounds the backlog). While it is away, at most
        `mqtt.max_queued_messages` wait; a message beyond that is dropped and counted, and the
        count is logged once the broker is back.

        Retained states go at `mqtt.qos` like events, although the next state supersedes each
        one: at QoS 0, paho forgets a message written while the connection breaks, so the
        state a user sees after the reconnect could be an older one. QoS 0 states, sent again
        after every reconnect, were measured (docs/performance.md): 36 µs of CPU less per
        message, but without the acknowledgements that hold the workers back (`wait_for_room`)
        eight workers starved paho's reader of the interpreter lock under load, and snapshots
        reached the bridge ~0.6 s later; so the acknowledgements stay.
        """
        qos = self._settings.qos if qos is None else qos
        connected = self.connected.is_set()
        if not self._backlog.admit(connected=connected):
            self.publish_failures += 1
            return False
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN and qos == 0:
            self._backlog.drop()  # paho keeps no QoS 0 message for later
            self.publish_failures += 1
            return False
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            self.publish_failures += 1
            _LOGGER.warning("Could not queue an MQTT message for %s: %s", topic, info.rc)
            return False
        if info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN:
            self.queued_while_disconnected += 1
        self._backlog.record(info.mid, qos)
        return True

    @property
    def acked_on_arrival(self) -> int:
        """Snapshots acknowledged as they arrived because the cap of held ones was reached."""
        return self._acks.acked_on_arrival

    def wait_for_room(self, timeout: float) -> bool:
        """Wait while the connected broker is behind; return False if still behind at timeout.

        Returns at once while disconnected: then the bound of `publish` applies, and results
        made from snapshots already received still go out (or are counted) after reconnect.
        """
        return self._backlog.wait_for_room(timeout)

    def stop(self, timeout: float = 3.0) -> None:
        """Publish `offline` (retained), flush, and disconnect cleanly."""
        self._stopping = True
        self._backlog.wake()
        if self.connected.is_set():
            info = self._client.publish(self._availability, OFFLINE, qos=1, retain=True)
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError):
                _LOGGER.debug("could not confirm the offline message before disconnecting")
        self._client.disconnect()
        self._client.loop_stop()
        self.connected.clear()
        self.ready.clear()

    # paho callbacks: run on paho's network thread, so they only record and hand over.

    def _handle_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        flags: Any,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        try:
            if reason_code.is_failure:
                self.last_connect_error = f"refused by the broker: {reason_code}"
                _LOGGER.error(
                    "MQTT broker refused the connection: %s (%s)",
                    reason_code,
                    refusal_fix(reason_code),
                )
                return
            self.last_connect_error = None
            self.connections += 1
            if self.connections > 1 and keeps_session(self._settings):
                if getattr(flags, "session_present", False):
                    _LOGGER.info("The broker kept our session: queued snapshots follow")
                else:
                    self.sessions_lost += 1
                    _LOGGER.warning(
                        "The broker did not keep our session (restarted without persistence, "
                        "or the session expired): snapshots sent while we were away are lost"
                    )
            client.publish(self._availability, ONLINE, qos=1, retain=True)
            with self._lock:
                subscriptions = sorted({r.subscribed_as for r in self._routes})
                self._pending_subacks = set()
                for sub in subscriptions:
                    _rc, mid = client.subscribe(sub, qos=self._settings.qos)
                    if mid is not None:
                        self._pending_subacks.add(mid)
                if not self._pending_subacks:
                    self.ready.set()
            self.connected.set()
            _LOGGER.info("Connected to MQTT broker %s:%s", self._settings.host, self._settings.port)
            self._report_dropped_while_away()
            self._on_connection(True)
        except Exception:
            _LOGGER.exception("error while handling the MQTT connection")

    def _handle_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        """A (re)connection attempt failed; paho retries with backoff. Say why, once per reason.

        paho calls this from inside its `except OSError`, so the exception is still at hand.
        A TLS failure is never "solved" by falling back to plain MQTT: it is reported and
        retried with the same settings until the configuration is fixed.
        """
        try:
            err = sys.exc_info()[1]
            self.connect_failures += 1
            reason = describe_connect_error(err)
            if reason != self.last_connect_error:
                _LOGGER.error(
                    "Cannot connect to the MQTT broker %s:%s: %s (retrying)",
                    self._settings.host,
                    self._settings.port,
                    reason,
                )
            self.last_connect_error = reason
        except Exception:
            _LOGGER.exception("error while handling an MQTT connection failure")

    def _handle_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: Any,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        try:
            was_connected = self.connected.is_set()
            self.connected.clear()
            self.ready.clear()
            self._backlog.disconnected()  # waiting workers go on: the bound applies now
            if was_connected and not self._stopping:
                _LOGGER.warning("Disconnected from MQTT broker (%s); reconnecting", reason_code)
                self._on_connection(False)
        except Exception:
            _LOGGER.exception("error while handling the MQTT disconnection")

    def _handle_publish(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        mid: int,
        _reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        """A message was written (QoS 0) or acknowledged (QoS 1): one less in the backlog."""
        self._backlog.published(mid)

    def _report_dropped_while_away(self) -> None:
        dropped = self._backlog.take_dropped()
        if dropped:
            _LOGGER.warning(
                "While the broker was away, %d outgoing message(s) were dropped: more than "
                "mqtt.max_queued_messages (%d) waited. Raise it to keep more",
                dropped,
                self._settings.max_queued_messages,
            )

    def _handle_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        try:
            if any(code.is_failure for code in reason_codes):
                _LOGGER.error("MQTT broker refused a subscription: %s", reason_codes)
            with self._lock:
                self._pending_subacks.discard(mid)
                if not self._pending_subacks:
                    self.ready.set()
        except Exception:
            _LOGGER.exception("error while handling a subscription acknowledgement")

    def _handle_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            topic = msg.topic  # decoded from bytes at each access: once
            route = self._route_for(topic)
            deferred = route is not None and route.ack_on_outcome and self._manual_ack
            ack = self._acks.hold(msg.mid, msg.qos) if deferred else no_ack
            if self._manual_ack and not deferred and msg.qos > 0:
                self._client.ack(msg.mid, msg.qos)
            if route is not None:
                payload = bytes(msg.payload)
                route.handler(Incoming(topic, payload, bool(msg.retain), msg.qos, msg.dup, ack))
        except Exception:
            _LOGGER.exception("error while receiving a message on %s", msg.topic)
