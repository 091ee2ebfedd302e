"""From what the broker retains to what to publish: migration, removals, device configs.

Pure: the announcer (`announcer.py`) feeds it the retained configs it read back under
`discovery.discovery_subscription` and the device configs it is about to publish, and gets a
`Plan`, the messages to send in four steps. The steps follow Home Assistant's migration from
single-component to device-based discovery, in the order its MQTT integration needs so that
no entity is removed from the entity registry (and no history lost):

1. ``removals``: an older version's config of an entity that no longer exists (a camera, tag
   or person dropped from the configuration, an option turned off) is emptied: Home Assistant
   removes the entity, as it always did.
2. ``migrations``: ``{"migrate_discovery": true}`` on each older config of an entity that
   still exists. Home Assistant unloads the entity and keeps its registry entry (entity id,
   unique id, name, area, history). Then a pause (`MIGRATION_PAUSE`): the device configs must
   not arrive while the old entity is still loaded, or Home Assistant refuses the new one as a
   duplicate unique id.
3. ``devices``: the device configs. Home Assistant adds each entity again from its registry
   entry (found by unique id). A device config retained from an earlier run gets a
   ``{"platform": ...}`` entry for each entity it had and the new one lacks (Home Assistant's
   way to remove one entity of a device); a device config no longer published is emptied,
   which removes the device and its entities.
4. ``cleanups``: the migrated older configs are emptied, so that they are not read again at
   the next start. Safe once step 2 is out: an empty payload after the migration request on
   the same topic reaches Home Assistant after it, when the entity is no longer bound to that
   topic, so nothing is removed.

With nothing from an older version on the broker, steps 1, 2 and 4 are empty and there is
no pause: a second start sends the device configs only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from econnect_bridge.discovery import DiscoveryMessage, component_removal

#: The payload that puts one single-component config into Home Assistant's migration mode.
MIGRATE_PAYLOAD: Mapping[str, bool] = {"migrate_discovery": True}

#: Seconds between the migration requests and the device configs: Home Assistant unloads the
#: old entities in between (a few milliseconds on an idle one; a margin for a busy one).
MIGRATION_PAUSE = 3.0

DEVICE_COMPONENT = "device"


@dataclass(frozen=True, slots=True)
class Plan:
    """The messages of one announce, in the order they are to be published."""

    removals: tuple[DiscoveryMessage, ...] = ()
    migrations: tuple[DiscoveryMessage, ...] = ()
    devices: tuple[DiscoveryMessage, ...] = ()
    cleanups: tuple[DiscoveryMessage, ...] = ()
    #: Older configs that neither exist now nor may be removed yet (cameras still to be seen).
    waiting: Mapping[str, bytes] | None = None

    @property
    def pause(self) -> bool:
        """Whether to wait `MIGRATION_PAUSE` between the migrations and the device configs."""
        return bool(self.migrations)


def topic_component(topic: str) -> str:
    """The component level of `<prefix>/<component>/<node>/<id>/config` (`device` or a platform)."""
    return topic.split("/")[-4]


def entity_topic(device_message_topic: str, platform: str, unique_id: str) -> str:
    """The single-component topic an older version used for the entity `unique_id`.

    A device topic is `<prefix>/device/<node>/<device_id>/config`; the entity's was
    `<prefix>/<platform>/<node>/<unique_id>/config`.
    """
    *prefix, _device, node, _device_id, _config = device_message_topic.split("/")
    return "/".join((*prefix, platform, node, unique_id, "config"))


def components(payload: Mapping[str, Any] | bytes) -> dict[str, dict[str, Any]]:
    """The `components` of a device config (published or retained); {} when unreadable."""
    try:
        data = json.loads(payload) if isinstance(payload, bytes) else payload
    except ValueError:
        return {}
    found = data.get("components") if isinstance(data, dict) else None
    if not isinstance(found, dict):
        return {}
    return {key: value for key, value in found.items() if isinstance(value, dict)}


def current_entities(devices: Iterable[DiscoveryMessage]) -> dict[str, str]:
    """Each entity of the device configs → the single-component topic it had before."""
    found: dict[str, str] = {}
    for message in devices:
        for unique_id, component in components(message.payload).items():
            topic = entity_topic(message.topic, str(component["platform"]), unique_id)
            found[topic] = message.topic
    return found


def plan(
    retained: Mapping[str, bytes], devices: Iterable[DiscoveryMessage], *, prune: bool
) -> Plan:
    """Decide what to publish, given the configs the broker retains and the device configs.

    `prune` is false while cameras may still appear (cameras learnt from traffic): then the
    configs of entities not known yet are kept (`Plan.waiting`), not removed.
    """
    devices = list(devices)
    entities = current_entities(devices)
    published = tuple(_with_removals(devices, retained))
    old = {t: p for t, p in retained.items() if p and topic_component(t) != DEVICE_COMPONENT}
    migrate = sorted(topic for topic in old if topic in entities)
    stale = sorted(topic for topic in old if topic not in entities)
    return Plan(
        removals=tuple(_empty(topic) for topic in stale) if prune else (),
        migrations=tuple(DiscoveryMessage(topic, MIGRATE_PAYLOAD) for topic in migrate),
        devices=published + _device_removals(devices, retained) if prune else published,
        cleanups=tuple(_empty(topic) for topic in migrate),
        waiting={} if prune else {topic: old[topic] for topic in stale},
    )


def _empty(topic: str) -> DiscoveryMessage:
    return DiscoveryMessage(topic, b"", retain=True)


def _with_removals(
    devices: list[DiscoveryMessage], retained: Mapping[str, bytes]
) -> list[DiscoveryMessage]:
    """Each device config, plus a platform-only entry for each entity its retained one had."""
    result = []
    for message in devices:
        before = components(retained.get(message.topic, b""))
        now = components(message.payload)
        gone = {
            key: component_removal(str(value["platform"]))
            for key, value in before.items()
            if key not in now and "platform" in value and len(value) > 1
        }
        if gone and isinstance(message.payload, Mapping):
            payload = {**message.payload, "components": {**now, **gone}}
            result.append(DiscoveryMessage(message.topic, payload, message.retain, message.qos))
        else:
            result.append(message)
    return result


def _device_removals(
    devices: list[DiscoveryMessage], retained: Mapping[str, bytes]
) -> tuple[DiscoveryMessage, ...]:
    """Empty payloads for the retained device configs no longer published (a camera gone)."""
    current = {message.topic for message in devices}
    return tuple(
        _empty(topic)
        for topic, payload in sorted(retained.items())
        if payload and topic_component(topic) == DEVICE_COMPONENT and topic not in current
    )
