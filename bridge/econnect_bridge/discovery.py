"""Home Assistant MQTT discovery payloads, built from one declarative table of entities.

Why it looks like this:

* One table (`ENTITY_SPECS`) says which entities exist, where they read their state and which
  platform keys they need; the functions below only expand it per camera, tag or person. Each
  spec wraps a row of `econnect_identities.entities.ENTITY_TABLE`, which the integration's
  entity descriptions are built from too, so both front ends show the same entities.
* Device-based discovery (Home Assistant 2024.11+): one retained config per device on
  `<prefix>/device/<node_id>/<device_id>/config` (`device_messages`), for the bridge and for
  each camera. Its root holds what every entity of the device shares (`device`, `origin`,
  `availability`, `qos`), `components` one entry per entity, keyed by its unique id, with its
  `platform`, topics and templates. One message per device instead of one per entity: Home
  Assistant reads a device at once, and a device that goes is one empty payload. The
  `<node_id>` level keeps every config of this bridge under the one filter
  `discovery_subscription` returns, old and new alike.
* `discovery_messages` still builds the single-component configs,
  `<prefix>/<component>/<node_id>/<unique_id>/config`, one per entity: what versions before
  device discovery published. `discovery_migration` moves Home Assistant from those to the
  device configs without removing an entity; a component entry is the same config without the
  shared keys, so both describe the same entities with the same ids.
* Each entity carries BOTH `object_id` (read up to 2026.3) and `default_entity_id` (read from
  2025.10), so entity ids are the same on every version and neither version logs a deprecation.
* Full key names are used for readability; discovery schemas drop keys a version does not
  know, so one payload serves old and new Home Assistant.
* Presence binary sensors have no `off_delay`: the bridge publishes OFF itself after its
  timeout, so the retained state is right even after Home Assistant restarts.
* Names are untrusted; every id and topic level goes through `econnect_identities.naming.slugify`.
  Camera ids go through the context's `slugs` registry instead (`CameraSlugs`), the one the
  bridge's topics use, so two cameras whose names slug alike (`Front Door`, `front-door`)
  get two devices with their own unique ids and state topics, not one. Persons and tags go
  through the context's `subjects` registry (`SubjectSlugs`) the same way: `Jane Doe` and
  `Jane-Doe` get two entities each, with ids valid in every Home Assistant (`[a-z0-9_]`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from econnect_bridge import __version__
from econnect_bridge.states import OFF, ON, Topics, check_topic_prefix
from econnect_identities import entities
from econnect_identities.entities import EntityRow, Scope
from econnect_identities.naming import (
    EVENT_TYPES,
    CameraSlugs,
    EntityKind,
    SubjectKind,
    SubjectSlugs,
    camera_unique_id,
    health_unique_id,
    pretty_name,
    slugify,
    subject_unique_id,
)

DEFAULT_PREFIX = "homeassistant"
DEFAULT_NODE_ID = "econnect"
BRIDGE_DEVICE_NAME = "eConnect bridge"
MANUFACTURER = "eConnect"
ORIGIN_NAME = "econnect-bridge"
#: The QoS of the entities' state subscriptions, at a device config's root (Home Assistant
#: versions that share it apply it to every entity; the states are retained either way).
DEVICE_QOS = 1

Source = Literal["state", "events", "image", "here", "face", "unknown_face"]
#: The sources that are raw JPEG pictures (`image_topic`), not JSON states.
_PICTURES: frozenset[str] = frozenset({"image", "face", "unknown_face"})


@dataclass(frozen=True, slots=True)
class EntitySpec:
    """One row of the entity table, with what only MQTT discovery needs.

    `row` is the shared row (`econnect_identities.entities`): key, platform, name, device
    class, state class, unit and attribute names, the same as the integration's. `source`
    says which topic the entity reads (the scope's state topic, the camera's event topic or
    its image topic); `value` the state payload key rendered as its state; `options` the
    MQTT platform keys, sent as is.
    """

    row: EntityRow
    source: Source = "state"
    value: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> EntityKind:
        """The entity's key, platform and English name."""
        return self.row.kind

    @property
    def scope(self) -> Scope:
        """What the entity is repeated for and which device it belongs to."""
        return self.row.scope

    @property
    def attributes(self) -> tuple[str, ...]:
        """The state payload keys exposed as attributes."""
        return self.row.attributes


