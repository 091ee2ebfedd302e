"""The configuration schema: the ONE place keys, defaults and descriptions are declared.

Each key is an `Option` (key, default, one-line description, check); sections are `Section`s
built on voluptuous markers that carry the description. The reference documentation
(`reference.py`, docs/configuration.md) is generated from these objects, so a key cannot be
added without a description or documented with a stale default.

Rules that span several keys (password or token, certfile with keyfile, unique camera
names) are section checks declared next to their section.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Final

import voluptuous as vol

from econnect_bridge.config.model import FrigateConfig, subscription_of
from econnect_bridge.config.validators import (
    REQUIRED,
    Boolean,
    Check,
    Choice,
    File,
    HttpUrl,
    Integer,
    InvalidValue,
    ListOf,
    MappingOf,
    Name,
    Nullable,
    Number,
    Option,
    SecretString,
    Section,
    String,
    TimeZone,
    TopicFilter,
    TopicName,
    as_text,
    describe,
    local_time_zone,
    upper,
)
from econnect_bridge.own_output import describe_own_filter, overlaps, own_filters
from econnect_identities import events
from econnect_identities.policy import DEFAULT_FACE_PICTURES, DEFAULT_POLICY
from econnect_identities.tracking import FollowPolicy

#: Person fields and the recognition defaults come from the policy the integration uses too.
PERSON_FIELDS: Final = events.PERSON_FIELDS
_POLICY: Final = DEFAULT_POLICY


def option(
    key: str, default: Any, description: str, check: Check, *, default_doc: str | None = None
) -> Option:
    """Declare an optional key with its default."""
    return Option(key, default, description, check, default_doc)


def required(key: str, description: str, check: Check) -> Option:
    """Declare a key that must be given."""
    return Option(key, REQUIRED, description, check)


def section(
    key: str,
    description: str,
    options: Sequence[Option],
    check: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Option:
    """Declare a nested section; a missing section gets all its defaults."""
    return Option(key, {}, description, Section(options, check))


def _problems(*errors: vol.Invalid) -> None:
    """Raise every error given, if any."""
    if errors:
        raise vol.MultipleInvalid(list(errors))


def _check_api(api: dict[str, Any]) -> dict[str, Any]:
    """Require exactly one way to log in: username + password, or a static token."""
    has_password, has_token = api["password"] is not None, api["token"] is not None
    errors: list[vol.Invalid] = []
    if has_password and has_token:
        hint = "keep username + password to log in, or the token alone"
        errors.append(InvalidValue("api.password or api.token, not both", "both", hint, ["token"]))
    if not (has_password or has_token):
        expected = "api.username with api.password, or api.token"
        found = "neither api.password nor api.token"
        errors.append(InvalidValue(expected, found, "add one of them", ["password"]))
    if has_password and api["username"] is None:
        expected = "a user name, because api.password is set"
        errors.append(InvalidValue(expected, "nothing", None, ["username"]))
    _problems(*errors)
    return api


def _check_tls(tls: dict[str, Any]) -> dict[str, Any]:
    """Require certfile and keyfile together: a client certificate needs its key."""
    if (tls["certfile"] is None) != (tls["keyfile"] is None):
        given = "certfile" if tls["keyfile"] is None else "keyfile"
        missing = "keyfile" if given == "certfile" else "certfile"
        _problems(
            InvalidValue(
                f"mqtt.tls.{missing} too, because mqtt.tls.{given} is set",
                "nothing",
                f"set both {given} and {missing} (client certificate and its key), or neither",
                [missing],
            )
        )
    return tls


def _check_mqtt(mqtt: dict[str, Any]) -> dict[str, Any]:
    """Resolve the default port from TLS; a password needs a user name."""
    if mqtt["port"] is None:
        mqtt["port"] = 8883 if mqtt["tls"]["enabled"] else 1883
    if mqtt["password"] is not None and mqtt["username"] is None:
        _problems(
            InvalidValue("a user name, because mqtt.password is set", "nothing", None, ["username"])
        )
    return mqtt


def _check_unique_names(cameras: list[Any]) -> list[vol.Invalid]:
    """Camera names are ids (topics, entities): each must be used once."""
    first: dict[str, int] = {}
    errors: list[vol.Invalid] = []
    for index, camera in enumerate(cameras):
        name = camera.get("name") if isinstance(camera, dict) else None
        if not isinstance(name, str):
            continue
        if name in first:
            found = f"{describe(name)} again (already cameras[{first[name]}].name)"
            errors.append(InvalidValue("a unique camera name", found, None, [index, "name"]))
        first.setdefault(name, index)
    return errors


def _check_sources(root: dict[str, Any]) -> dict[str, Any]:
    """Sources must exist, and none may receive what the bridge publishes itself."""
    errors = _own_output_loops(root)
    if not root["cameras"] and not root["frigate"]["enabled"]:
        errors.insert(
            0,
            InvalidValue(
                "at least one camera, or frigate.enabled: true",
                "no cameras and the Frigate preset off",
                "add a camera under 'cameras:' or set 'frigate: {enabled: true}'",
                ["cameras"],
            ),
        )
    _problems(*errors)
    return root


def _own_output_loops(root: dict[str, Any]) -> list[vol.Invalid]:
    """Refuse a source that would receive the bridge's own output.

    Such a source feeds on itself: each error event or annotated snapshot it receives is
    sent to the engine and produces another one, tens of thousands a minute.
    """
    base, homeassistant = root["mqtt"]["base_topic"], root["homeassistant"]
    prefix = homeassistant["discovery_prefix"] if homeassistant["enabled"] else None
    own = {
        mine: (describe_own_filter(mine, base), _key_moving(mine, base))
        for mine in own_filters(base, prefix)
    }
    errors: list[vol.Invalid] = []
    for index, camera in enumerate(root["cameras"]):
        hint = "subscribe to the snapshots alone, on a topic such as 'cameras/{camera}/snapshot'"
        error = _own_output_error(camera["topic"], [subscription_of(camera["topic"])], own, hint)
        if error:
            error.prepend(["cameras", index, "topic"])
            errors.append(error)
    frigate = FrigateConfig(**root["frigate"])
    hint = "set frigate.topic_prefix to the prefix Frigate publishes under ('frigate' by default)"
    error = _own_output_error(frigate.topic_prefix, frigate.subscriptions(), own, hint)
    if error:
        error.prepend(["frigate", "topic_prefix"])
        errors.append(error)
    return errors


def _key_moving(own_filter: str, base_topic: str) -> str:
    """Name the key that moves one of the bridge's own filters elsewhere (part of the fix)."""
    return (
        "mqtt.base_topic" if own_filter == f"{base_topic}/#" else "homeassistant.discovery_prefix"
    )


