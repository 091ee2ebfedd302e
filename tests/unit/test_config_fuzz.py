"""Fuzz: whatever a config file holds, loading it returns a config or raises ConfigError."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from econnect_bridge.config import BridgeConfig, ConfigError, config_from_dict, load_config
from econnect_bridge.config.schema import ROOT
from econnect_bridge.config.validators import ListOf, Section

FUZZ = settings(max_examples=200, deadline=None, database=None)


def _schema_keys(section: Section) -> set[str]:
    """Every key name of the schema, so random mappings often hit real keys."""
    keys = set()
    for option in section.options.values():
        keys.add(option.key)
        inner = option.check.item if isinstance(option.check, ListOf) else option.check
        if isinstance(inner, Section):
            keys |= _schema_keys(inner)
    return keys


KEYS = sorted(_schema_keys(ROOT))
SECRETS = "pw: hunter2\nnumber: 5\nnested: {a: [1, 2]}\n"

FRAGMENTS = [
    *(f"{key}: " for key in KEYS),
    *KEYS,
    ": ", "- ", "\n", "\n  ", "\n    ", "  ", "{", "}", "[", "]", ", ", "'", '"', "#", "? ",
    "!secret pw", "!secret nope", "!secret ", "!env_var X", "!env_var NOPE", "!env_var NOPE d",
    "!include x.yaml", "!!int ", "!!float ", "!!timestamp ", "!!binary ", "!!set ",
    "!!python/name:os",
    "&a ", "*a", "<<: *a", "2024-02-30", "~", "null", "yes", "1e999", ".nan", "-1", "70000",
    "https://h/identities", "ftp://x", "frigate/+/person/snapshot", "a/#/b", "{camera}",
    "Europe/Paris", "%YAML 1.1\n---\n", "---\n", "...\n", "|\n", ">\n", "\t", "\x00", "\ud800",
]  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["https://h/identities", "a/+/b", "UTC", "publish", "person", "5"])
)
keys = st.sampled_from(KEYS) | st.text(max_size=8)
structures = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5),
    max_leaves=30,
)
documents = st.dictionaries(keys, structures, max_size=8)


def _outcome(text: bytes) -> BridgeConfig | ConfigError:
    """Load `text` as a config file beside a secrets.yaml; return the config or the error."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "config.yaml"
        path.write_bytes(text)
        (Path(directory) / "secrets.yaml").write_text(SECRETS, encoding="utf-8")
        try:
            return load_config(path, environ={"X": "1"})
        except ConfigError as exc:
            return exc


def _check(outcome: BridgeConfig | ConfigError) -> None:
    """A failure must be a readable error with at least one complete problem."""
    if isinstance(outcome, ConfigError):
        assert outcome.problems
        assert str(outcome).startswith("Invalid configuration")
        for problem in outcome.problems:
            assert problem.expected
            assert problem.found
            assert "hunter2" not in str(problem)


@FUZZ
@given(st.text())
def test_random_text(text: str) -> None:
    _check(_outcome(text.encode("utf-8", "surrogatepass")))


@FUZZ
@given(st.binary())
def test_random_bytes(data: bytes) -> None:
    _check(_outcome(data))


@FUZZ
@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=5), max_size=40))
def test_yaml_ish_text(parts: list[str]) -> None:
    _check(_outcome("".join(parts).encode("utf-8", "surrogatepass")))


@FUZZ
@given(documents)
def test_random_structures_as_yaml(document: dict[str, Any]) -> None:
    text = yaml.safe_dump(document, allow_unicode=True)
    _check(_outcome(text.encode("utf-8", "surrogatepass")))


BASE: dict[str, Any] = {
    "api": {"url": "https://h/identities", "token": "t"},
    "cameras": [{"name": "a", "topic": "a/b"}],
}


@FUZZ
@given(st.sampled_from(sorted(ROOT.options)), st.sampled_from(KEYS), structures)
def test_random_values_in_a_valid_config(section: str, key: str, value: Any) -> None:
    document = {**BASE, section: {key: value}}
    if section == "cameras":
        document[section] = [{"name": "a", "topic": "a/b", key: value}]
    try:
        config_from_dict(document)
    except ConfigError as exc:
        _check(exc)
    _check(_outcome(yaml.safe_dump(document).encode("utf-8", "surrogatepass")))


@FUZZ
@given(documents)
def test_random_structures_as_data(document: dict[str, Any]) -> None:
    try:
        config_from_dict(document)
    except ConfigError as exc:
        _check(exc)


LEVELS = st.sampled_from(["econnect", "homeassistant", "frigate", "a", "+", "{camera}", "x"])
topic_filters = st.lists(LEVELS, min_size=1, max_size=4).map("/".join) | st.lists(
    LEVELS, max_size=3
).map(lambda levels: "/".join([*levels, "#"]))


@FUZZ
@given(
    st.lists(topic_filters, min_size=1, max_size=3),
    st.sampled_from(["econnect", "a", "frigate", "homeassistant", "a/x"]),
    st.booleans(),
    st.sampled_from(["frigate", "econnect", "homeassistant", "x"]),
)
def test_no_valid_config_subscribes_to_its_own_output(
    topics: list[str], base_topic: str, discovery: bool, frigate_prefix: str
) -> None:
    from econnect_bridge.discovery import DiscoveryContext, device_messages, discovery_messages
    from econnect_bridge.messages import topic_matches
    from econnect_bridge.sources import sources_from_config
    from econnect_bridge.states import Topics

    document = {
        **BASE,
        "cameras": [{"name": f"c{i}", "topic": topic} for i, topic in enumerate(topics)],
        "mqtt": {"base_topic": base_topic},
        "homeassistant": {"enabled": discovery},
        "frigate": {"enabled": True, "topic_prefix": frigate_prefix},
    }
    try:
        config = config_from_dict(document)
    except ConfigError as exc:
        _check(exc)
        return
    own = Topics(base_topic)
    published = [own.events(), own.errors(), own.availability(), own.bridge_state()]
    published += [own.annotated("a"), own.camera_state("x"), own.person_state("a")]
    if discovery:
        context = DiscoveryContext(base_topic=base_topic)
        published += [m.topic for m in (*device_messages(context), *discovery_messages(context))]
    for source in sources_from_config(config):
        hits = [topic for topic in published if topic_matches(source.subscription, topic)]
        assert hits == [], (source.subscription, hits)
