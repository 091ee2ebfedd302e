"""The main thread's control loop: react to what the other threads report, on one thread.

paho's thread, the workers and the sign-in thread never announce or publish health themselves:
they put a `ControlEvent` on the loop's queue. A moment after the broker first connects (once
the retained configs and states came in) the loop has the previous run's states restored, then
announces discovery and at once when Home Assistant
comes back online, adds the entities of a camera first seen at run time, applies the engine's
roster, ticks presence timers, and publishes health on change and every `HEALTH_EVERY` seconds.
Its clock is injected and `step()` does one turn, so tests drive it without sleeping.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from econnect_bridge.announcer import DiscoveryAnnouncer
from econnect_bridge.roster import Roster

_LOGGER = logging.getLogger("econnect_bridge.app")  # the roster line, where it always was

#: Seconds between two health publishes when nothing changed.
HEALTH_EVERY = 30.0
#: At most this long (s) the first announce waits for the engine's roster.
ROSTER_WAIT = 5.0
#: After connecting, how long retained discovery configs are collected before the announce.
DISCOVERY_SETTLE = 1.0
#: How long one turn waits for an event before ticking the timers anyway.
TURN = 0.5

EventKind = Literal["connected", "disconnected", "ha_online", "roster", "camera", "stop"]


@dataclass(frozen=True, slots=True)
class ControlEvent:
    """Something another thread reports: its kind, and the camera or roster it is about."""

    kind: EventKind
    camera: str = ""
    roster: Roster | None = None


class ControlledPipeline(Protocol):
    """What the loop asks of the pipeline."""

    def add_subjects(
        self, *, persons: tuple[str, ...], tags: tuple[str, ...], announce: bool
    ) -> None:
        """Track more persons and tags; publish them as absent if `announce`."""

    def tick(self) -> None:
        """Turn off expired presence."""

    def publish_health(self) -> None:
        """Publish the health counters."""

    def publish_health_if_changed(self) -> bool:
        """Publish the health counters if they changed; return whether it did."""


class StopFlag(Protocol):
    """What the loop asks each turn: must it stop? A `threading.Event` is one."""

    def is_set(self) -> bool:
        """Return whether the loop must stop."""


class ControlLoop:
    """Run the bridge's timers and announces on the thread that calls `run()`.

    `roster_expected` says whether a roster is on its way at start; the first announce waits
    up to `ROSTER_WAIT` for it, so that the clean-up of stale configs does not delete the
    entities of people the roster is about to name. `restore` is called once, at the end of
    the first settle time, whether or not Home Assistant discovery is on.
    """

    def __init__(
        self,
        *,
        announcer: DiscoveryAnnouncer,
        pipeline: ControlledPipeline,
        roster_expected: bool = False,
        restore: Callable[[], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._restore = restore
        self._announcer = announcer
        self._pipeline = pipeline
        self._roster_pending = roster_expected
        self._clock = clock
        self._events: queue.Queue[ControlEvent] = queue.Queue()
        self._announce_at: float | None = None
        self._next_health = clock()

    def put(self, event: ControlEvent) -> None:
        """Report an event (any thread; never blocks)."""
        self._events.put(event)

    def run(self, stopping: StopFlag) -> None:
        """Turn until `stopping` is set (a "stop" event wakes the loop at once)."""
        while not stopping.is_set():
            try:
                event: ControlEvent | None = self._events.get(timeout=TURN)
            except queue.Empty:
                event = None
            self.step(event)

    def step(self, event: ControlEvent | None) -> None:
        """Handle one event (or none), then run whatever timers are due."""
        now = self._clock()
        if event is not None:
            self._handle(event, now)
        if self._restore is not None and self._announce_at is not None and now >= self._announce_at:
            restore, self._restore = self._restore, None
            restore()  # once: the states a previous run retained, before anything is announced
        roster_wait = ROSTER_WAIT if self._roster_pending else 0.0
        if self._announce_at is not None and now >= self._announce_at + roster_wait:
            self._announce_at = None
            self._announcer.announce()
        self._pipeline.tick()
        if now >= self._next_health:
            self._pipeline.publish_health()
            self._next_health = now + HEALTH_EVERY
        elif self._pipeline.publish_health_if_changed():
            self._next_health = now + HEALTH_EVERY

    def _handle(self, event: ControlEvent, now: float) -> None:
        if event.kind == "connected":
            self._announce_at = now + DISCOVERY_SETTLE
            self._next_health = now
        elif event.kind == "ha_online":
            self._announce_at = now
        elif event.kind == "camera":
            self._announcer.add_camera(event.camera)
        elif event.kind == "roster":
            self._apply_roster(event.roster or Roster())

    def _apply_roster(self, roster: Roster) -> None:
        """Pre-create entities for the tags and people the engine's roster names."""
        self._roster_pending = False
        if not self._announcer.add_subjects(tags=roster.tags, persons=roster.persons):
            return
        ctx = self._announcer.context
        _LOGGER.info(
            "Roster: %d tag(s) and %d person(s) from the engine", len(ctx.tags), len(ctx.persons)
        )
        self._pipeline.add_subjects(
            persons=ctx.persons, tags=ctx.tags, announce=self._announcer.announced
        )
