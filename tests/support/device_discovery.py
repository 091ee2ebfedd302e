"""Read Home Assistant device discovery back the way Home Assistant does, for the tests.

The bridge announces one retained config per device on
`<prefix>/device/<node_id>/<device_id>/config`, each entity an entry of its `components`
keyed by unique id. A test that asks "is the entity X announced, on which topics" reads the
entries back through these functions instead of parsing every payload itself: only the
latest config of each device counts (a newer one replaces it), an empty payload removes the
device, and an entry with its `platform` alone removes that entity.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

#: The component level of a device config's topic.
DEVICE_LEVEL = "device"


def is_device_config(topic: str) -> bool:
    """Whether `topic` is a device config: `<prefix>/device/<node_id>/<device_id>/config`."""
    levels = topic.split("/")
    return len(levels) == 5 and levels[1] == DEVICE_LEVEL and levels[4] == "config"


def entries(payload: bytes) -> dict[str, dict[str, Any]]:
    """The entities one device config announces, by unique id (removal entries left out).

    An empty payload (the device removed) announces nothing.
    """
    if not payload:
        return {}
    found = json.loads(payload)["components"]
    return {
        unique_id: component
        for unique_id, component in found.items()
        if set(component) != {"platform"}
    }


def announced(messages: Iterable[tuple[str, bytes]]) -> dict[str, dict[str, Any]]:
    """The entities announced after `messages` (topic, payload) in order, by unique id.

    Each device's latest config is what Home Assistant holds; messages on other topics are
    ignored.
    """
    latest: dict[str, bytes] = {}
    for topic, payload in messages:
        if is_device_config(topic):
            latest[topic] = payload
    result: dict[str, dict[str, Any]] = {}
    for payload in latest.values():
        result.update(entries(payload))
    return result