def _own_output_error(
    value: str, subscriptions: Sequence[str], own: dict[str, tuple[str, str]], hint: str
) -> InvalidValue | None:
    """Return the error for a source whose `subscriptions` reach `own` filters, or None.

    `own` maps each of the bridge's filters to what it holds and the key that moves it.
    """
    reached = [own[mine] for mine in own if any(overlaps(sub, [mine]) for sub in subscriptions)]
    if not reached:
        return None
    what = " and ".join(description for description, _key in reached)
    change = " or ".join(key for _description, key in reached)
    return InvalidValue(
        "a topic outside the bridge's own output",
        f"{describe(value)}, which matches {what}",
        f"{hint}; or change {change}",
    )


_API = section(
    "api",
    "How to reach and log in to the eConnect Identities engine.",
    [
        required(
            "url",
            "Base URL of the engine: `https://<customer>.econnectcloud.com/identities` (cloud), "
            "`https://<host>:5009` or `http://<host>:6009` (on-prem).",
            HttpUrl(),
        ),
        option(
            "username",
            None,
            "User to log in as (with password); its role needs the Face Publishing permission.",
            Nullable(String()),
        ),
        option("password", None, "Password of username; use !secret.", Nullable(SecretString())),
        option(
            "token",
            None,
            "A static bearer token instead of username and password; use !secret.",
            Nullable(SecretString()),
        ),
        option(
            "time_zone",
            local_time_zone,
            "IANA time zone sent with each detection (ianaTimeZone).",
            TimeZone(),
            default_doc="the system's zone, else `UTC`",
        ),
        option(
            "verify_ssl",
            True,
            "Verify the engine's TLS certificate; for a private CA set ca_file instead of "
            "turning this off.",
            Boolean(),
        ),
        option(
            "ca_file",
            None,
            "PEM CA bundle that signed the engine's certificate (on-prem, private CA); "
            "relative to the config file.",
            Nullable(File()),
        ),
        option(
            "timeout", 10.0, "Seconds to wait for the engine's answer.", Number(0, exclusive=True)
        ),
        option(
            "connect_timeout",
            5.0,
            "Seconds to wait for the connection to the engine.",
            Number(0, exclusive=True),
        ),
        option(
            "retries",
            2,
            "Extra attempts at a snapshot after a transient failure (unreachable, timeout, 5xx); "
            "400, 401 and 403 are never retried.",
            Integer(0, 10),
        ),
        option(
            "retry_backoff",
            0.5,
            "Seconds of the first retry's backoff; it doubles at each retry, with full jitter.",
            Number(0),
        ),
        option(
            "retry_backoff_max", 10.0, "Longest backoff between two attempts (seconds).", Number(0)
        ),
        option(
            "circuit_threshold",
            5,
            "Transient failures in a row after which the engine is left alone (circuit open).",
            Integer(1, 1000),
        ),
        option(
            "circuit_reset",
            30.0,
            "Longest time (seconds) the engine is left alone while it is down: the open "
            "circuit probes it about 1 s after opening, then less often as the outage lasts, "
            "never more than this apart.",
            Number(0, exclusive=True),
        ),
    ],
    _check_api,
)

