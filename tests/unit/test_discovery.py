"""Discovery payloads (the per-entity configs): contents, stable ids, hostile names."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import pytest

from econnect_bridge.discovery import (
    ENTITY_SPECS,
    DiscoveryContext,
    DiscoveryMessage,
    discovery_messages,
    discovery_subscription,
    pretty_name,
)
from econnect_bridge.states import Topics
from econnect_identities.naming import EVENT_TYPES, CameraSlugs

CTX = DiscoveryContext(
    cameras=("front_door", "Garage"),
    tags=("VIP", "Staff"),
    persons=("Jane Doe",),
    annotated=True,
)
ID = re.compile(r"^[a-z0-9_]+$")
TOPIC = re.compile(r"^homeassistant/(sensor|binary_sensor|event|image)/econnect/[a-z0-9_]+/config$")
HOSTILE = ("a/b", "+", "#", "front door", "José", "🚗 garage", "../x", "a\0b", "x/+/#")


def _payloads(ctx: DiscoveryContext = CTX) -> dict[str, dict[str, Any]]:
    return {m.topic: _json(m) for m in discovery_messages(ctx)}


def _json(message: DiscoveryMessage) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(message.encode())
    return decoded


def _by_entity(ctx: DiscoveryContext = CTX) -> dict[str, dict[str, Any]]:
    return {p["default_entity_id"]: p for p in _payloads(ctx).values()}


def test_entity_count_per_scope() -> None:
    # Per camera: 4 sensors/binary sensors + 1 per tag + event + image + 2 "here"; per tag 2;
    # per person 2; the bridge's 2 "here"; health 6.
    assert len(discovery_messages(CTX)) == 2 * (4 + 2 + 1 + 1 + 2) + 2 * 2 + 1 * 2 + 2 + 6
    without_image = DiscoveryContext(cameras=("c",), annotated=False)
    assert not any("/image/" in m.topic for m in discovery_messages(without_image))


def test_every_payload_has_the_common_keys() -> None:
    for topic, payload in _payloads().items():
        assert TOPIC.match(topic), topic
        unique_id = payload["unique_id"]
        platform = topic.split("/")[1]
        assert ID.match(unique_id)
        assert topic == f"homeassistant/{platform}/econnect/{unique_id}/config"
        assert payload["object_id"] == unique_id
        assert payload["default_entity_id"] == f"{platform}.{unique_id}"
        assert payload["availability"] == [{"topic": "econnect/bridge/availability"}]
        assert payload["availability_mode"] == "all"
        assert payload["origin"] == {"name": "econnect-bridge", "sw_version": "0.1.0"}
        assert payload["device"]["identifiers"]
        assert payload["name"]
        assert not any(key in payload for key in ("obj_id", "def_ent_id", "off_delay"))


def test_messages_are_retained_qos1_unless_asked() -> None:
    assert all(m.retain and m.qos == 1 for m in discovery_messages(CTX))
    unretained = DiscoveryContext(cameras=("c",), retain=False)
    assert not any(m.retain for m in discovery_messages(unretained))


def test_camera_entities() -> None:
    entities = _by_entity()
    last = entities["sensor.econnect_front_door_last_person"]
    assert last["name"] == "Last person"
    assert last["state_topic"] == "econnect/cameras/front_door/state"
    assert last["value_template"] == "{{ value_json.last_person }}"
    assert last["json_attributes_topic"] == last["state_topic"]
    for key in ("person_id", "tags", "confidence", "quality", "last_seen"):
        assert f"'{key}': value_json.{key}" in last["json_attributes_template"]
    assert last["icon"] == "mdi:account-search"
    assert last["device"] == {
        "identifiers": ["econnect_front_door"],
        "name": "Front door",
        "manufacturer": "eConnect",
        "model": "Camera",
        "via_device": "econnect",
    }
    assert entities["sensor.econnect_garage_face_count"]["state_class"] == "measurement"
    known = entities["binary_sensor.econnect_front_door_known_person"]
    assert (known["device_class"], known["payload_on"], known["payload_off"]) == (
        "occupancy",
        "ON",
        "OFF",
    )
    assert known["value_template"] == "{{ value_json.known_person }}"
    unknown = entities["binary_sensor.econnect_front_door_unknown_face"]
    assert (unknown["device_class"], unknown["payload_on"], unknown["payload_off"]) == (
        "occupancy",
        "ON",
        "OFF",
    )


def test_camera_tag_presence_is_unique_per_camera_and_tag() -> None:
    entities = _by_entity()
    vip = entities["binary_sensor.econnect_front_door_tag_present_vip"]
    staff = entities["binary_sensor.econnect_garage_tag_present_staff"]
    assert vip["name"] == "VIP present"
    assert vip["state_topic"] == "econnect/cameras/front_door/state"
    assert "'vip'" in vip["value_template"]
    assert "'staff'" in staff["value_template"]
    assert vip["unique_id"] != entities["binary_sensor.econnect_tag_present_vip"]["unique_id"]


def test_event_and_image_entities() -> None:
    entities = _by_entity()
    event = entities["event.econnect_front_door_recognition"]
    assert event["state_topic"] == "econnect/cameras/front_door/events"
    assert event["event_types"] == list(EVENT_TYPES)
    assert "value_template" not in event  # the payload carries `event_type` itself
    image = entities["image.econnect_front_door_annotated"]
    assert image["image_topic"] == "econnect/cameras/front_door/annotated"
    assert image["content_type"] == "image/jpeg"
    assert "state_topic" not in image


def test_tag_and_person_entities_hang_on_the_bridge() -> None:
    entities = _by_entity()
    tag = entities["binary_sensor.econnect_tag_present_vip"]
    assert tag["name"] == "VIP present"
    assert tag["state_topic"] == "econnect/tags/vip/state"
    assert tag["value_template"] == "{{ value_json.presence }}"
    assert tag["device"]["identifiers"] == ["econnect"]
    assert entities["sensor.econnect_tag_last_camera_vip"]["name"] == "VIP last camera"
    person = entities["binary_sensor.econnect_person_present_jane_doe"]
    assert person["name"] == "Jane Doe present"
    assert person["state_topic"] == "econnect/persons/jane_doe/state"
    camera = entities["sensor.econnect_person_last_camera_jane_doe"]
    assert camera["value_template"] == "{{ value_json.last_camera_name }}"


def test_health_entities() -> None:
    entities = _by_entity()
    health = {k: v for k, v in entities.items() if v.get("state_topic") == "econnect/bridge/state"}
    assert len(health) == 6
    assert all(p["entity_category"] == "diagnostic" for p in health.values())
    assert all(p["device"]["name"] == "eConnect bridge" for p in health.values())
    reachable = entities["binary_sensor.econnect_api_reachable"]
    assert reachable["device_class"] == "connectivity"
    latency = entities["sensor.econnect_api_latency"]
    assert (latency["device_class"], latency["state_class"], latency["unit_of_measurement"]) == (
        "duration",
        "measurement",
        "ms",
    )
    for counter in ("processed", "dropped", "errors"):
        assert entities[f"sensor.econnect_{counter}"]["state_class"] == "total_increasing"
    assert entities["sensor.econnect_last_error"]["enabled_by_default"] is False
    assert entities["sensor.econnect_api_latency"].get("enabled_by_default", True) is True


def test_ids_are_stable_and_follow_the_node_id() -> None:
    assert discovery_messages(CTX) == discovery_messages(CTX)
    other = DiscoveryContext(node_id="Second Bridge", cameras=("front_door",))
    topics = [m.topic for m in discovery_messages(other)]
    expected = "homeassistant/sensor/second_bridge/second_bridge_front_door_last_person/config"
    assert expected in topics
    assert discovery_subscription("homeassistant", "Second Bridge") == (
        "homeassistant/+/second_bridge/+/config"
    )


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_cannot_inject_levels_or_break_ids(name: str) -> None:
    ctx = DiscoveryContext(cameras=(name,), tags=(name,), persons=(name,), annotated=True)
    for topic, payload in _payloads(ctx).items():
        assert TOPIC.match(topic), topic
        assert ID.match(payload["unique_id"]), payload["unique_id"]
        for key, value in payload.items():
            if key.endswith("_topic"):
                assert not set("+#\0 ") & set(value), value
                assert value.startswith("econnect/"), value
                assert "" not in value.split("/"), value
        for key in ("value_template", "json_attributes_template"):
            if key in payload:  # the slug is quoted in templates; nothing can close the quote
                assert "\\" not in payload[key]
                assert "}}" not in payload[key][:-2]


def test_names_keep_their_spelling_for_display() -> None:
    ctx = DiscoveryContext(cameras=("Entrée 🚗",), persons=("José",))
    entities = _by_entity(ctx)
    assert entities["sensor.econnect_entree_last_person"]["device"]["name"] == "Entrée 🚗"
    assert entities["binary_sensor.econnect_person_present_jose"]["name"] == "José present"
    assert pretty_name("front_door") == "Front door"
    assert pretty_name("  back__yard ") == "Back yard"
    assert pretty_name("Garage") == "Garage"


def test_names_with_the_same_slug_are_announced_once() -> None:
    ctx = DiscoveryContext(cameras=("Front Door", "front_door"), tags=("VIP", "vip"))
    topics = [m.topic for m in discovery_messages(ctx)]
    assert len(topics) == len(set(topics))
    last = [t for t in topics if t.endswith("front_door_last_person/config")]
    assert len(last) == 1


@pytest.mark.parametrize("prefix", ["", "home/", "a/+", "#"])
def test_invalid_prefix_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="discovery prefix"):
        DiscoveryContext(discovery_prefix=prefix)
    with pytest.raises(ValueError, match="discovery prefix"):
        discovery_subscription(prefix, "econnect")


def test_support_url_goes_into_origin() -> None:
    ctx = DiscoveryContext(cameras=("c",), support_url="https://example.org/econnect-bridge")
    origin = _json(discovery_messages(ctx)[0])["origin"]
    assert origin["support_url"] == "https://example.org/econnect-bridge"


def test_the_table_is_well_formed() -> None:
    for spec in ENTITY_SPECS:
        assert spec.kind.platform in {"sensor", "binary_sensor", "event", "image"}
        if spec.kind.platform in {"sensor", "binary_sensor"}:
            assert spec.value, spec
        if spec.kind.platform == "binary_sensor":
            assert (spec.options["payload_on"], spec.options["payload_off"]) == ("ON", "OFF")
        assert not {"state_topic", "unique_id", "name", "device"} & set(spec.options)


def test_cameras_whose_names_slug_alike_get_entities_of_their_own() -> None:
    ctx = DiscoveryContext(cameras=("Front Door", "front-door", "a$b", "a/b/#"))
    payloads = list(_payloads(ctx).values())
    ids = [p["unique_id"] for p in payloads]
    assert len(ids) == len(set(ids))
    devices = {p["device"]["identifiers"][0] for p in payloads if "via_device" in p["device"]}
    assert len(devices) == 4
    states = {p["state_topic"] for p in payloads if p.get("state_topic", "").endswith("/state")}
    slugs = [ctx.slugs.slug(name) for name in ctx.cameras]
    assert slugs[0] == "front_door"
    assert slugs[2] == "a_b"
    assert states >= {f"econnect/cameras/{slug}/state" for slug in slugs}
    assert len(set(slugs)) == 4
    assert all(ID.match(unique_id) for unique_id in ids)


def test_discovery_names_cameras_as_the_topics_sharing_its_registry_do() -> None:
    topics = Topics("econnect")
    topics.camera_state("front-door")  # learnt first at run time: it holds the plain slug
    ctx = DiscoveryContext(cameras=("Front Door", "front-door"), slugs=topics.slugs)
    by_entity = _by_entity(ctx)
    other = topics.camera_slug("Front Door")
    assert other != "front_door"
    assert by_entity[f"sensor.econnect_{other}_last_person"]["state_topic"] == (
        topics.camera_state("Front Door")
    )
    assert by_entity["sensor.econnect_front_door_last_person"]["device"]["name"] == "Front-door"


def test_a_context_keeps_its_registry_when_cameras_are_added() -> None:
    ctx = DiscoveryContext(cameras=("Front Door",))
    grown = replace(ctx, cameras=(*ctx.cameras, "front-door"))
    assert grown.slugs is ctx.slugs
    assert grown == replace(ctx, cameras=grown.cameras, slugs=CameraSlugs())
