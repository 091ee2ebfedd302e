"""Snapshots in, engine calls in a worker pool, messages out: the stages, composed.

The data flows one way, each stage in its own module:

    intake (paho's thread: skip retained, note oversize, put in the inbox)
      → decode (its own thread: drop redeliveries, decode, learn the camera)
      → throttle (latest wins per camera, min interval)
      → workers (engine call with retries and the circuit; the spool when the engine is away)
      → delivery (the state book's events and states) → publisher

In Frigate's events mode, decode hands `frigate/events` to the follower of tracked objects
(`frigate_follow`), which fetches each object's pictures into the throttle and takes the
workers' answers back before delivery: one outcome per object.

The stages depend on small protocols (`ports.Recogniser`, `ports.Publisher`), never on paho,
requests or aiohttp. This module only builds them and offers the few calls the app makes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from econnect_bridge.cameras import CameraDirectory, NewCameraListener
from econnect_bridge.config.model import FrigateConfig
from econnect_bridge.decode import Decoder
from econnect_bridge.dedupe import RECENT_MESSAGES, RedeliveryFilter
from econnect_bridge.delivery import CameraRules, Delivery, apply_thresholds
from econnect_bridge.engine_stage import (
    CIRCUIT_OPEN,
    CircuitOpenError,
    EngineCaller,
    ShuttingDownError,
    publish_options,
)
from econnect_bridge.frigate_follow import FrigateFollower, FrigatePictures
from econnect_bridge.intake import Inbox, Intake
from econnect_bridge.messages import Incoming, topic_matches
from econnect_bridge.metrics import BridgeMetrics, LatencyHistogram
from econnect_bridge.ports import OutgoingGate, Publisher, Recogniser
from econnect_bridge.recovery import Recovered
from econnect_bridge.replay import Replayer
from econnect_bridge.reporting import Health, Reporter, Sampler
from econnect_bridge.retry import RetryPolicy
from econnect_bridge.sources import Source
from econnect_bridge.spool import Spool
from econnect_bridge.statebook import StateBook
from econnect_bridge.states import Topics
from econnect_bridge.throttle import SnapshotQueue
from econnect_bridge.workers import Router, WorkerPool
from econnect_identities.errors import EconnectError

__all__ = [
    "CIRCUIT_OPEN",
    "RECENT_MESSAGES",
    "CircuitOpenError",
    "Health",
    "Pipeline",
    "ShuttingDownError",
    "apply_thresholds",
    "publish_options",
    "topic_matches",
]


@dataclass(frozen=True, slots=True)
class FrigateFollowerParts:
    """The pipeline's parts a follower of Frigate objects works with."""

    queue: SnapshotQueue
    cameras: CameraDirectory
    reporter: Reporter
    clock: Callable[[], float]


def _follower(
    config: FrigateConfig | None,
    api: FrigatePictures | None,
    parts: FrigateFollowerParts,
    *,
    keep_images: bool,
) -> FrigateFollower | None:
    """Build the follower of Frigate objects when events mode is on.

    `keep_images`: an answer kept for later publication keeps its picture only when the
    annotated snapshot or a face picture will need it; otherwise up to `max_objects`
    pictures would wait.
    """
    if config is None or api is None or not config.events_mode:
        return None
    return FrigateFollower(
        config=config,
        api=api,
        queue=parts.queue,
        cameras=parts.cameras,
        reporter=parts.reporter,
        keep_images=keep_images,
        clock=parts.clock,
    )


def _ignore(_camera: str) -> None:
    """The default new-camera listener: nobody needs to hear of them."""