_TLS = section(
    "tls",
    "TLS to the broker.",
    [
        option("enabled", False, "Connect to the broker over TLS.", Boolean()),
        option(
            "ca_file",
            None,
            "PEM CA bundle that signed the broker's certificate (default: the system's CAs).",
            Nullable(File()),
        ),
        option("certfile", None, "Client certificate (PEM), with keyfile.", Nullable(File())),
        option("keyfile", None, "Private key of certfile (PEM).", Nullable(File())),
        option(
            "insecure",
            False,
            "Skip the broker's host name check (tests only: allows a man in the middle).",
            Boolean(),
        ),
    ],
    _check_tls,
)

_MQTT = section(
    "mqtt",
    "The MQTT broker: where snapshots come from and events go.",
    [
        option("host", "localhost", "Broker host name or IP address.", String()),
        option(
            "port",
            None,
            "Broker port.",
            Nullable(Integer(1, 65535)),
            default_doc="`1883`, or `8883` with tls.enabled",
        ),
        option("username", None, "User name for the broker.", Nullable(String())),
        option("password", None, "Password for the broker; use !secret.", Nullable(SecretString())),
        option(
            "client_id",
            None,
            "MQTT client id; must be unique on the broker.",
            Nullable(String()),
            default_doc="`econnect-bridge-<hostname>-<base_topic>`, the same at every start "
            "(a persistent session needs a stable id)",
        ),
        option(
            "protocol",
            "5",
            "MQTT protocol version. With 5 the bridge tells the broker how many snapshots it may "
            "hold unacknowledged (so a crash loses none) and the largest packet it accepts; "
            "use 3.1.1 for a broker without MQTT 5 (Mosquitto before 1.6).",
            Choice(("3.1.1", "5"), as_text),
        ),
        option("keepalive", 60, "Seconds between keep-alive pings.", Integer(1, 65535)),
        option(
            "base_topic",
            "econnect",
            "First level(s) of every topic the bridge publishes (events, state, availability).",
            TopicName(),
        ),
        option("qos", 1, "QoS of subscriptions and published events.", Integer(0, 2)),
        _TLS,
        option(
            "shared_group",
            None,
            "Subscribe as `$share/<group>/...` so several bridges split the snapshots.",
            Nullable(Name()),
        ),
        option(
            "skip_retained",
            True,
            "Ignore retained snapshots, so a restart does not process old images again.",
            Boolean(),
        ),
        option(
            "max_queued_messages",
            1000,
            "Most outgoing messages kept while the broker is unreachable; newer ones are then "
            "dropped, counted (mqtt_dropped) and logged once it is back. While connected "
            "nothing is dropped: workers wait for the broker before taking more snapshots.",
            Integer(1, 1_000_000),
        ),
        option(
            "persistent_session",
            True,
            "Ask the broker to keep the bridge's subscriptions and queue QoS 1 snapshots while it "
            "is disconnected (needs a stable client_id); not used with shared_group, where a "
            "dead member's session would keep receiving its share.",
            Boolean(),
        ),
        option(
            "acknowledge",
            "outcome",
            "When a QoS 1 snapshot is acknowledged to the broker: `outcome` once its result, "
            "error event or spooled copy is out (a crash means redelivery, not loss), or "
            "`arrival` as soon as it is received (a crash loses what was waiting). With MQTT "
            "3.1.1 the broker caps unacknowledged messages (Mosquitto: max_inflight_messages, "
            "20), about two per busy camera; MQTT 5 lets the bridge raise the cap.",
            Choice(("outcome", "arrival"), as_text),
        ),
        option(
            "dedupe_window",
            0.0,
            "Seconds during which a snapshot with the same topic and bytes is processed once "
            "(a publisher re-sending after a broker crash); 0 skips only flagged redeliveries.",
            Number(0),
        ),
    ],
    _check_mqtt,
)

