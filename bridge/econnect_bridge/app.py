"""The composition root of `econnect-bridge run`: builds the parts and wires them, no logic.

The parts: the engine client, the MQTT connection, the pipeline (intake → throttle → workers →
delivery), the discovery announcer and the control loop (`control.py`), which runs on the main
thread until SIGTERM. paho's thread, the workers and the sign-in thread only put events on the
control loop's queue. The translators below turn configuration sections into the parts'
arguments; what the parts do lives in their own modules.
"""

from __future__ import annotations

import logging
import signal
import threading
from functools import partial
from pathlib import Path
from types import FrameType

from econnect_bridge.announcer import DiscoveryAnnouncer
from econnect_bridge.client import EconnectClient
from econnect_bridge.config.model import BridgeConfig
from econnect_bridge.control import ControlEvent, ControlLoop, EventKind
from econnect_bridge.delivery import CameraRules, StaleFacePictures
from econnect_bridge.discovery import DiscoveryContext, discovery_subscription
from econnect_bridge.frigate_api import FrigateApi
from econnect_bridge.health import HealthServer, bridge_snapshot, connection_sample, serve_health
from econnect_bridge.memory import return_large_buffers_to_the_system
from econnect_bridge.messages import Incoming
from econnect_bridge.mqtt import MqttConnection
from econnect_bridge.own_output import own_output_filters
from econnect_bridge.pipeline import Pipeline
from econnect_bridge.recovery import recovery_filters
from econnect_bridge.retained import RetainedStates
from econnect_bridge.retry import Backoff, CircuitBreaker, RetryPolicy
from econnect_bridge.roster import read_roster
from econnect_bridge.sources import Source, sources_from_config
from econnect_bridge.spool import Spool
from econnect_bridge.statebook import BookSettings, StateBook
from econnect_bridge.states import Topics
from econnect_identities.annotate import pillow_available
from econnect_identities.errors import EconnectError
from econnect_identities.naming import CameraSlugs, SubjectSlugs, slugify

_LOGGER = logging.getLogger(__name__)


def engine_client(config: BridgeConfig) -> EconnectClient:
    """Build the engine client the configuration describes."""
    api = config.api
    return EconnectClient(
        api.url,
        username=api.username,
        password=api.password.reveal() if api.password else None,
        token=api.token.reveal() if api.token else None,
        verify_ssl=api.verify_ssl,
        ca_file=str(api.ca_file) if api.ca_file else None,
        timeout=api.timeout,
        connect_timeout=api.connect_timeout,
        pool_size=config.processing.workers,
    )


def frigate_api(config: BridgeConfig) -> FrigateApi | None:
    """Build the client of Frigate's HTTP API, when events mode needs one."""
    frigate = config.frigate
    if not frigate.events_mode or frigate.url is None:
        return None
    return FrigateApi(
        url=frigate.url,
        username=frigate.username,
        password=frigate.password.reveal() if frigate.password else None,
        verify_ssl=frigate.verify_ssl,
        ca_file=str(frigate.ca_file) if frigate.ca_file else None,
        timeout=frigate.timeout,
    )


def retry_policy(config: BridgeConfig) -> RetryPolicy:
    """Build the retry policy and circuit breaker the `api` section describes."""
    api = config.api
    return RetryPolicy(
        retries=api.retries,
        backoff=Backoff(base=api.retry_backoff, cap=api.retry_backoff_max),
        circuit=CircuitBreaker(
            threshold=api.circuit_threshold,
            reset_after=api.circuit_reset,
        ),
    )


def spool_path(config: BridgeConfig) -> Path:
    """Return the spool file, a relative `spool.path` being relative to the config file."""
    path = Path(config.spool.path).expanduser()
    if not path.is_absolute() and config.source is not None:
        path = config.source.parent / path
    return path


def open_spool(config: BridgeConfig) -> Spool | None:
    """Open the spool when `spool.enabled`; it may hold snapshots from a previous run."""
    if not config.spool.enabled:
        return None
    spool = Spool(
        spool_path(config), max_items=config.spool.max_items, max_age=config.spool.max_age
    )
    if len(spool):
        _LOGGER.info("The spool holds %d snapshot(s) from before: sending them", len(spool))
    return spool


def fixed_cameras(config: BridgeConfig) -> tuple[tuple[str, ...], bool]:
    """Return the cameras known before any message, and whether others may appear."""
    names = [c.name for c in config.cameras if c.camera_level is None]
    names += list(config.frigate.cameras) if config.frigate.enabled else []
    dynamic = any(c.camera_level is not None for c in config.cameras) or (
        config.frigate.enabled and not config.frigate.cameras
    )
    return tuple(dict.fromkeys(names)), dynamic