_BINARY = {"payload_on": ON, "payload_off": OFF}
_COUNTER = {"icon": "mdi:counter"}

ENTITY_SPECS: tuple[EntitySpec, ...] = (
    # Per camera (device: the camera, via the bridge).
    EntitySpec(entities.LAST_PERSON, value="last_person", options={"icon": "mdi:account-search"}),
    EntitySpec(entities.FACE_COUNT, value="face_count", options={"icon": "mdi:face-recognition"}),
    EntitySpec(entities.KNOWN_PERSON, value="known_person", options=_BINARY),
    EntitySpec(
        entities.UNKNOWN_FACE,
        value="unknown_face",
        options={**_BINARY, "icon": "mdi:account-question"},
    ),
    EntitySpec(entities.CAMERA_TAG_PRESENT, value="tag_presence", options=_BINARY),
    EntitySpec(
        entities.RECOGNITION,
        source="events",
        options={"event_types": list(EVENT_TYPES), "icon": "mdi:face-recognition"},
    ),
    EntitySpec(entities.ANNOTATED, source="image", options={"content_type": "image/jpeg"}),
    EntitySpec(
        entities.LAST_UNKNOWN_FACE, source="unknown_face", options={"content_type": "image/jpeg"}
    ),
    EntitySpec(
        entities.PEOPLE_HERE,
        source="here",
        value="people_count",
        options={"icon": "mdi:account-group"},
    ),
    EntitySpec(
        entities.UNKNOWN_FACES_HERE,
        source="here",
        value="unknown_count",
        options={"icon": "mdi:account-question"},
    ),
    # Per configured tag and person (device: the bridge).
    EntitySpec(entities.TAG_PRESENT, value="presence", options=_BINARY),
    EntitySpec(entities.TAG_LAST_CAMERA, value="last_camera_name", options={"icon": "mdi:cctv"}),
    EntitySpec(entities.PERSON_PRESENT, value="presence", options=_BINARY),
    EntitySpec(entities.PERSON_LAST_CAMERA, value="last_camera_name", options={"icon": "mdi:cctv"}),
    EntitySpec(entities.PERSON_FACE, source="face", options={"content_type": "image/jpeg"}),
    # Who is here at any camera (device: the bridge).
    EntitySpec(
        entities.ALL_PEOPLE_HERE,
        source="here",
        value="people_count",
        options={"icon": "mdi:account-group"},
    ),
    EntitySpec(
        entities.ALL_UNKNOWN_FACES_HERE,
        source="here",
        value="unknown_count",
        options={"icon": "mdi:account-question"},
    ),
    # Bridge health (device: the bridge).
    EntitySpec(entities.API_REACHABLE, value="api_reachable", options=_BINARY),
    EntitySpec(
        entities.API_LATENCY, value="api_latency_ms", options={"suggested_display_precision": 0}
    ),
    EntitySpec(entities.PROCESSED, value="processed", options=_COUNTER),
    EntitySpec(entities.DROPPED, value="dropped", options=_COUNTER),
    EntitySpec(entities.ERRORS, value="errors", options=_COUNTER),
    EntitySpec(
        entities.LAST_ERROR,
        value="last_error",
        options={"enabled_by_default": False, "icon": "mdi:alert-circle"},
    ),
)


def row_keys(row: EntityRow) -> dict[str, Any]:
    """The discovery keys that come from the shared row: classes, unit and category."""
    keys: dict[str, Any] = {}
    if row.device_class is not None:
        keys["device_class"] = row.device_class
    if row.state_class is not None:
        keys["state_class"] = row.state_class
    if row.unit is not None:
        keys["unit_of_measurement"] = row.unit
    if row.diagnostic:
        keys["entity_category"] = "diagnostic"
    return keys


