"""Frigate's events mode: tracked objects in, one recognition outcome per object out.

Frigate says on `<prefix>/events` when it tracks an object and when it finds a better picture
of it. Answering every message would name the same person again and again; answering only the
first would miss the face that turns up later. What to do is decided by the core's
`ObjectFollower`, the same class the bridge uses; this module only carries its decisions out
in Home Assistant's terms:

* messages come through Home Assistant's MQTT integration (`mqtt.async_subscribe`);
* each `Fetch` is a background task of the entry: the picture over Frigate's HTTP API
  (`frigate_aio`, on HA's shared aiohttp session), then `Recognizer.async_attempt`, which asks
  the engine but shows nothing; the follower never has two fetches in flight for one object;
* each `Publish` goes to `Recognizer.async_deliver`, which updates the entities and fires the
  bus event once, with the Frigate object (`FrigateRef`) in it;
* each `WriteSubLabel` writes the name back to Frigate, retried on transient errors;
* polls and time limits (`next_due`/`due`) run on one `async_call_later` timer, moved after
  every decision and cancelled on unload, with the subscriptions.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import aiohttp
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.aiohttp_client import async_create_clientsession
from homeassistant.helpers.event import async_call_later

from econnect_identities.frigate import (
    FrigateMessageError,
    FrigateObject,
    FrigateRef,
    event_link,
    parse_event,
    parse_face_update,
)
from econnect_identities.frigate_aio import AsyncFrigateClient
from econnect_identities.frigate_http import FrigateApiError
from econnect_identities.tracking import (
    Action,
    Fetch,
    ObjectFollower,
    Publish,
    WriteSubLabel,
    summarise,
)

from .const import (
    CONF_FRIGATE_PASSWORD,
    CONF_FRIGATE_USERNAME,
    CONNECT_TIMEOUT,
    FRIGATE_WRITE_BACKOFF,
    FRIGATE_WRITE_TRIES,
    LOGGER,
    REQUEST_TIMEOUT,
)
from .data import EconnectConfigEntry
from .options import FrigateOptions
from .recognizer import Attempt, Recognizer

if TYPE_CHECKING:
    from homeassistant.components.mqtt import ReceiveMessage


def frigate_session(hass: HomeAssistant, *, auto_cleanup: bool = True) -> aiohttp.ClientSession:
    """Return a session of our own for Frigate, whose cookie jar keeps nothing.

    Frigate's login answers with its session cookie. In Home Assistant's shared session that
    cookie would be stored for Frigate's host and sent by every other integration talking to
    it (Frigate's own integration among them), under our user's role. The driver presents the
    token itself, so this session keeps no cookies at all. Made during an entry's setup, Home
    Assistant detaches it when the entry unloads; with `auto_cleanup` false the caller calls
    `detach()` when done (the config flow).
    """
    return async_create_clientsession(
        hass, auto_cleanup=auto_cleanup, cookie_jar=aiohttp.DummyCookieJar()
    )


def frigate_client(
    session: aiohttp.ClientSession, data: Mapping[str, Any], options: FrigateOptions
) -> AsyncFrigateClient:
    """Build the Frigate client of an entry over `session` (see `frigate_session`).

    Raises:
        ValueError: A user without a password (or the reverse).
    """
    return AsyncFrigateClient(
        session,
        options.url,
        username=data.get(CONF_FRIGATE_USERNAME) or None,
        password=data.get(CONF_FRIGATE_PASSWORD) or None,
        timeout=REQUEST_TIMEOUT,
        connect_timeout=CONNECT_TIMEOUT,
    )


def camera_name(camera: str) -> str:
    """Return the human name of a Frigate camera, as Frigate's own integration shows it."""
    return camera.replace("_", " ").strip().title() or camera


async def async_frigate_sources(
    client: AsyncFrigateClient, options: FrigateOptions
) -> dict[str, str]:
    """Return the Frigate cameras that become sources, each with its human name.

    The cameras listed in the options, or else every camera Frigate has. Frigate being away
    at setup must not stop the engine's entry: its cameras then get their entities at the
    next reload, and their objects are still followed and announced on the bus meanwhile.
    """
    cameras: tuple[str, ...] = tuple(sorted(options.follow.cameras))
    if not cameras:
        try:
            cameras = await client.cameras()
        except FrigateApiError as err:
            LOGGER.warning("Frigate's cameras could not be read; none get entities yet: %s", err)
    return {camera: camera_name(camera) for camera in cameras}


@dataclass(slots=True)
class FrigateCounters:
    """What events mode did since setup (diagnostics)."""

    fetches: int = 0
    fetch_failures: int = 0
    corrections: int = 0
    sub_labels: int = 0
    sub_label_failures: int = 0


class FrigateEvents:
    """Carry out the core follower's decisions for one entry's Frigate (event loop only)."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EconnectConfigEntry,
        client: AsyncFrigateClient,
        options: FrigateOptions,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hass = hass
        self.entry = entry
        self.client = client
        self.options = options
        self.counters = FrigateCounters()
        self._clock = clock
        self._follower: ObjectFollower[Attempt] = ObjectFollower(options.follow)
        self._timer: CALLBACK_TYPE | None = None
        self._timer_due: float | None = None
        self._publish_lock = asyncio.Lock()  # outcomes are shown in the order decided
        self._closed = False

    @property
    def recognizer(self) -> Recognizer:
        """Return the entry's recognizer (built before the platforms, like this object)."""
        return self.entry.runtime_data.recognizer

    @property
    def followed(self) -> int:
        """Return how many tracked objects are followed now."""
        return len(self._follower)

    @property
    def skipped_named(self) -> int:
        """Return how many objects were left to Frigate's own face recognition."""
        return self._follower.skipped_named

    # -- life cycle ---------------------------------------------------------------------------

    async def async_start(self) -> None:
        """Subscribe to Frigate's two topics; unloading the entry unsubscribes and stops."""
        from homeassistant.components import mqtt

        for topic, handler in (
            (self.options.events_topic, self._async_event_message),
            (self.options.face_updates_topic, self._async_face_message),
        ):
            unsubscribe = await mqtt.async_subscribe(self.hass, topic, handler, encoding=None)
            self.entry.async_on_unload(unsubscribe)
        self.entry.async_on_unload(self.async_stop)

    @callback
    def async_stop(self) -> None:
        """Stop deciding: cancel the timer (the entry cancels the tasks still running)."""
        self._closed = True
        self._cancel_timer()

    # -- in: messages --------------------------------------------------------------------------

    @callback
    def _async_event_message(self, msg: ReceiveMessage) -> None:
        """Take one `frigate/events` message."""
        if msg.retain:
            return  # Frigate never retains it; a retained copy is someone else's old news
        try:
            obj = parse_event(_payload(msg))
        except FrigateMessageError as err:
            LOGGER.warning("Frigate event on %s ignored: %s", msg.topic, err)
            return
        self._act(self._follower.on_event(obj, self._clock()))

    @callback
    def _async_face_message(self, msg: ReceiveMessage) -> None:
        """Take Frigate's own face result: it may name the object before we do."""
        try:
            update = parse_face_update(_payload(msg))
        except FrigateMessageError as err:
            LOGGER.warning("Frigate update on %s ignored: %s", msg.topic, err)
            return
        if update is not None:
            self._act(self._follower.on_face_update(update, self._clock()))

    # -- out: decisions ------------------------------------------------------------------------

    @callback
    def _act(self, actions: list[Action[Attempt]]) -> None:
        """Start what the follower decided, then move the timer to its next due time."""
        if self._closed:
            return
        for action in actions:
            event_id = action.obj.event_id
            if isinstance(action, Fetch):
                self._spawn(self._async_fetch(action.obj), f"fetch {event_id}")
            elif isinstance(action, Publish):
                self._spawn(self._async_publish(action), f"outcome {event_id}")
            elif isinstance(action, WriteSubLabel):
                self._spawn(self._async_write(action), f"sub_label {event_id}")
        self._schedule()

    def _spawn(self, job: Coroutine[Any, Any, None], name: str) -> None:
        self.entry.async_create_background_task(self.hass, job, f"econnect frigate {name}")

    async def _async_fetch(self, obj: FrigateObject) -> None:
        """Make one attempt and report it, whatever happened (the follower waits for it).

        An unreported attempt would keep the object "in flight" and so never decided: a bug
        costs this one attempt, not the object.
        """
        try:
            attempt = await self._async_attempt(obj)
        except Exception:  # noqa: BLE001 - logged with its traceback; the object goes on
            LOGGER.exception("%s: unexpected error on Frigate object %s", obj.camera, obj.event_id)
            attempt = None
        if attempt is not None and attempt.judgement.nothing_left:
            attempt = None  # only excluded people: never an outcome nor a sub_label
        summary = None if attempt is None else summarise(attempt.judgement)
        self._act(self._follower.attempt_done(obj.event_id, summary, attempt, self._clock()))

    async def _async_attempt(self, obj: FrigateObject) -> Attempt | None:
        """Fetch the object's best picture and ask the engine; None when either fails."""
        try:
            image = await self.client.snapshot(obj.event_id, crop=True)
        except FrigateApiError as err:
            self.counters.fetch_failures += 1
            LOGGER.warning(
                "%s: picture of Frigate object %s not fetched: %s", obj.camera, obj.event_id, err
            )
            return None
        if image is None:
            return None  # no best frame yet, or the object ended without a stored snapshot
        self.counters.fetches += 1
        try:
            return await self.recognizer.async_attempt(obj.camera, image)
        except HomeAssistantError as err:
            LOGGER.warning(
                "%s: Frigate object %s not recognised: %s", obj.camera, obj.event_id, err
            )
            return None

    async def _async_publish(self, action: Publish[Attempt]) -> None:
        """Show the object's outcome (or its one correction) on the entities and the bus."""
        obj = action.obj
        ref = FrigateRef(
            event_id=obj.event_id,
            camera=obj.camera,
            label=obj.label,
            score=obj.score,
            zones=obj.entered_zones,
            url=event_link(self.options.url, obj.event_id),
            correction=action.correction,
        )
        if action.correction:
            self.counters.corrections += 1
        async with self._publish_lock:
            await self.recognizer.async_deliver(action.payload, ref)

    async def _async_write(self, action: WriteSubLabel) -> None:
        """Write the name back to Frigate; retry a transient failure with a growing pause."""
        obj = action.obj
        for attempt in range(FRIGATE_WRITE_TRIES):
            try:
                await self.client.set_sub_label(obj.event_id, action.name, round(action.score, 4))
            except FrigateApiError as err:
                if err.transient and attempt + 1 < FRIGATE_WRITE_TRIES:
                    await asyncio.sleep(FRIGATE_WRITE_BACKOFF * 2**attempt)
                    continue
                self.counters.sub_label_failures += 1
                LOGGER.warning(
                    "%s: sub_label of Frigate object %s not written: %s",
                    obj.camera,
                    obj.event_id,
                    err,
                )
                return
            self.counters.sub_labels += 1
            LOGGER.debug("%s: Frigate object %s named %s", obj.camera, obj.event_id, action.name)
            return

    # -- time ----------------------------------------------------------------------------------

    @callback
    def _schedule(self) -> None:
        """Run `due` when the follower next has a poll or a time limit, and not before."""
        self._cancel_timer()
        due = None if self._closed else self._follower.next_due()
        if due is None:
            return
        self._timer_due = due
        self._timer = async_call_later(self.hass, max(0.0, due - self._clock()), self._async_due)

    @callback
    def _async_due(self, _now: datetime) -> None:
        """The due time came: a timer may fire a little early, so it counts as reached."""
        due, self._timer, self._timer_due = self._timer_due, None, None
        now = self._clock() if due is None else max(self._clock(), due)
        self._act(self._follower.due(now))

    @callback
    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer()
            self._timer, self._timer_due = None, None


def _payload(msg: ReceiveMessage) -> bytes | str:
    """The message's payload as `parse_event` takes it (bytes: subscribed without encoding)."""
    payload = msg.payload
    return payload if isinstance(payload, str) else bytes(payload)


async def async_setup_frigate(hass: HomeAssistant, entry: EconnectConfigEntry) -> None:
    """Start events mode when the entry has a Frigate URL and MQTT is set up."""
    runtime = entry.runtime_data
    if runtime.frigate is not None:
        await runtime.frigate.async_start()


async def async_prepare_frigate(
    hass: HomeAssistant, entry: EconnectConfigEntry, options: FrigateOptions | None
) -> tuple[FrigateEvents | None, dict[str, str]]:
    """Build events mode and learn Frigate's cameras, before the recognizer and platforms.

    Events mode needs MQTT: without it the Frigate options are kept but nothing is followed.
    """
    if options is None:
        return None, {}
    if "mqtt" not in hass.config.components:
        LOGGER.warning("Frigate's events mode needs Home Assistant's MQTT integration")
        return None, {}
    client = frigate_client(frigate_session(hass), entry.data, options)
    sources = await async_frigate_sources(client, options)
    return FrigateEvents(hass, entry, client, options), sources