def discovery_context(
    config: BridgeConfig, slugs: CameraSlugs, subjects: SubjectSlugs | None = None
) -> DiscoveryContext:
    """The cameras, tags and persons known at start, for the discovery announcer.

    `slugs` and `subjects` are the registries the bridge's topics use, so that discovery
    names every camera, person and tag with the slug its topics have.
    """
    ha = config.homeassistant
    if subjects is None:
        subjects = topic_subjects(config)
    return DiscoveryContext(
        node_id=slugify(config.mqtt.base_topic),
        base_topic=config.mqtt.base_topic,
        discovery_prefix=ha.discovery_prefix,
        cameras=fixed_cameras(config)[0],
        tags=ha.tags,
        persons=ha.persons,
        annotated=config.publish.annotated_snapshot,
        face_pictures=config.publish.face_pictures,
        retain=True,
        slugs=slugs,
        subjects=subjects,
    )


def topic_subjects(config: BridgeConfig) -> SubjectSlugs:
    """The person and tag registry, seeded in configuration order (who keeps a plain slug)."""
    ha = config.homeassistant
    return SubjectSlugs(persons=ha.persons, tags=ha.tags)


def book_settings(config: BridgeConfig, topics: Topics) -> BookSettings:
    """Translate what shapes the published states for the state book."""
    ha = config.homeassistant
    return BookSettings(
        topics=topics,
        person_fields=frozenset(config.publish.person_fields),
        presence_timeout=config.processing.presence_timeout,
        retain_state=ha.retain_state,
        persons=ha.persons,
        tags=ha.tags,
    )


def _annotation_possible(config: BridgeConfig) -> bool:
    """Honour `publish.annotated_snapshot`, saying so clearly when Pillow is missing."""
    return _with_pillow("annotated_snapshot", config.publish.annotated_snapshot)


def _face_pictures_possible(config: BridgeConfig) -> bool:
    """Honour `publish.face_pictures`, saying so clearly when Pillow is missing."""
    return _with_pillow("face_pictures", config.publish.face_pictures)


def _with_pillow(option: str, wanted: bool) -> bool:
    """Whether a `publish` option that draws or cuts pictures can be on in this install."""
    if not wanted:
        return False
    if pillow_available():
        return True
    _LOGGER.error(
        "publish.%s needs Pillow, which this install lacks: pip install Pillow. "
        "It is off for this run.",
        option,
    )
    return False


class SignalFlag:
    """The stop flag a signal handler can set without taking any lock.

    `is_set` is true once a signal was recorded or the event was set (`request_stop`).
    """

    def __init__(self, event: threading.Event) -> None:
        self._event = event
        self.signum: int | None = None

    def is_set(self) -> bool:
        """Return whether the bridge must stop."""
        return self.signum is not None or self._event.is_set()