@dataclass(frozen=True, slots=True)
class DiscoveryContext:
    """Everything the discovery payloads depend on; equal contexts give equal messages.

    `tags` and `persons` are pre-created so that automations can refer to them before the
    first sighting. `face_pictures` adds the face picture entities (`publish.face_pictures`).
    `retain` keeps the configs on the broker so entities survive a Home
    Assistant restart without a re-announce. `support_url` is sent in `origin` when set.
    `slugs` names the cameras and `subjects` the persons and tags; the bridge passes the
    registries its topics use (shared, so they are left out of comparisons: equal contexts
    sharing the registries give equal messages).
    """

    node_id: str = DEFAULT_NODE_ID
    base_topic: str = "econnect"
    discovery_prefix: str = DEFAULT_PREFIX
    version: str = __version__
    cameras: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    persons: tuple[str, ...] = ()
    annotated: bool = False
    face_pictures: bool = False
    retain: bool = True
    support_url: str | None = None
    slugs: CameraSlugs = field(default_factory=CameraSlugs, compare=False, repr=False)
    subjects: SubjectSlugs = field(default_factory=SubjectSlugs, compare=False, repr=False)

    def __post_init__(self) -> None:
        check_topic_prefix(self.discovery_prefix, "discovery prefix")
        check_topic_prefix(self.base_topic, "base topic")

    @property
    def node(self) -> str:
        """The slugged node id: discovery topic level, device identifier, unique-id prefix."""
        return slugify(self.node_id)

    @property
    def topics(self) -> Topics:
        """The contract's topics under this context's base topic."""
        return Topics(self.base_topic, self.slugs, self.subjects)


