"""Persons and tags: valid, distinct and stable slugs, topics and discovery ids for any name.

Home Assistant takes object ids of `[a-z0-9_]` only, with no `_` at either end; names from the
engine are anything (accents, apostrophes, other scripts), and two may slug alike. Each name
gets its own slug, the same on every run, and the state topics, the discovery unique ids and
default entity ids, and the restart recovery all use it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pytest

from econnect_bridge.discovery import DiscoveryContext, discovery_messages
from econnect_bridge.recovery import recover
from econnect_bridge.statebook import BookSettings, Message, StateBook
from econnect_bridge.states import SubjectState, Topics, subject_state_payload
from econnect_identities import naming
from econnect_identities.events import Sighting
from econnect_identities.models import (
    BoundingBox,
    DetectedFace,
    Person,
    PersonTag,
    RecognitionResult,
)
from econnect_identities.naming import (
    SubjectSlugs,
    may_slug,
    slugify,
    subject_unique_id,
    suffixed_slugs,
    topic_camera_name,
)
from econnect_identities.schemas import validate_payload

# Home Assistant's own rule (homeassistant.core.VALID_ENTITY_ID, 2025.4 to 2026.10).
_OBJECT_ID = r"(?!_)[\da-z_]+(?<!_)"
VALID_ENTITY_ID = re.compile(r"^(?!.+__)" + _OBJECT_ID + r"\." + _OBJECT_ID + r"$")
NAMES = ("José Núñez", "Anna-Lena", "O'Brien", "李雷", "Ægir Þór", "Straße", "Jane Doe", "Jane-Doe")
SEEN = datetime(2026, 1, 1, 8, 0, 0, tzinfo=UTC)

# Slugs of ASCII names are what they have always been: entity ids and history stay put.
ASCII_SLUGS = {
    "Jane Doe": "jane_doe",
    "Anna-Lena": "anna_lena",
    "O'Brien": "o_brien",
    "VIP": "vip",
    "Front Door": "front_door",
    "  Bob   Stone ": "bob_stone",
}


@pytest.mark.parametrize(("name", "slug"), ASCII_SLUGS.items())
def test_ascii_names_keep_their_slugs(name: str, slug: str) -> None:
    assert slugify(name) == slug


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("José Núñez", "jose_nunez"),
        ("Anna-Lena", "anna_lena"),
        ("O'Brien", "o_brien"),
        ("Ægir Þór", "gir_or"),  # as earlier versions slugged it: ids and history stay
        ("Straße", "strae"),
        ("李雷", "x_3a47328a"),  # no Latin letter: a stable hash of the exact name
    ],
)
def test_unusual_names_get_the_valid_slugs_they_always_had(name: str, slug: str) -> None:
    assert slugify(name) == slug


def test_colliding_names_get_distinct_slugs_the_same_on_every_run() -> None:
    first, again = SubjectSlugs(persons=NAMES), SubjectSlugs(persons=NAMES)
    slugs = first.names("person")
    assert slugs == again.names("person")
    assert len(set(slugs.values())) == len(NAMES)
    assert slugs["Jane Doe"] == "jane_doe"  # the first keeps the plain slug
    assert slugs["Jane-Doe"] == suffixed_slugs("Jane-Doe")[0]
    assert all(may_slug(name, slug) for name, slug in slugs.items())


def test_persons_and_tags_are_registries_of_their_own() -> None:
    slugs = SubjectSlugs(persons=("VIP",), tags=("VIP",))
    assert slugs.slug("person", "VIP") == slugs.slug("tag", "VIP") == "vip"


def test_two_spellings_of_one_tag_share_it_other_colliding_tags_do_not() -> None:
    slugs = SubjectSlugs(tags=("VIP", "Jane Doe"))
    assert slugs.slug("tag", "vip") == slugs.slug("tag", "VIP") == "vip"
    assert slugs.slug("tag", "Jane-Doe") == suffixed_slugs("jane-doe")[0]
    assert slugs.slug("person", "jane doe") != slugs.slug("person", "Jane Doe")


def test_a_recalled_suffix_is_taken_again_whatever_the_order() -> None:
    slugs = SubjectSlugs()
    slugs.recall("person", [suffixed_slugs("Jane-Doe")[0]])
    assert slugs.slug("person", "Jane-Doe") == suffixed_slugs("Jane-Doe")[0]
    assert slugs.slug("person", "Jane Doe") == "jane_doe"


def _discovery(ctx: DiscoveryContext) -> dict[str, dict[str, Any]]:
    payloads = (json.loads(message.encode()) for message in discovery_messages(ctx))
    return {payload["unique_id"]: payload for payload in payloads}


def test_discovery_gives_every_person_and_tag_valid_distinct_ids_and_topics() -> None:
    ctx = DiscoveryContext(cameras=("front_door",), tags=("VIP", "vip", "Straße"), persons=NAMES)
    payloads = _discovery(ctx)
    prefixes = ("econnect_person_", "econnect_tag_")
    subject = [p for p in payloads.values() if p["unique_id"].startswith(prefixes)]
    assert len(subject) == 2 * len(NAMES) + 2 * 2  # `VIP` and `vip` are one tag
    for payload in payloads.values():
        assert VALID_ENTITY_ID.match(payload["default_entity_id"]), payload["default_entity_id"]
        assert payload["object_id"] == payload["default_entity_id"].split(".", 1)[1]
    presence = [p for p in subject if p["unique_id"].startswith("econnect_person_present_")]
    assert len({p["state_topic"] for p in presence}) == len(NAMES)
    for payload in presence:
        person = payload["name"].removesuffix(" present")
        assert payload["state_topic"] == ctx.topics.person_state(person)


def test_ascii_unique_ids_are_the_ones_of_earlier_versions() -> None:
    payloads = _discovery(DiscoveryContext(tags=("VIP",), persons=("Jane Doe", "Jane-Doe")))
    assert "econnect_person_present_jane_doe" in payloads
    assert "econnect_tag_last_camera_vip" in payloads
    plain = subject_unique_id("econnect", "Jane-Doe", naming.PERSON_PRESENT)
    assert payloads[plain]["name"] == "Jane Doe present"  # the plain id stays the first's
    suffix = suffixed_slugs("Jane-Doe")[0]
    assert payloads[f"econnect_person_present_{suffix}"]["name"] == "Jane-Doe present"


def test_last_camera_sensors_show_the_camera_name_and_keep_the_slug_as_attribute() -> None:
    payloads = _discovery(DiscoveryContext(tags=("VIP",), persons=("Jane Doe",)))
    sensor = payloads["econnect_tag_last_camera_vip"]
    assert sensor["value_template"] == "{{ value_json.last_camera_name }}"
    present = payloads["econnect_tag_present_vip"]
    assert "'last_camera': value_json.last_camera" in present["json_attributes_template"]
    assert "'last_camera_name': value_json.last_camera_name" in present["json_attributes_template"]


def _face(person: Person) -> DetectedFace:
    return DetectedFace("f", "d", 0.93, 0.8, BoundingBox(0, 0, 80, 80), person)


def _book(topics: Topics, persons: tuple[str, ...] = ()) -> StateBook:
    settings = BookSettings(
        topics=topics,
        person_fields=frozenset({"name"}),
        presence_timeout=60.0,
        persons=persons,
        tags=("VIP",),
    )
    return StateBook(settings, wall_clock=lambda: SEEN)


def _see(book: StateBook, name: str, camera: str = "front_door") -> list[Message]:
    person = Person(f"p-{name}", friendly_name=name, tags=(PersonTag("t-1", name="VIP"),))
    sighting = Sighting(camera=camera, detector_name=camera, detect_time=SEEN)
    return book.record(RecognitionResult((_face(person),)), sighting, 5.0, cooldown=30)


def _retained(messages: Iterable[Message]) -> dict[str, bytes]:
    return {message.topic: message.payload for message in messages if message.retain}


def test_colliding_people_seen_at_run_time_keep_their_topics_after_a_restart() -> None:
    first = Topics("econnect")
    book = _book(first)
    broker = _retained([*_see(book, "Jane Doe"), *_see(book, "Jane-Doe")])
    before = first.subjects.names("person")
    assert before["Jane Doe"] != before["Jane-Doe"]
    for topic, payload in broker.items():
        validate_payload(first.kind_of(topic), json.loads(payload))

    second = Topics("econnect")
    again = _book(second)
    restored = again.restore(recover(broker.items(), second), SEEN, 10.0)
    people = {json.loads(m.payload).get("person"): m.topic for m in restored}
    assert people["Jane-Doe"] == first.person_state("Jane-Doe")
    assert people["Jane Doe"] == first.person_state("Jane Doe")
    later = _retained(_see(again, "Jane-Doe"))  # she comes back first this time
    assert first.person_state("Jane-Doe") in later
    assert second.subjects.names("person")["Jane-Doe"] == before["Jane-Doe"]


def test_subject_states_name_the_camera_for_people_and_by_slug_for_automations() -> None:
    book = _book(Topics("econnect"))
    messages = _retained(_see(book, "Jane Doe", camera="front_door"))
    tag = json.loads(messages["econnect/tags/vip/state"])
    assert (tag["last_camera"], tag["last_camera_name"]) == ("front_door", "Front door")
    person = json.loads(messages["econnect/persons/jane_doe/state"])
    assert (person["last_camera"], person["last_camera_name"]) == ("front_door", "Front door")
    validate_payload("tag_state", tag)
    validate_payload("person_state", person)


def test_a_state_retained_before_the_camera_name_existed_is_still_read_back() -> None:
    topics = Topics("econnect")
    payload = subject_state_payload(SubjectState("tag", "VIP", True, last_camera="garage"))
    del payload["last_camera_name"]
    recovered = recover([("econnect/tags/vip/state", json.dumps(payload).encode())], topics)
    state = recovered.subjects[("tag", "vip")]
    assert subject_state_payload(state)["last_camera_name"] == "Garage"


@pytest.mark.parametrize(
    ("topic", "name"),
    [
        ("frigate/front_door/person/snapshot", "Front door"),
        ("cameras/garage/image", "Garage"),
        ("doorbell", "Doorbell"),
        ("frigate/+/person/snapshot", "frigate/+/person/snapshot"),
    ],
)
def test_an_mqtt_topic_names_its_camera(topic: str, name: str) -> None:
    assert topic_camera_name(topic) == name
