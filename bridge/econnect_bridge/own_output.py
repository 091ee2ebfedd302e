"""The topics the bridge publishes itself, so that it never takes its own output as input.

A camera subscribed to ``#`` (or to a filter that reaches ``<base_topic>/...``) would receive
the bridge's error events, annotated JPEGs and discovery configs, send them to the engine,
publish more errors, receive those, and so on without end. Two guards use this module:

* the configuration refuses a source subscription that `overlaps` one of `own_filters`
  (``econnect_bridge.config.schema``), so ``check-config`` and ``run`` say so before anything
  starts;
* the intake skips (and counts) any message whose topic `is_own_output`, a second line of
  defence for what the first cannot see (a retained message from an older base topic, say)::

      filters = own_output_filters(config)          # once, at start
      if is_own_output(message.topic, filters):     # for each snapshot received
          skip and count it

  Apply it to snapshot sources only: the bridge also subscribes to Home Assistant's status
  topic and its own retained discovery configs on purpose, and those may lie under a filter.

Everything the bridge publishes is under ``<mqtt.base_topic>/`` (events, errors, bridge
state and availability, per-camera events, state, annotated snapshots and unknown faces,
persons and their face pictures, tags: see `econnect_bridge.states.Topics`) or, with Home
Assistant discovery on, under ``<homeassistant.discovery_prefix>/``
(`econnect_bridge.discovery.config_topic`). Whole
subtrees are claimed rather than the exact topics: sharing them with snapshots is a mistake
even where no topic collides today. Pure functions, no paho.

MQTT's ``$`` rule (wildcards in the first level do not match topics starting with ``$``) does
not matter here: the bridge's topics never start with ``$`` (the schema refuses it), so a
``$SYS/#`` subscription cannot reach them and ``#`` always does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from econnect_bridge.messages import topic_matches

if TYPE_CHECKING:
    from econnect_bridge.config.model import BridgeConfig

__all__ = [
    "describe_own_filter",
    "filters_intersect",
    "is_own_output",
    "overlaps",
    "own_filters",
    "own_output_filters",
]


def own_filters(base_topic: str, discovery_prefix: str | None = None) -> tuple[str, ...]:
    """Return the filters covering every topic the bridge publishes.

    Takes the two settings rather than a whole configuration so that the schema can check a
    configuration before it is built.

    Args:
        base_topic: ``mqtt.base_topic``.
        discovery_prefix: ``homeassistant.discovery_prefix`` when discovery is on, else None.
    """
    filters = [f"{base_topic}/#"]
    if discovery_prefix is not None:
        filters.append(f"{discovery_prefix}/#")
    return tuple(dict.fromkeys(filters))


def own_output_filters(config: BridgeConfig) -> tuple[str, ...]:
    """Return the filters covering every topic a bridge run with `config` publishes."""
    prefix = config.homeassistant.discovery_prefix if config.homeassistant.enabled else None
    return own_filters(config.mqtt.base_topic, prefix)


def describe_own_filter(own_filter: str, base_topic: str) -> str:
    """Say in words what the bridge publishes under `own_filter` (for error messages)."""
    if own_filter == f"{base_topic}/#":
        return f"the bridge's own events, states and snapshots under {own_filter}"
    return f"the bridge's Home Assistant discovery configs under {own_filter}"


def filters_intersect(first: str, second: str) -> bool:
    """Tell whether some topic matches both MQTT filters (``+`` one level, ``#`` the rest).

    Walks both filters level by level: ``#`` matches whatever remains (also nothing, as
    ``a/#`` matches ``a``), ``+`` matches any one level, other levels must be equal.
    """
    left, right = first.split("/"), second.split("/")
    for index in range(max(len(left), len(right))):
        a = left[index] if index < len(left) else None
        b = right[index] if index < len(right) else None
        if a == "#" or b == "#":
            return True
        if a is None or b is None:
            return False
        if a != b and "+" not in (a, b):
            return False
    return True


def overlaps(subscription_filter: str, own: Iterable[str]) -> str | None:
    """Return the first of our filters that `subscription_filter` can receive, or None.

    Args:
        subscription_filter: A source's filter as subscribed (``{camera}`` already ``+``,
            without any ``$share/<group>/`` prefix).
        own: Our filters, from `own_filters` or `own_output_filters`.
    """
    return next((mine for mine in own if filters_intersect(subscription_filter, mine)), None)


def is_own_output(topic: str, own: Iterable[str]) -> bool:
    """Tell whether a received message's `topic` is one the bridge itself publishes under.

    The runtime guard: a snapshot on such a topic must be skipped (and counted), never sent
    to the engine. `own` comes from `own_output_filters`, computed once at start.
    """
    return any(topic_matches(mine, topic) for mine in own)