class Pipeline:
    """Process snapshots with a fixed pool of workers sharing one engine client.

    Everything is given at construction: `sources` are every configured source (a spooled
    snapshot's is found by topic after a restart), and `on_new_camera` is told each camera's
    name the first time a snapshot comes from it. It runs on paho's or the replay thread, so it
    must only hand the name over.
    """

    def __init__(
        self,
        *,
        client: Recogniser,
        publisher: Publisher,
        topics: Topics,
        book: StateBook,
        workers: int,
        sources: tuple[Source, ...] = (),
        on_new_camera: NewCameraListener = _ignore,
        skip_retained: bool = True,
        retain_state: bool = True,
        annotate_snapshots: bool = False,
        clock: Callable[[], float] = time.monotonic,
        retry: RetryPolicy | None = None,
        spool: Spool | None = None,
        spool_responses: bool = False,
        dedupe_window: float = 0.0,
        gate: OutgoingGate | None = None,
        own_output: tuple[str, ...] = (),
        frigate: FrigateConfig | None = None,
        frigate_api: FrigatePictures | None = None,
        rules: CameraRules | None = None,
        face_pictures: bool = False,
    ) -> None:
        self._stopping = threading.Event()
        self.retry = retry or RetryPolicy()
        self.latency = LatencyHistogram()  # engine round trips, for the /metrics endpoint
        self.queue = SnapshotQueue(clock=clock)
        self._reporter = Reporter(publisher, topics, retain_state=retain_state, clock=clock)
        self._reporter.add_sampler(self._sample)
        self._cameras = CameraDirectory(sources, on_new_camera, slugs=topics.slugs)
        self.inbox = Inbox()
        self._follower = _follower(
            frigate,
            frigate_api,
            FrigateFollowerParts(self.queue, self._cameras, self._reporter, clock),
            keep_images=annotate_snapshots or face_pictures,
        )
        self._intake = Intake(
            inbox=self.inbox,
            reporter=self._reporter,
            skip_retained=skip_retained,
            own_output=own_output,
            clock=clock,
        )
        self._decoder = Decoder(
            inbox=self.inbox,
            cameras=self._cameras,
            queue=self.queue,
            dedupe=RedeliveryFilter(dedupe_window, clock=clock),
            reporter=self._reporter,
            objects=self._follower,
        )
        self._delivery = Delivery(
            book=book,
            reporter=self._reporter,
            publisher=publisher,
            topics=topics,
            retain_state=retain_state,
            annotate_snapshots=annotate_snapshots,
            clock=clock,
            rules=rules,
            face_pictures=face_pictures,
        )
        if self._follower is not None:
            self._delivery.follow_objects(self._follower)
            self._follower.connect(self._delivery)
        engine = EngineCaller(
            recogniser=client,
            retry=self.retry,
            reporter=self._reporter,
            latency=self.latency,
            stopping=self._stopping,
        )
        self._replayer = (
            None
            if spool is None
            else Replayer(
                spool=spool,
                cameras=self._cameras,
                engine=engine,
                delivery=self._delivery,
                reporter=self._reporter,
                stopping=self._stopping,
                spool_responses=spool_responses,
            )
        )
        self._router = Router(
            cameras=self._cameras, engine=engine, delivery=self._delivery, replayer=self._replayer
        )
        self._pool = WorkerPool(
            queue=self.queue, router=self._router, reporter=self._reporter, size=workers, gate=gate
        )
        self._replay_thread: threading.Thread | None = None

    @property
    def health(self) -> Health:
        """The live counters (tests read them; reporting goes through `metrics()`)."""
        return self._reporter.health

    def metrics(self) -> BridgeMetrics:
        """A copy of every figure: what the bridge state and the health endpoint render."""
        return self._reporter.snapshot()

    def add_sampler(self, sampler: Sampler) -> None:
        """Fill figures owned outside the pipeline (the MQTT adapter's) into `metrics()`."""
        self._reporter.add_sampler(sampler)

    def _sample(self) -> dict[str, object]:
        figures: dict[str, object] = {
            "queue_pending": self.queue.pending() + len(self.inbox),
            "in_flight": self.queue.in_flight(),
            "latency": self.latency.snapshot(),
        }
        if self._follower is not None:
            figures["frigate_skipped_named"] = self._follower.skipped_named
        return figures

    # -- the app's calls ---------------------------------------------------------------------

    def on_message(self, source: Source, message: Incoming) -> None:
        """Put a message in the inbox for decoding; never blocks, never raises (paho's thread)."""
        self._intake.on_message(source, message)

    def mark_engine(self, *, reachable: bool, error: EconnectError | None = None) -> None:
        """Record the engine's reachability from outside the workers (the start-up sign-in)."""
        self._reporter.mark_engine(reachable=reachable, error=error)

    def add_subjects(
        self, *, persons: tuple[str, ...], tags: tuple[str, ...], announce: bool
    ) -> None:
        """Track more persons and tags (from the roster); publish them as absent if `announce`.

        Before the first announce there is nothing to send yet: the initial states name them.
        """
        self._delivery.add_subjects(persons=persons, tags=tags, announce=announce)

    def restore_states(self, messages: Iterable[tuple[str, bytes]]) -> Recovered:
        """Take back the states a previous run retained (once, before the first announce).

        The Frigate objects those states were decided on are never decided again: a restart
        while a person stands at the door gives no second event for them.
        """
        recovered = self._delivery.restore(messages)
        if self._follower is not None:
            decided = (state.frigate_event_id for state in recovered.cameras.values())
            self._follower.already_decided(event_id for event_id in decided if event_id)
        return recovered

    def publish_initial_states(self, cameras: tuple[str, ...]) -> None:
        """Announce every known camera, person and tag as absent (after connecting)."""
        self._delivery.initial(cameras)

    def tick(self) -> None:
        """Turn off expired presence; call about once a second."""
        self._delivery.expire()

    def publish_health(self) -> None:
        """Publish the health counters (retained when `retain_state`)."""
        self._reporter.publish_health()

    def publish_health_if_changed(self) -> bool:
        """Publish the health counters if they changed, at most once a second."""
        return self._reporter.publish_health_if_changed()

    # -- threads -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the decode and worker threads, and the replay thread when a spool is configured."""
        self._decoder.start()
        self._pool.start()
        if self._follower is not None:
            self._follower.start()
        if self._replayer is not None:
            thread = threading.Thread(target=self._replayer.run, name="econnect-spool", daemon=True)
            thread.start()
            self._replay_thread = thread

    def stop(self, timeout: float = 10.0) -> int:
        """Let in-flight calls finish, stop the workers; return how many were left unsent.

        Messages still in the inbox are decoded first. Snapshots still waiting for a worker are
        spooled when a spool is configured for their mode (they go out after the next start);
        otherwise each is reported as lost.
        """
        self._stopping.set()
        if self._follower is not None:
            self._follower.stop(timeout)  # no new pictures; those queued are answered or lost
        if self._replayer is not None:
            self._replayer.wake()
        self.inbox.close()
        self._decoder.join(timeout)
        for arrival in self.inbox.drain():  # the decode thread did not run, or ran out of time
            self._decoder.offer(arrival)
        left = 0
        for snapshot in self.queue.drain():
            if not self._router.spool(snapshot):
                left += 1
                error = ShuttingDownError("the bridge stopped before sending it")
                self._delivery.lose(snapshot, error)
            snapshot.ack()
        self.queue.close()
        deadline = time.monotonic() + timeout
        self._pool.join(deadline)
        if self._replay_thread is not None:
            self._replay_thread.join(max(0.0, deadline - time.monotonic()))
        if self._replayer is not None:
            self._replayer.close()
        return left

    def alive_threads(self) -> int:
        """Return how many worker, decode and replay threads run (tests check none died)."""
        replaying = self._replay_thread is not None and self._replay_thread.is_alive()
        following = self._follower is not None and self._follower.alive()
        return self._pool.alive() + int(self._decoder.alive()) + int(replaying) + int(following)