class BridgeApp:
    """One running bridge."""

    def __init__(self, config: BridgeConfig, *, client: EconnectClient | None = None) -> None:
        self.config = config
        self.topics = Topics(
            config.mqtt.base_topic,
            CameraSlugs(fixed_cameras(config)[0]),
            topic_subjects(config),
        )
        self.client = client or engine_client(config)
        self.frigate = frigate_api(config)
        self._stopping = threading.Event()
        self._signalled = SignalFlag(self._stopping)
        self._sources = sources_from_config(config)
        self.mqtt = MqttConnection(
            config.mqtt,
            availability_topic=self.topics.availability(),
            on_connection=lambda up: self._report("connected" if up else "disconnected"),
            max_payload=max((s.payload.max_bytes for s in self._sources), default=None),
        )
        self.pipeline = self._pipeline(config)
        self.pipeline.add_sampler(partial(connection_sample, self.mqtt))
        ha = config.homeassistant
        self.announcer = DiscoveryAnnouncer(
            context=discovery_context(config, self.topics.slugs, self.topics.subjects),
            publisher=self.mqtt,
            first_states=self.pipeline.publish_initial_states,
            dynamic=fixed_cameras(config)[1],
            enabled=ha.enabled,
        )
        self._roster_expected = ha.enabled and ha.roster
        self.retained = RetainedStates(recovery_filters(self.topics))
        self.control = ControlLoop(
            announcer=self.announcer,
            pipeline=self.pipeline,
            roster_expected=self._roster_expected,
            restore=self._restore_states,
        )
        self.health_server: HealthServer | None = None
        self.stale_faces = StaleFacePictures(self.mqtt)

    def _restore_states(self) -> None:
        """Hand the previous run's retained states to the pipeline, then stop listening."""
        self.pipeline.restore_states(self.retained.take())
        for topic_filter in self.retained.filters:
            self.mqtt.unsubscribe(topic_filter)
        if not self.config.publish.face_pictures:  # turned off: clear what a run left
            self.stale_faces.clear()
            for topic_filter in self.topics.face_picture_filters():
                self.mqtt.unsubscribe(topic_filter)

    def _report(self, kind: EventKind, camera: str = "") -> None:
        self.control.put(ControlEvent(kind, camera))

    def _pipeline(self, config: BridgeConfig) -> Pipeline:
        """Build the pipeline apart, so `__init__` stays a list of parts."""
        return Pipeline(
            client=self.client,
            publisher=self.mqtt,
            topics=self.topics,
            book=StateBook(book_settings(config, self.topics)),
            workers=config.processing.workers,
            sources=self._sources,
            on_new_camera=lambda camera: self._report("camera", camera),
            skip_retained=config.mqtt.skip_retained,
            retain_state=config.homeassistant.retain_state,
            annotate_snapshots=_annotation_possible(config),
            retry=retry_policy(config),
            spool=open_spool(config),
            spool_responses=config.spool.responses,
            dedupe_window=config.mqtt.dedupe_window,
            gate=self.mqtt,
            own_output=own_output_filters(config),
            frigate=config.frigate,
            frigate_api=self.frigate,
            rules=CameraRules(config.rules, config.processing.camera_defaults),
            face_pictures=_face_pictures_possible(config),
        )

    def start(self) -> None:
        """Subscribe, connect and start the workers; returns at once (see `wait_ready`)."""
        for source in self._sources:
            handler = partial(self._on_snapshot, source)
            # One bridge follows all of an object's messages: never split them across a group.
            shared = source.kind == "snapshot"
            self.mqtt.subscribe(source.subscription, handler, shared=shared, ack_on_outcome=True)
        for topic_filter in self.retained.filters:
            self.mqtt.subscribe(topic_filter, self.retained.add, shared=False)
        if not self.config.publish.face_pictures:  # turned off: clear what a run left
            for topic_filter in self.topics.face_picture_filters():
                self.mqtt.subscribe(topic_filter, self._on_stale_face, shared=False)
        ha = self.config.homeassistant
        if ha.enabled:
            self.mqtt.subscribe(ha.status_topic, self._on_ha_status, shared=False)
            prefix_filter = discovery_subscription(
                ha.discovery_prefix, self.announcer.context.node_id
            )
            self.mqtt.subscribe(prefix_filter, self.announcer.note_retained, shared=False)
        self.pipeline.start()
        self.mqtt.start()
        # Health endpoint (off unless health.enabled); reads counters through a callable.
        snapshot = partial(bridge_snapshot, self.pipeline)
        self.health_server = serve_health(self.config.health, snapshot)
        threading.Thread(target=self._check_engine, name="econnect-login", daemon=True).start()

    def _on_snapshot(self, source: Source, message: Incoming) -> None:
        self.pipeline.on_message(source, message)

    def _on_stale_face(self, message: Incoming) -> None:
        self.stale_faces.take(message.topic, message.payload, retained=message.retain)

    def _on_ha_status(self, message: Incoming) -> None:
        if message.payload.strip() == b"online":
            self._report("ha_online")

    def _check_engine(self) -> None:
        """Sign in once at start so a wrong password shows at once, not at the first face."""
        try:
            self.client.authenticate()
            self.pipeline.mark_engine(reachable=True)
            _LOGGER.info("Signed in to the eConnect engine at %s", self.client.base_url)
        except EconnectError as err:
            self.pipeline.mark_engine(reachable=False, error=err)
            _LOGGER.error("Cannot sign in to the eConnect engine: %s", err)
        if self._roster_expected:
            self.control.put(
                ControlEvent("roster", roster=read_roster(self.client, rules=self.config.rules))
            )

    def wait_ready(self, timeout: float = 10.0) -> bool:
        """Wait until the broker connection is up and every subscription is acknowledged."""
        return self.mqtt.wait_ready(timeout)

    def run(self) -> int:
        """Run until SIGTERM/SIGINT or `request_stop()`; return the exit code."""
        self._install_signal_handlers()
        return_large_buffers_to_the_system()
        self.start()
        self.control.run(self._signalled)
        if self._signalled.signum is not None:
            name = signal.Signals(self._signalled.signum).name
            _LOGGER.info("Received %s: finishing in-flight work", name)
        self._stopping.set()
        self._shutdown()
        return 0

    def request_stop(self) -> None:
        """Ask the control loop to stop (thread-safe)."""
        self._stopping.set()
        self._report("stop")

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def handler(signum: int, _frame: FrameType | None) -> None:
            # Python runs this between two bytecodes of the main thread, which may hold a
            # lock (the control queue's, inside get()): taking it here would deadlock, so
            # the handler only records the signal; the control loop sees it within a turn.
            self._signalled.signum = signum

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def _shutdown(self) -> None:
        left = self.pipeline.stop(timeout=self.config.api.timeout + 1)
        if left:
            _LOGGER.warning("Stopped with %d snapshot(s) not yet sent to the engine", left)
        self.pipeline.publish_health()
        self.mqtt.stop()
        if self.health_server is not None:
            self.health_server.stop()
        self.client.close()
        if self.frigate is not None:
            self.frigate.close()
        _LOGGER.info("Stopped")
