"""The worker pool: take the newest snapshot of a camera, and route it to its outcome.

A fixed number of threads share one engine client. Each snapshot goes to the engine (with
retries, through the circuit) and its answer to delivery; when the engine is away it goes to
the spool if one takes it, or else is reported lost. A worker never dies of a snapshot: an
unexpected error is logged and reported, and the worker takes the next one.
"""

from __future__ import annotations

import logging
import threading
import time

from econnect_bridge.cameras import CameraDirectory
from econnect_bridge.delivery import Delivery
from econnect_bridge.engine_stage import CircuitOpenError, EngineCaller, ShuttingDownError
from econnect_bridge.ports import AlwaysRoom, OutgoingGate
from econnect_bridge.replay import Replayer, spoolable
from econnect_bridge.reporting import Reporter
from econnect_bridge.sources import Snapshot
from econnect_bridge.throttle import SnapshotQueue
from econnect_identities.errors import EconnectError

_LOGGER = logging.getLogger("econnect_bridge.pipeline")  # the pipeline's log lines, as before
#: How often (s) a worker waiting for room on the outgoing path checks for shutdown.
GATE_TURN = 0.5


class Router:
    """Decide what becomes of one snapshot: engine and delivery, the spool, or lost."""

    def __init__(
        self,
        *,
        cameras: CameraDirectory,
        engine: EngineCaller,
        delivery: Delivery,
        replayer: Replayer | None,
    ) -> None:
        self._cameras = cameras
        self._engine = engine
        self._delivery = delivery
        self._replayer = replayer

    def process(self, snapshot: Snapshot) -> None:
        """Send a snapshot to the engine and deliver the answer, or spool it, or lose it."""
        source = self._cameras.source_for(snapshot.camera)
        assert source is not None, "the intake learns a camera before queueing its snapshot"
        replayer = None if snapshot.frigate is not None else self._replayer
        if replayer is not None and replayer.has_waiting() and replayer.keep(snapshot):
            return  # older snapshots wait in the spool: keep the order
        try:
            result, latency = self._engine.call_with_retries(snapshot, source)
        except (EconnectError, CircuitOpenError, ShuttingDownError) as err:
            if not (spoolable(err) and self.spool(snapshot)):
                self._delivery.lose(snapshot, err)
            return
        self._delivery.deliver(snapshot, source, result, latency, delayed=False)

    def spool(self, snapshot: Snapshot) -> bool:
        """Keep a snapshot for later if a spool takes it; return whether one did.

        A Frigate object's picture is never spooled: by the time the engine is back, Frigate
        has better ones of the object, or it has gone.
        """
        if snapshot.frigate is not None:
            return False
        return self._replayer is not None and self._replayer.keep(snapshot)


class WorkerPool:
    """A fixed pool of threads taking snapshots from the queue until it closes.

    A worker takes its next snapshot only when the outgoing path has room (`gate`): while the
    broker is behind, snapshots wait in the latest-wins queue, where a newer one supersedes an
    older one (counted), instead of results piling up in the outgoing queue.
    """

    def __init__(
        self,
        *,
        queue: SnapshotQueue,
        router: Router,
        reporter: Reporter,
        size: int,
        gate: OutgoingGate | None = None,
    ) -> None:
        self._gate = gate or AlwaysRoom()
        self._queue = queue
        self._router = router
        self._reporter = reporter
        self._size = size
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the worker threads."""
        for index in range(self._size):
            thread = threading.Thread(target=self._work, name=f"econnect-worker-{index}")
            thread.daemon = True
            thread.start()
            self._threads.append(thread)

    def join(self, deadline: float) -> None:
        """Wait for every worker until the monotonic `deadline`."""
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def alive(self) -> int:
        """Return how many worker threads are running."""
        return sum(1 for thread in self._threads if thread.is_alive())

    def _work(self) -> None:
        while (snapshot := self._next()) is not None:
            try:
                self._router.process(snapshot)
            except Exception:
                _LOGGER.exception("unexpected error processing a snapshot from %s", snapshot.camera)
                self._reporter.error("internal_error", "unexpected error", snapshot.camera, None)
            finally:
                self._queue.done(snapshot.queue_key)
                snapshot.ack()  # its result, error event or spooled copy is out

    def _next(self) -> Snapshot | None:
        """Wait for room on the outgoing path, then for a snapshot; None once closed."""
        while not self._gate.wait_for_room(GATE_TURN):
            if self._queue.closed:
                return None
        return self._queue.take()
