"""Home Assistant discovery over a run: what was announced, and what to add or remove.

`discovery.py` turns a context (cameras, tags, persons) into device configs and
`discovery_migration.py` decides what the broker's retained configs call for; this module keeps
the state around them. It remembers the retained configs the broker held for this bridge at
connect (so that the first announce can migrate an older version's single-component configs
and remove what the configuration dropped), the payload of every device config it published
(so that a new camera or a roster sends only the devices that changed), and whether the first
announce happened (it also publishes the first states). It publishes through the small
`Publisher` port and never touches paho.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace

from econnect_bridge.discovery import DiscoveryContext, DiscoveryMessage, device_messages
from econnect_bridge.discovery_migration import MIGRATION_PAUSE, Plan, components, plan
from econnect_bridge.messages import Incoming
from econnect_bridge.ports import Publisher

_LOGGER = logging.getLogger("econnect_bridge.app")  # the announce lines, where they always were

#: Called once, at the first announce, with every camera known then (publishes first states).
FirstStates = Callable[[tuple[str, ...]], None]


class DiscoveryAnnouncer:
    """Publish the device configs of the bridge's entities and keep them in step with the run.

    `dynamic` is true when cameras may appear at run time (a `{camera}` topic, Frigate without
    a camera list): then configs of cameras not known yet are never removed as stale; an older
    version's configs of such a camera are migrated when it appears. `sleep` waits out the
    pause of a migration (see `discovery_migration`).
    """

    def __init__(
        self,
        *,
        context: DiscoveryContext,
        publisher: Publisher,
        first_states: FirstStates,
        dynamic: bool,
        enabled: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._context = context
        self._publisher = publisher
        self._first_states = first_states
        self._dynamic = dynamic
        self._enabled = enabled
        self._sleep = sleep
        self._lock = threading.Lock()  # paho's thread adds seen configs; the main loop reads
        self._seen: dict[str, bytes] = {}
        self._waiting: dict[str, bytes] = {}  # older configs of cameras not seen yet
        self._published: dict[str, bytes] = {}
        self._announced = False

    @property
    def context(self) -> DiscoveryContext:
        """The cameras, tags and persons the entities are announced for now."""
        return self._context

    @property
    def announced(self) -> bool:
        """Whether the first announce (with its clean-up and first states) has happened."""
        return self._announced

    def note_retained(self, message: Incoming) -> None:
        """Remember a retained config the broker holds for this bridge (paho's thread)."""
        if message.retain and message.payload:
            with self._lock:
                self._seen[message.topic] = message.payload

    def announce(self) -> int:
        """Publish every device config; the first time, migrate and remove first (see module).

        Return how many entities the device configs announce (removals not counted).
        """
        if not self._enabled:
            return 0
        devices = device_messages(self._context)
        if self._announced:
            self._carry_out(Plan(devices=tuple(devices)))
        else:
            self._announced = True
            with self._lock:
                seen = dict(self._seen)
            first = plan(seen, devices, prune=not self._dynamic)
            self._waiting = dict(first.waiting or {})
            self._first_states(self._context.cameras)
            self._carry_out(first)
        count = _entity_count(devices)
        _LOGGER.info("Announced %d Home Assistant entities", count)
        return count

    def add_camera(self, camera: str) -> int:
        """Add the entities of a camera first seen at run time; return how many were sent."""
        if camera in self._context.cameras or not self._enabled:
            return 0
        self._context = replace(self._context, cameras=(*self._context.cameras, camera))
        return self._publish_changed() if self._announced else 0

    def add_subjects(self, *, tags: tuple[str, ...], persons: tuple[str, ...]) -> bool:
        """Add tags and persons (from the engine's roster); return whether any was new.

        Before the first announce only the context grows (the announce sends everything);
        after it, only the device configs that changed are sent.
        """
        ctx = self._context
        tags = tuple(dict.fromkeys((*ctx.tags, *tags)))
        persons = tuple(dict.fromkeys((*ctx.persons, *persons)))
        if (tags, persons) == (ctx.tags, ctx.persons):
            return False
        self._context = replace(ctx, tags=tags, persons=persons)
        if self._announced and self._enabled:
            self._publish_changed()
        return True

    def _publish_changed(self) -> int:
        """Send the device configs that changed; migrate the waiting configs they now cover.

        Return how many entities the changed device configs hold.
        """
        changed = [
            message
            for message in device_messages(self._context)
            if self._published.get(message.topic) != message.encode()
        ]
        step = plan(self._waiting, changed, prune=False)
        self._waiting = dict(step.waiting or {})
        self._carry_out(step)
        return _entity_count(changed)

    def _carry_out(self, steps: Plan) -> None:
        """Publish a plan's messages in order, pausing after the migration requests."""
        self._send_all((*steps.removals, *steps.migrations))
        if steps.pause:
            _LOGGER.info(
                "Moving %d Home Assistant entities to device-based discovery",
                len(steps.migrations),
            )
            self._sleep(MIGRATION_PAUSE)
        self._send_all((*steps.devices, *steps.cleanups))

    def _send_all(self, messages: Iterable[DiscoveryMessage]) -> None:
        for message in messages:
            payload = message.encode()
            if payload:
                self._published[message.topic] = payload
            else:
                self._published.pop(message.topic, None)
            self._publisher.publish(message.topic, payload, retain=message.retain, qos=1)


def _entity_count(devices: Iterable[DiscoveryMessage]) -> int:
    """How many entities device configs announce (platform-only removal entries excluded)."""
    return sum(
        sum(1 for component in components(m.payload).values() if len(component) > 1)
        for m in devices
    )