_INCLUDE = [
    option("person", True, "Return the matched person's record (includePerson).", Boolean()),
    option(
        "names",
        "names" in _POLICY.person_sections,
        "Include the person's names and aliases (includeNames).",
        Boolean(),
    ),
    option(
        "tags",
        "tags" in _POLICY.person_sections,
        "Include the person's tags (includeTags).",
        Boolean(),
    ),
    option(
        "fields",
        "fields" in _POLICY.person_sections,
        "Include the person's entity fields (includeFields).",
        Boolean(),
    ),
    option(
        "addresses",
        "addresses" in _POLICY.person_sections,
        "Include the person's addresses (includeAddresses).",
        Boolean(),
    ),
]

#: Processing keys a camera may override; the model's CameraSettings has exactly these.
_CAMERA_TUNABLES = [
    option(
        "mode",
        "publishWithResponse",
        "publishWithResponse returns who was recognised; publish is fire-and-forget (no events).",
        Choice(("publishWithResponse", "publish")),
    ),
    option(
        "largest_face_only",
        _POLICY.largest_face_only,
        "Only the largest face of an image (largestFaceOnly).",
        Boolean(),
    ),
    option(
        "allow_double_detection",
        False,
        "Let the engine report the same face again soon (allowDoubleDetection).",
        Boolean(),
    ),
    section("include", "Sections of the person record to ask for.", _INCLUDE),
    option(
        "min_confidence",
        _POLICY.min_confidence,
        "Faces with a lower confidence are ignored, matched or not; `rules` may ask more of "
        "some people or tags.",
        Number(0, 1),
    ),
    option(
        "uncertain_min_confidence",
        _POLICY.uncertain_min_confidence,
        "Least confidence of an *uncertain* face: matched to a person, below the known "
        "threshold (min_confidence or a rule's) but at or above this. It appears in the "
        "recognition event only (`uncertain_count`, its `candidate`), never as a known person "
        "or an unknown face. null: no uncertain band, a match below its threshold is an "
        "unknown face (without rules: ignored below min_confidence, as before).",
        Nullable(Number(0, 1)),
    ),
    option(
        "min_face_quality",
        _POLICY.min_face_quality,
        "Faces of lower quality are ignored.",
        Number(0, 1),
    ),
    option(
        "min_face_size",
        _POLICY.min_face_size,
        "Faces narrower or shorter than this (pixels) are ignored.",
        Integer(0),
    ),
    option(
        "min_interval",
        0.0,
        "Seconds between two engine calls for one camera (newer snapshots replace waiting ones).",
        Number(0),
    ),
    option(
        "max_image_bytes",
        10_485_760,
        "Larger snapshots are dropped without calling the engine.",
        Integer(1),
    ),
    option(
        "cooldown",
        _POLICY.cooldown,
        "Seconds during which a person (or tag) seen again on the same camera is not "
        "announced again.",
        Number(0),
    ),
]
OVERRIDABLE: Final = tuple(opt.key for opt in _CAMERA_TUNABLES)

