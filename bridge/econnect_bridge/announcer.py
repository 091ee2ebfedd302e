"""Home Assistant discovery over a run: what was announced, and what to add or remove.

`discovery.py` turns a context (cameras, tags, persons) into config messages; this module keeps
the state around it. It remembers the retained configs the broker held for this bridge at
connect (so that the first announce can remove what the configuration dropped), the payload of
every config it published (so that a new camera or a roster adds only what changed), and
whether the first announce happened (it also publishes the first states). It publishes through
the small `Publisher` port and never touches paho.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace

from econnect_bridge.discovery import DiscoveryContext, discovery_messages, removal_messages
from econnect_bridge.messages import Incoming
from econnect_bridge.ports import Publisher

_LOGGER = logging.getLogger("econnect_bridge.app")  # the announce lines, where they always were

#: Called once, at the first announce, with every camera known then (publishes first states).
FirstStates = Callable[[tuple[str, ...]], None]


class DiscoveryAnnouncer:
    """Publish discovery configs for the bridge's entities and keep them in step with the run.

    `dynamic` is true when cameras may appear at run time (a `{camera}` topic, Frigate without
    a camera list): then configs of cameras not known yet are never removed as stale.
    """

    def __init__(
        self,
        *,
        context: DiscoveryContext,
        publisher: Publisher,
        first_states: FirstStates,
        dynamic: bool,
        enabled: bool = True,
    ) -> None:
        self._context = context
        self._publisher = publisher
        self._first_states = first_states
        self._dynamic = dynamic
        self._enabled = enabled
        self._lock = threading.Lock()  # paho's thread adds seen configs; the main loop reads
        self._seen: set[str] = set()
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
                self._seen.add(message.topic)

    def announce(self) -> int:
        """Publish every config; the first time also remove stale ones and publish first states.

        Return how many entity configs were published (removals not counted).
        """
        if not self._enabled:
            return 0
        messages = discovery_messages(self._context)
        count = len(messages)
        if not self._announced:
            self._announced = True
            if not self._dynamic:
                with self._lock:
                    seen = set(self._seen)
                messages = removal_messages(seen, [m.topic for m in messages]) + messages
            self._first_states(self._context.cameras)
        for message in messages:
            self._send(message.topic, message.encode(), retain=message.retain)
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
        after it, only the configs that changed are sent.
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
        sent = 0
        for message in discovery_messages(self._context):
            payload = message.encode()
            if self._published.get(message.topic) != payload:
                self._send(message.topic, payload, retain=message.retain)
                sent += 1
        return sent

    def _send(self, topic: str, payload: bytes, *, retain: bool) -> None:
        if payload:
            self._published[topic] = payload
        else:
            self._published.pop(topic, None)
        self._publisher.publish(topic, payload, retain=retain, qos=1)
