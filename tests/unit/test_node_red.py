"""examples/node-red/flow.json is an importable Node-RED flow that follows the MQTT contract.

Node-RED imports an array of node objects; a wire to a missing id, an `mqtt in` node without a
broker, or a topic the bridge never publishes would import fine and then silently do nothing.
The function nodes are run in Node.js (a missing Node.js fails the test) on payloads made by the
bridge's own event builders, so a renamed field breaks this test rather than a user's flow.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from paho.mqtt.client import topic_matches_sub

from econnect_bridge.states import Topics
from econnect_identities.events import Sighting, recognition_event, sighting_event
from econnect_identities.models import (
    BoundingBox,
    DetectedFace,
    Person,
    PersonTag,
    RecognitionResult,
)

REPO = Path(__file__).resolve().parents[2]
FLOW = REPO / "examples" / "node-red" / "flow.json"
DOC = REPO / "docs" / "node-red.md"
TOPICS = Topics()  # the default base topic, `econnect`, which the example uses

JANE = Person("p-1", friendly_name="Jane Doe", tags=(PersonTag("t-1", name="VIP"),))
KNOWN = DetectedFace("f-1", "d-1", 0.93, 0.8, BoundingBox(1, 2, 30, 40), person=JANE)
UNKNOWN = DetectedFace("f-2", "d-2", 0.12, 0.4, BoundingBox(5, 6, 7, 8))
SIGHTING = Sighting("front_door", "front_door", datetime(2025, 5, 1, 12, tzinfo=UTC), None, 80.0)
FIELDS = frozenset({"name", "aliases", "tags"})


def load_flow() -> list[dict[str, Any]]:
    data = json.loads(FLOW.read_text(encoding="utf-8"))
    assert isinstance(data, list), "a Node-RED flow export is a JSON array of nodes"
    return data


def by_type(kind: str) -> list[dict[str, Any]]:
    return [node for node in load_flow() if node["type"] == kind]


def node(name: str) -> dict[str, Any]:
    (found,) = [n for n in load_flow() if n.get("name") == name]
    return found


def test_every_node_has_a_unique_id_and_a_type() -> None:
    nodes = load_flow()
    ids = [n.get("id") for n in nodes]
    assert all(isinstance(i, str) and i for i in ids)
    assert len(ids) == len(set(ids)), "duplicate node ids"
    assert all(isinstance(n.get("type"), str) and n["type"] for n in nodes)


def test_wires_and_tabs_reference_existing_nodes() -> None:
    nodes = load_flow()
    ids = {n["id"] for n in nodes}
    tabs = {n["id"] for n in nodes if n["type"] == "tab"}
    assert tabs, "the flow needs a tab to import into"
    for n in nodes:
        if n["type"] in ("tab", "mqtt-broker"):
            assert "wires" not in n
            continue
        assert n.get("z") in tabs, f"{n['id']} is on no tab"
        wires = n["wires"]
        assert isinstance(wires, list)
        for port in wires:
            for target in port:
                assert target in ids, f"{n['id']} is wired to missing node {target}"
                assert target != n["id"]


def test_switch_nodes_have_one_output_per_rule() -> None:
    for switch in by_type("switch"):
        assert switch["outputs"] == len(switch["rules"]) == len(switch["wires"])


def test_mqtt_in_nodes_use_the_broker_config_node() -> None:
    (broker,) = by_type("mqtt-broker")
    assert broker["broker"] == "localhost"
    assert broker["port"] == "1883"
    inputs = by_type("mqtt in")
    assert len(inputs) >= 3
    for mqtt_in in inputs:
        assert mqtt_in["broker"] == broker["id"]
        assert mqtt_in["datatype"] in ("json", "utf8")


def test_topics_follow_the_bridge_contract() -> None:
    topics = {n["name"]: n["topic"] for n in by_type("mqtt in")}
    assert topics == {
        "recognition events": TOPICS.events(),
        "VIP sightings": TOPICS.tag_event("VIP"),
        "bridge availability": TOPICS.availability(),
        "bridge errors": TOPICS.errors(),
    }
    # Every one is a concrete topic the bridge publishes to (a filter would match it too).
    for topic in topics.values():
        assert TOPICS.kind_of(topic) is not None or topic == TOPICS.availability()
    assert topic_matches_sub(topics["VIP sightings"], TOPICS.tag_event("vip"))


def test_json_topics_are_parsed_and_availability_is_text() -> None:
    datatypes = {n["topic"]: n["datatype"] for n in by_type("mqtt in")}
    assert datatypes.pop(TOPICS.availability()) == "utf8"
    assert set(datatypes.values()) == {"json"}


def test_events_are_routed_on_schema_version_then_outcome() -> None:
    schema = node("schema_version 1?")
    assert schema["property"] == "payload.schema_version"
    assert schema["rules"][0] == {"t": "eq", "v": "1", "vt": "num"}
    outcome = node("outcome")
    assert outcome["property"] == "payload.outcome"
    assert [rule["v"] for rule in outcome["rules"]] == ["known", "unknown", "no_face"]
    ids = {n["id"]: n for n in load_flow()}
    routed = [ids[port[0]]["name"] for port in outcome["wires"]]
    assert routed == ["known person", "unknown face", "no face (off)"]


def test_the_docs_describe_the_file_and_its_topics() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "examples/node-red/flow.json" in text
    for topic in (TOPICS.events(), TOPICS.tag_event("VIP"), TOPICS.availability()):
        assert topic in text


# -- the function nodes, run in Node.js --------------------------------------------------

_RUNNER = """
const fs = require("fs");
const input = JSON.parse(fs.readFileSync(0, "utf8"));
const run = new Function("msg", input.func);
process.stdout.write(JSON.stringify(run({topic: input.topic, payload: input.payload})));
"""


def run_function(name: str, topic: str, payload: dict[str, Any]) -> dict[str, Any]:
    node_js = shutil.which("node") or shutil.which("nodejs")
    assert node_js is not None, (
        "Node.js is not installed: the function nodes cannot be run "
        "(scripts/bootstrap.sh installs Debian's nodejs package)"
    )
    stdin = json.dumps({"func": node(name)["func"], "topic": topic, "payload": payload})
    done = subprocess.run(
        [node_js, "-e", _RUNNER],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    result = json.loads(done.stdout)
    assert isinstance(result, dict)
    return result


def test_known_person_function_on_a_real_event() -> None:
    event = recognition_event(RecognitionResult((KNOWN, UNKNOWN)), SIGHTING, FIELDS)
    assert event["outcome"] == "known"
    msg = run_function("known person", TOPICS.events(), event)
    assert msg["topic"] == "known/front_door"
    assert msg["payload"]["persons"] == ["Jane Doe"]
    assert msg["payload"]["tags"] == ["VIP"]
    assert msg["payload"]["confidence"] == pytest.approx(0.93)
    assert msg["payload"]["text"] == "Jane Doe at front_door"


def test_unknown_face_function_on_a_real_event() -> None:
    event = recognition_event(RecognitionResult((UNKNOWN,)), SIGHTING, FIELDS)
    assert event["outcome"] == "unknown"
    msg = run_function("unknown face", TOPICS.events(), event)
    assert msg["payload"] == {
        "camera": "front_door",
        "faces": 1,
        "time": event["detect_time"],
        "text": "Unknown face at front_door",
    }


@pytest.mark.parametrize(("fields", "who"), [(FIELDS, "Jane Doe"), (frozenset[str](), "p-1")])
def test_vip_function_on_a_real_tag_sighting(fields: frozenset[str], who: str) -> None:
    sighting = sighting_event(KNOWN, SIGHTING, fields, tag="VIP")
    msg = run_function("VIP arrived", TOPICS.tag_event("VIP"), sighting)
    assert msg["payload"]["person"] == who
    assert msg["payload"]["text"] == f"VIP {who} at front_door"