_PROCESSING = section(
    "processing",
    "How snapshots are sent to the engine and results filtered; defaults for every camera.",
    [
        option("workers", 4, "Threads calling the engine in parallel.", Integer(1, 64)),
        *_CAMERA_TUNABLES,
        option(
            "presence_timeout",
            _POLICY.presence_timeout,
            "Seconds without a sighting before person, tag and unknown-face presence turn off.",
            Number(0, exclusive=True),
        ),
    ],
)


def _inherited(options: Iterable[Option], parent: str) -> Iterator[Option]:
    """Derive per-camera overrides: same key and check, default None meaning "inherit"."""
    for opt in options:
        where = f"{parent}.{opt.key}"
        if isinstance(opt.check, Section):
            nested = Section(list(_inherited(opt.check.options.values(), where)))
            yield Option(opt.key, {}, opt.description, nested, f"each key: `{where}.*`")
        else:
            check = opt.check if isinstance(opt.check, Nullable) else Nullable(opt.check)
            yield Option(opt.key, None, opt.description, check, f"`{where}`")


_CAMERA = Section(
    [
        required("name", "Camera name, unique; used in topics and entity ids.", Name()),
        required(
            "topic",
            "MQTT topic filter of its snapshots; wildcards `+` and `#` allowed; a `{camera}` "
            "level names the camera from the topic. It must not reach the bridge's own topics "
            "(under `mqtt.base_topic` and `homeassistant.discovery_prefix`).",
            TopicFilter(),
        ),
        option(
            "detector_name",
            None,
            "detectorName sent to the engine.",
            Nullable(String()),
            default_doc="the camera name",
        ),
        option(
            "time_zone",
            None,
            "IANA time zone of this camera.",
            Nullable(TimeZone()),
            default_doc="`api.time_zone`",
        ),
        option(
            "payload",
            "auto",
            "Snapshot format: auto (sniffed), raw image bytes, json with a base64 image, or a "
            "data: URI.",
            Choice(("auto", "raw", "json", "data_uri")),
        ),
        option("json_image_key", "image", "Key of the base64 image in a JSON payload.", String()),
        option(
            "json_camera_key",
            None,
            "Key of the camera name in a JSON payload (overrides the configured name).",
            Nullable(String()),
        ),
        option(
            "json_time_key",
            None,
            "Key of the capture time (ISO 8601 or epoch seconds) in a JSON payload.",
            Nullable(String()),
        ),
        *_inherited(_CAMERA_TUNABLES, "processing"),
    ]
)


