"""The bridge's own output: which topics it claims, and MQTT filter intersection."""

from __future__ import annotations

import itertools

import pytest

from econnect_bridge.config import config_from_dict
from econnect_bridge.discovery import DiscoveryContext, device_messages, discovery_messages
from econnect_bridge.messages import topic_matches
from econnect_bridge.own_output import (
    describe_own_filter,
    filters_intersect,
    is_own_output,
    overlaps,
    own_filters,
    own_output_filters,
)
from econnect_bridge.states import Topics

API = {"url": "https://engine.example.com/identities", "token": "t"}
CAMERAS = [{"name": "garage", "topic": "cameras/garage/snapshot"}]


def test_own_filters_follow_base_topic_and_discovery() -> None:
    config = config_from_dict({"api": API, "cameras": CAMERAS})
    assert own_output_filters(config) == ("econnect/#", "homeassistant/#")
    moved = config_from_dict(
        {
            "api": API,
            "cameras": CAMERAS,
            "mqtt": {"base_topic": "home/faces"},
            "homeassistant": {"discovery_prefix": "ha"},
        }
    )
    assert own_output_filters(moved) == ("home/faces/#", "ha/#")
    off = config_from_dict({"api": API, "cameras": CAMERAS, "homeassistant": {"enabled": False}})
    assert own_output_filters(off) == ("econnect/#",)
    assert own_filters("same", "same") == ("same/#",)


def test_every_topic_the_bridge_publishes_is_own_output() -> None:
    topics = Topics("econnect")
    published = [
        topics.events(),
        topics.errors(),
        topics.availability(),
        topics.bridge_state(),
        topics.camera_events("Front Door"),
        topics.camera_state("garage"),
        topics.annotated("garage"),
        topics.person_event("Jane Doe"),
        topics.person_state("Jane Doe"),
        topics.tag_event("VIP"),
        topics.tag_state("VIP"),
    ]
    context = DiscoveryContext(cameras=("garage",), tags=("VIP",), persons=("Jane",))
    published += [message.topic for message in device_messages(context)]
    # an older version's per-entity topics get the migration messages and their clean-up
    published += [message.topic for message in discovery_messages(context)]
    own = own_filters("econnect", "homeassistant")
    assert len(published) > 15
    for topic in published:
        assert is_own_output(topic, own), topic
        assert overlaps(topic, own) is not None, topic


@pytest.mark.parametrize(
    "topic",
    ["cameras/garage/snapshot", "frigate/garage/person/snapshot", "econnectx/errors", "econnec"],
)
def test_snapshot_topics_are_not_own_output(topic: str) -> None:
    assert not is_own_output(topic, own_filters("econnect", "homeassistant"))


def test_base_topic_itself_counts_as_own_output() -> None:
    # MQTT's `a/#` also matches `a`: the guard agrees with what a broker would deliver.
    assert is_own_output("econnect", ("econnect/#",))


INTERSECTIONS = [
    ("#", "econnect/#", True),
    ("#", "a", True),
    ("a/#", "a", True),
    ("a", "a/#", True),
    ("+", "a/#", True),
    ("+", "a/b", False),
    ("+/+", "a", False),
    ("a/+", "a/b/c", False),
    ("a/+/c", "a/b/+", True),
    ("a/b", "a/c", False),
    ("a/b", "a/b", True),
    ("a/+/snapshot", "a/#", True),
    ("a//b", "a/+/b", True),
    ("econnect/+/x", "econnectx/#", False),
    ("$SYS/#", "econnect/#", False),
    ("cameras/+/snapshot", "econnect/#", False),
]


@pytest.mark.parametrize(("first", "second", "expected"), INTERSECTIONS)
def test_filters_intersect(first: str, second: str, expected: bool) -> None:
    assert filters_intersect(first, second) is expected
    assert filters_intersect(second, first) is expected


def _filters(levels: int) -> list[str]:
    """Every filter of up to `levels` levels over a small alphabet (`#` last only)."""
    found = []
    for count in range(1, levels + 1):
        for parts in itertools.product(["a", "b", "+", "#"], repeat=count):
            if "#" not in parts[:-1]:
                found.append("/".join(parts))
    return found


def test_filters_intersect_agrees_with_a_brute_force_search() -> None:
    # A shared topic, when there is one, needs no more levels than the longer filter and
    # no other names than the filters use.
    topics = ["/".join(parts) for n in range(1, 4) for parts in itertools.product("ab", repeat=n)]
    filters = _filters(3)
    for first, second in itertools.product(filters, repeat=2):
        shared = any(topic_matches(first, t) and topic_matches(second, t) for t in topics)
        assert filters_intersect(first, second) is shared, (first, second)


def test_overlaps_names_the_filter_reached() -> None:
    own = own_filters("econnect", "homeassistant")
    assert overlaps("homeassistant/+/+/+/config", own) == "homeassistant/#"
    assert overlaps("#", own) == "econnect/#"
    assert overlaps("cameras/+/snapshot", own) is None
    assert overlaps("#", []) is None


def test_describe_own_filter() -> None:
    assert "events" in describe_own_filter("econnect/#", "econnect")
    assert "discovery" in describe_own_filter("homeassistant/#", "econnect")