@dataclass(frozen=True, slots=True)
class DiscoveryMessage:
    """One retained discovery publish; `payload` is a JSON object, or b"" to remove a config."""

    topic: str
    payload: Mapping[str, Any] | bytes
    retain: bool = True
    qos: int = 1

    def encode(self) -> bytes:
        """Return the bytes to publish."""
        if isinstance(self.payload, bytes):
            return self.payload
        return json.dumps(self.payload, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class _Target:
    """One expansion of a spec: which subject, its unique id, name, device and topic."""

    unique_id: str
    name: str
    device: dict[str, Any]
    topic: str
    slug: str = ""


def bridge_device(ctx: DiscoveryContext) -> dict[str, Any]:
    """The bridge's device: health, per-tag and per-person entities hang here."""
    return {
        "identifiers": [ctx.node],
        "name": BRIDGE_DEVICE_NAME,
        "manufacturer": MANUFACTURER,
        "model": ORIGIN_NAME,
        "sw_version": ctx.version,
    }


def camera_device(ctx: DiscoveryContext, camera: str) -> dict[str, Any]:
    """A camera's device, linked to the bridge so the device page shows where it comes from."""
    return {
        "identifiers": [f"{ctx.node}_{ctx.slugs.slug(camera)}"],
        "name": pretty_name(camera),
        "manufacturer": MANUFACTURER,
        "model": "Camera",
        "via_device": ctx.node,
    }


def _source_topic(spec: EntitySpec, ctx: DiscoveryContext, camera: str) -> str:
    if spec.source == "events":
        return ctx.topics.camera_events(camera)
    if spec.source == "image":
        return ctx.topics.annotated(camera)
    if spec.source == "unknown_face":
        return ctx.topics.camera_unknown_face(camera)
    if spec.source == "here":
        return ctx.topics.camera_here(camera)
    return ctx.topics.camera_state(camera)


def _targets(spec: EntitySpec, ctx: DiscoveryContext) -> Iterator[_Target]:
    """Expand one spec over the cameras, tags or persons its scope repeats it for."""
    kind, topics = spec.kind, ctx.topics
    if spec.row.face_picture and not ctx.face_pictures:
        return  # face pictures are off: no entity shows a face
    if spec.scope in ("health", "bridge"):
        unique_id = health_unique_id(ctx.node, kind)
        topic = topics.here() if spec.source == "here" else topics.bridge_state()
        yield _Target(unique_id, kind.name, bridge_device(ctx), topic)
    elif spec.scope == "camera":
        if spec.source == "image" and not ctx.annotated:
            return
        for camera, slug in _cameras(ctx):
            unique_id = camera_unique_id(ctx.node, camera, kind, slug=slug)
            device = camera_device(ctx, camera)
            yield _Target(unique_id, kind.name, device, _source_topic(spec, ctx, camera))
    elif spec.scope == "camera_tag":
        for camera, slug in _cameras(ctx):
            for tag in _unique(ctx.tags):
                unique_id = f"{camera_unique_id(ctx.node, camera, kind, slug=slug)}_{slugify(tag)}"
                name = kind.name.format(name=tag)
                device = camera_device(ctx, camera)
                state = topics.camera_state(camera)
                yield _Target(unique_id, name, device, state, slugify(tag))
    else:
        yield from _subject_targets(spec, ctx)


def _subject_targets(spec: EntitySpec, ctx: DiscoveryContext) -> Iterator[_Target]:
    """Expand a per-tag or per-person spec: each distinct name has its own slug and ids."""
    kind = spec.kind
    subject_kind: SubjectKind = "tag" if spec.scope == "tag" else "person"
    names = ctx.tags if subject_kind == "tag" else ctx.persons
    for subject in dict.fromkeys(names):
        slug = ctx.subjects.slug(subject_kind, subject)
        unique_id = subject_unique_id(ctx.node, subject, kind, slug=slug)
        name = kind.name.format(name=subject)
        state = ctx.topics.subject_state_by_slug(subject_kind, slug)
        if spec.source == "face":
            state = ctx.topics.person_face_by_slug(slug)
        yield _Target(unique_id, name, bridge_device(ctx), state)


def _cameras(ctx: DiscoveryContext) -> list[tuple[str, str]]:
    """Each distinct camera name with its slug, claimed in the context's order if new."""
    return [(camera, ctx.slugs.slug(camera)) for camera in dict.fromkeys(ctx.cameras)]


def _unique(names: Iterable[str]) -> Iterator[str]:
    """Skip names whose slug was already used: they would share unique ids and topics."""
    seen: set[str] = set()
    for name in names:
        slug = slugify(name)
        if slug not in seen:
            seen.add(slug)
            yield name


def _value_template(spec: EntitySpec, target: _Target) -> str | None:
    if spec.scope == "camera_tag":
        # A tag added to the configuration is OFF until the camera state mentions it.
        return f"{{{{ value_json.get('tag_presence', {{}}).get('{target.slug}', 'OFF') }}}}"
    if spec.value is None:
        return None
    return f"{{{{ value_json.{spec.value} }}}}"


def _attributes_template(keys: tuple[str, ...]) -> str:
    pairs = ", ".join(f"'{key}': value_json.{key}" for key in keys)
    return f"{{{{ {{{pairs}}} | tojson }}}}"


def _topic_keys(spec: EntitySpec, target: _Target) -> dict[str, Any]:
    if spec.source in _PICTURES:
        return {"image_topic": target.topic}
    keys: dict[str, Any] = {"state_topic": target.topic}
    template = _value_template(spec, target)
    if template is not None:
        keys["value_template"] = template
    if spec.attributes and spec.source in ("state", "here"):
        # An MQTT event entity takes every other payload key as an attribute by itself.
        keys["json_attributes_topic"] = target.topic
        keys["json_attributes_template"] = _attributes_template(spec.attributes)
    return keys


def _origin(ctx: DiscoveryContext) -> dict[str, Any]:
    origin: dict[str, Any] = {"name": ORIGIN_NAME, "sw_version": ctx.version}
    if ctx.support_url:
        origin["support_url"] = ctx.support_url
    return origin


def _shared(ctx: DiscoveryContext) -> dict[str, Any]:
    """The keys every entity has alike: availability on the bridge's availability topic."""
    return {"availability": [{"topic": ctx.topics.availability()}], "availability_mode": "all"}


def _entity_keys(spec: EntitySpec, target: _Target) -> dict[str, Any]:
    """One entity's own keys: ids, name, topics, templates, classes and platform options."""
    return {
        "name": target.name,
        "unique_id": target.unique_id,
        "object_id": target.unique_id,
        "default_entity_id": f"{spec.kind.platform}.{target.unique_id}",
        **_topic_keys(spec, target),
        **row_keys(spec.row),
        **spec.options,
    }


def _payload(spec: EntitySpec, target: _Target, ctx: DiscoveryContext) -> dict[str, Any]:
    """The single-component config: the entity's keys with its device, origin and availability."""
    keys = _entity_keys(spec, target)
    head = {key: keys.pop(key) for key in ("name", "unique_id", "object_id", "default_entity_id")}
    return {**head, "device": target.device, "origin": _origin(ctx), **_shared(ctx), **keys}


def config_topic(ctx: DiscoveryContext, platform: str, unique_id: str) -> str:
    """`<prefix>/<component>/<node_id>/<unique_id>/config`."""
    return f"{ctx.discovery_prefix}/{platform}/{ctx.node}/{unique_id}/config"


def _expanded(ctx: DiscoveryContext) -> Iterator[tuple[EntitySpec, _Target]]:
    """Every entity of `ctx` in table order, each unique id once."""
    seen: set[tuple[str, str]] = set()
    for spec in ENTITY_SPECS:
        for target in _targets(spec, ctx):
            key = (spec.kind.platform, target.unique_id)
            if key not in seen:
                seen.add(key)
                yield spec, target


def discovery_messages(ctx: DiscoveryContext) -> list[DiscoveryMessage]:
    """Every single-component config for `ctx`, in table order, without duplicates.

    This is the format of versions before device discovery (and of a downgrade): the migration
    recognises these topics, and the tests feed them to Home Assistant as an older bridge's.
    """
    return [
        DiscoveryMessage(
            config_topic(ctx, spec.kind.platform, target.unique_id),
            _payload(spec, target, ctx),
            retain=ctx.retain,
        )
        for spec, target in _expanded(ctx)
    ]


def device_topic(ctx: DiscoveryContext, device_id: str) -> str:
    """`<prefix>/device/<node_id>/<device_id>/config`, under `discovery_subscription` too."""
    return f"{ctx.discovery_prefix}/device/{ctx.node}/{device_id}/config"


def device_id(device: Mapping[str, Any]) -> str:
    """A device's id in its discovery topic: its first (and only) identifier."""
    return str(device["identifiers"][0])


def component_removal(platform: str) -> dict[str, str]:
    """The component entry that removes an entity from a device config: its platform alone."""
    return {"platform": platform}


def device_messages(ctx: DiscoveryContext) -> list[DiscoveryMessage]:
    """One device config per device (the bridge's first, then each camera's), in table order.

    `components` is keyed by unique id: the id is unique on its own, and a migrated entity
    keeps it as the name of its entry.
    """
    devices: dict[str, dict[str, Any]] = {}
    for spec, target in _expanded(ctx):
        topic = device_topic(ctx, device_id(target.device))
        config = devices.setdefault(topic, _device_config(ctx, target.device))
        component = {"platform": spec.kind.platform, **_entity_keys(spec, target)}
        config["components"][target.unique_id] = component
    bridge = device_topic(ctx, device_id(bridge_device(ctx)))
    order = sorted(devices, key=lambda topic: topic != bridge)  # stable: cameras keep theirs
    return [DiscoveryMessage(topic, devices[topic], retain=ctx.retain) for topic in order]


def _device_config(ctx: DiscoveryContext, device: dict[str, Any]) -> dict[str, Any]:
    """A device config's shared root; `components` is filled by the caller."""
    return {
        "device": device,
        "origin": _origin(ctx),
        **_shared(ctx),
        "qos": DEVICE_QOS,
        "components": {},
    }


def discovery_subscription(prefix: str, node_id: str) -> str:
    """The filter matching every config this node may have published: `<p>/+/<node>/+/config`.

    It matches the single-component configs of older versions and the device configs
    (`<p>/device/<node>/<device_id>/config`) alike.
    """
    return f"{check_topic_prefix(prefix, 'discovery prefix')}/+/{slugify(node_id)}/+/config"