def _check_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A rule names one person or one tag, and sets a threshold or an exclusion."""
    errors: list[vol.Invalid] = []
    if (rule["person"] is None) == (rule["tag"] is None):
        both = rule["person"] is not None
        found = "both person and tag" if both else "neither person nor tag"
        hint = "write one rule per person or tag, e.g. '- {tag: Family, min_confidence: 0.95}'"
        errors.append(InvalidValue("exactly one of person and tag", found, hint, ["person"]))
    if rule["min_confidence"] is None and not rule["exclude"]:
        hint = "add 'min_confidence: 0.95' (a stricter threshold) or 'exclude: true'"
        expected = "min_confidence or exclude: true"
        errors.append(InvalidValue(expected, "neither", hint, ["min_confidence"]))
    _problems(*errors)
    return rule


_RULE = Section(
    [
        option(
            "person",
            None,
            "The person the rule is about: display name (friendlyName) or person id.",
            Nullable(String()),
        ),
        option(
            "tag",
            None,
            "The tag the rule is about (e.g. Family): everyone carrying it.",
            Nullable(String()),
        ),
        option(
            "min_confidence",
            None,
            "Least confidence for this person or tag to count as known; the strictest of this, "
            "the person's other rules and the camera's min_confidence wins.",
            Nullable(Number(0, 1)),
        ),
        option(
            "exclude",
            False,
            "Never publish this person's (or tag's) sightings: removed before events, visits, "
            "presence and states, counted in faces_excluded.",
            Boolean(),
        ),
        option(
            "cameras",
            [],
            "Cameras the rule applies to; empty means every camera.",
            ListOf(String(), unique=True),
        ),
    ],
    _check_rule,
)

_FRIGATE_MODES = ("auto", "events", "snapshot")
#: The core's follow policy holds the defaults the integration uses too.
_FOLLOW = FollowPolicy()


def _check_frigate(frigate: dict[str, Any]) -> dict[str, Any]:
    """Events mode needs Frigate's HTTP API; a Frigate login needs both of its halves."""
    errors: list[vol.Invalid] = []
    if frigate["mode"] == "events" and frigate["url"] is None:
        errors.append(
            InvalidValue(
                "Frigate's HTTP API URL, for events mode",
                "no url",
                "set frigate.url (e.g. http://frigate.local:5000) or frigate.mode: snapshot",
                ["url"],
            )
        )
    if (frigate["username"] is None) != (frigate["password"] is None):
        missing = "password" if frigate["password"] is None else "username"
        errors.append(
            InvalidValue(
                "username and password together",
                f"{'username' if missing == 'password' else 'password'} without {missing}",
                f"set frigate.{missing}, or remove the other",
                [missing],
            )
        )
    if frigate["write_sub_label"] and frigate["url"] is None:
        errors.append(
            InvalidValue(
                "Frigate's HTTP API URL, to write sub_labels",
                "no url",
                "set frigate.url, or write_sub_label: false",
                ["write_sub_label"],
            )
        )
    _problems(*errors)
    return frigate


_FRIGATE = section(
    "frigate",
    "Frigate preset. Events mode (recommended): follow `<topic_prefix>/events` and fetch each "
    "tracked object's best picture over Frigate's HTTP API (`url`), one answer per object. "
    "Snapshot mode: `<topic_prefix>/<camera>/<label>/snapshot` (no HTTP API needed).",
    [
        option("enabled", False, "Turn the preset on.", Boolean()),
        option(
            "mode",
            "auto",
            "`events` (follow tracked objects; needs `url`), `snapshot` (the retained MQTT "
            "snapshots), or `auto`: events when `url` is set, else snapshot.",
            Choice(_FRIGATE_MODES, normalise=lambda v: v.lower() if isinstance(v, str) else v),
        ),
        option("topic_prefix", "frigate", "Frigate's MQTT topic prefix.", TopicName()),
        option(
            "cameras",
            [],
            "Frigate cameras to watch; empty means all (a `+` wildcard).",
            ListOf(Name(), unique=True),
        ),
        option(
            "labels",
            ["person"],
            "Frigate object labels whose pictures are sent.",
            ListOf(Name(), unique=True, min_items=1),
        ),
        option(
            "url",
            None,
            "Frigate's HTTP API: `http://<host>:5000` (unauthenticated port) or "
            "`https://<host>:8971` with username and password.",
            Nullable(HttpUrl()),
        ),
        option(
            "username",
            None,
            "Frigate user (port 8971); writing sub_labels needs the admin role.",
            Nullable(String()),
        ),
        option("password", None, "Password of username; use !secret.", Nullable(SecretString())),
        option(
            "verify_ssl",
            True,
            "Verify Frigate's TLS certificate; for a private CA set ca_file instead.",
            Boolean(),
        ),
        option(
            "ca_file",
            None,
            "PEM CA bundle that signed Frigate's certificate; relative to the config file.",
            Nullable(File()),
        ),
        option("timeout", 10.0, "Seconds to wait for Frigate's answer.", Number(0, exclusive=True)),
        option(
            "snapshot_height",
            None,
            "Height (px) of the pictures fetched; null: Frigate's full resolution (best for "
            "faces at a distance).",
            Nullable(Integer(1, 4320)),
        ),
        option(
            "crop",
            True,
            "Fetch the object's crop rather than the whole frame.",
            Boolean(),
        ),
        option(
            "max_attempts",
            _FOLLOW.max_attempts,
            "Pictures fetched per tracked object, at most (events mode).",
            Integer(1, 50),
        ),
        option(
            "max_seconds",
            _FOLLOW.max_seconds,
            "Seconds after an object first appears during which its pictures are fetched.",
            Number(0, 3600, exclusive=True),
        ),
        option(
            "poll_interval",
            _FOLLOW.poll_interval,
            "Seconds between fetches while an object is tracked, besides Frigate's updates "
            "(Frigate sends them about every 5 s); 0: only on updates.",
            Number(0, 600),
        ),
        option(
            "confident_score",
            _FOLLOW.confident_score,
            "A known face at or above this score ends the object's attempts early.",
            Number(0, 1),
        ),
        option(
            "required_zones",
            {},
            "Per Frigate camera, zones an object must have entered to be recognised "
            "(`front_door: [porch]`); a camera not listed needs none.",
            MappingOf(Name(), ListOf(Name(), unique=True, min_items=1)),
        ),
        option(
            "write_sub_label",
            _FOLLOW.write_sub_label,
            "Write the recognised name and score back to the Frigate event (its sub_label).",
            Boolean(),
        ),
        option(
            "sub_label_min_score",
            _FOLLOW.sub_label_min_score,
            "Least score for a name to be written back.",
            Number(0, 1),
        ),
        option(
            "overwrite_sub_label",
            _FOLLOW.overwrite_sub_label,
            "Overwrite a sub_label that Frigate's own face recognition set.",
            Boolean(),
        ),
        option(
            "skip_named",
            _FOLLOW.skip_named,
            "Skip objects that Frigate's own face recognition already named.",
            Boolean(),
        ),
    ],
    _check_frigate,
)

_HOMEASSISTANT = section(
    "homeassistant",
    "Home Assistant MQTT discovery.",
    [
        option("enabled", True, "Publish discovery so entities appear by themselves.", Boolean()),
        option("discovery_prefix", "homeassistant", "HA's discovery prefix.", TopicName()),
        option(
            "status_topic",
            "homeassistant/status",
            "HA's birth topic; discovery is sent again when HA says online.",
            TopicName(),
        ),
        option(
            "retain_state",
            True,
            "Retain per-camera state (last person) so HA shows it after a restart.",
            Boolean(),
        ),
        option(
            "persons",
            [],
            "Person names (friendlyName) whose presence entities exist from the start.",
            ListOf(String(), unique=True),
        ),
        option(
            "tags",
            [],
            "Tag names (e.g. VIP) whose presence entities exist from the start.",
            ListOf(String(), unique=True),
        ),
        option(
            "roster",
            False,
            "Create person and tag entities from the engine's roster (needs read permissions); "
            "people and tags a rule excludes on every camera get none.",
            Boolean(),
        ),
    ],
)

_PUBLISH = section(
    "publish",
    "What published events carry.",
    [
        option(
            "person_fields",
            [name for name in PERSON_FIELDS if name in _POLICY.person_fields],
            "Person data put into events.",
            ListOf(Choice(PERSON_FIELDS), unique=True),
        ),
        option(
            "annotated_snapshot",
            False,
            "Publish each camera's snapshot with face boxes drawn (needs Pillow).",
            Boolean(),
        ),
        option(
            "face_pictures",
            DEFAULT_FACE_PICTURES,
            "Publish a small picture of each configured or rostered person's last known face "
            "(<base>/persons/<person>/face) and of each camera's last unknown face "
            "(<base>/cameras/<camera>/unknown_face), retained, as Home Assistant image "
            "entities (needs Pillow). Faces are personal data: off by default; turning it "
            "off clears the pictures published before. See docs/security.md.",
            Boolean(),
        ),
    ],
)

_LOGGING = section(
    "logging",
    "Log output.",
    [
        option(
            "level",
            "INFO",
            "Least severe level logged.",
            Choice(("DEBUG", "INFO", "WARNING", "ERROR"), upper),
        ),
        option(
            "format", "text", "text for people, json for log collectors.", Choice(("text", "json"))
        ),
    ],
)

_HEALTH = section(
    "health",
    "HTTP health endpoint: /healthz (liveness), /readyz (readiness), /metrics (Prometheus).",
    [
        option("enabled", False, "Serve the health endpoint.", Boolean()),
        option(
            "host",
            "127.0.0.1",
            "Address to listen on; 0.0.0.0 exposes it to the network (e.g. in a container).",
            String(),
        ),
        option("port", 8099, "TCP port to listen on.", Integer(1, 65535)),
    ],
)

_SPOOL = section(
    "spool",
    "Store and forward: keep snapshots on disk (SQLite) while the engine is unreachable and "
    "send them, in order, when it is back (also after a restart).",
    [
        option("enabled", False, "Turn the spool on.", Boolean()),
        option(
            "path",
            "econnect-spool.sqlite3",
            "SQLite file of the spool; relative to the config file's folder.",
            String(),
        ),
        option(
            "max_items",
            1000,
            "Most snapshots kept; the oldest is dropped (with an error event) to make room.",
            Integer(1, 1_000_000),
        ),
        option(
            "max_age",
            3600.0,
            "Seconds a snapshot may wait; older ones are dropped with an error event.",
            Number(0, exclusive=True),
        ),
        option(
            "responses",
            False,
            "Also spool publishWithResponse snapshots; their late events have `delayed: true` "
            "(an automation may ignore them). publish-mode snapshots are always spooled.",
            Boolean(),
        ),
    ],
)

ROOT: Final = Section(
    [
        _API,
        _MQTT,
        _PROCESSING,
        option(
            "cameras",
            [],
            "Image sources on MQTT; at least one, unless the Frigate preset is on.",
            ListOf(_CAMERA, check=_check_unique_names),
        ),
        option(
            "rules",
            [],
            "Rules per person or per tag: a stricter known threshold "
            "(`- {tag: Family, min_confidence: 0.95}`) or an exclusion "
            "(`- {person: Bob, exclude: true, cameras: [shop_floor]}`).",
            ListOf(_RULE),
        ),
        _FRIGATE,
        _HOMEASSISTANT,
        _PUBLISH,
        _LOGGING,
        _HEALTH,
        _SPOOL,
    ],
    _check_sources,
)
"""The whole configuration file."""


def key_places(section_: Section = ROOT, prefix: str = "") -> dict[str, list[str]]:
    """Map each key name to the sections that have it, to say where a misplaced key belongs."""
    places: dict[str, list[str]] = {}
    for opt in section_.options.values():
        places.setdefault(opt.key, []).append(prefix or "the top level")
        inner = opt.check.item if isinstance(opt.check, ListOf) else opt.check
        if isinstance(inner, Section):
            suffix = "[]" if isinstance(opt.check, ListOf) else ""
            for key, where in key_places(inner, f"{prefix}{opt.key}{suffix}.").items():
                places.setdefault(key, []).extend(where)
    return {key: [place.rstrip(".") for place in where] for key, where in places.items()}


def validate(data: Any) -> tuple[dict[str, Any] | None, list[vol.Invalid]]:
    """Validate a whole configuration; return the clean data, or None and every error."""
    try:
        return ROOT(data), []
    except vol.MultipleInvalid as exc:
        errors = list(exc.errors)
    except vol.Invalid as exc:
        errors = [exc]
    places = key_places()
    for error in errors:
        _point_to_section(error, places)
    return None, errors


def _point_to_section(error: vol.Invalid, places: dict[str, list[str]]) -> None:
    """For an unknown key with no near miss, say which section has it (indentation slip)."""
    if not (isinstance(error, InvalidValue) and error.about_key and error.path):
        return
    key = error.path[-1]
    if isinstance(key, str) and error.hint and error.hint.startswith("known keys"):
        where = places.get(key)
        if where:
            error.hint = f"'{key}' belongs under {' or '.join(where)}: check the indentation"
