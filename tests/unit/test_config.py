"""Configuration: broken files say where and why, defaults and overrides, secrets stay hidden."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from econnect_bridge.config import (
    BridgeConfig,
    CameraSettings,
    ConfigError,
    ConfigProblem,
    Secret,
    check_config,
    config_from_dict,
    config_warnings,
    load_config,
    schema_reference_markdown,
)
from econnect_bridge.config.reference import MARKER, render_document
from econnect_bridge.config.schema import OVERRIDABLE, ROOT
from econnect_bridge.config.validators import ListOf, Option, Section, local_time_zone
from econnect_bridge.sources import sources_from_config

REPO = Path(__file__).resolve().parents[2]

API = """\
api:
  url: https://acme.econnectcloud.com/identities
  username: bridge
  password: pw
"""
CAMERA = """\
cameras:
  - name: front_door
    topic: frigate/front_door/person/snapshot
"""
VALID = API + CAMERA


def write(directory: Path, text: str, secrets: str | None = None) -> Path:
    """Write a config (and optionally secrets.yaml) and return the config's path."""
    path = directory / "config.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    if secrets is not None:
        (directory / "secrets.yaml").write_text(textwrap.dedent(secrets), encoding="utf-8")
    return path


def problems(path: Path, environ: dict[str, str] | None = None) -> list[ConfigProblem]:
    """Load `path`, expecting a ConfigError, and return its problems."""
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=environ or {})
    return list(caught.value.problems)


def only_problem(path: Path, environ: dict[str, str] | None = None) -> ConfigProblem:
    """Return the one problem of a broken file."""
    found = problems(path, environ)
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]


def load(directory: Path, text: str, **kwargs: str) -> BridgeConfig:
    """Load a config that must be valid."""
    return load_config(write(directory, text, **kwargs), environ={})


# --- broken configurations: (id, yaml, key path, words that must be in the problem) ---------

BROKEN = [
    ("missing_url", "api: {token: t}\n" + CAMERA, "api.url", ["required", "missing"]),
    (
        "wrong_type",
        VALID + "mqtt:\n  port: abc\n",
        "mqtt.port",
        ["an integer from 1 to 65535", "'abc'"],
    ),
    (
        "unknown_key_suggestion",
        VALID.replace("password:", "pasword:"),
        "api.pasword",
        ["unknown key 'pasword'", "did you mean 'password'?"],
    ),
    (
        "misplaced_key",
        VALID + "mqtt:\n  time_zone: UTC\n",
        "mqtt.time_zone",
        ["unknown key", "belongs under api"],
    ),
    (
        "bad_time_zone",
        API + "  time_zone: Europe/Pariss\n" + CAMERA,
        "api.time_zone",
        ["IANA time zone", "'Europe/Pariss'", "did you mean 'Europe/Paris'?"],
    ),
    (
        "url_scheme",
        VALID.replace("https://acme", "ftp://acme"),
        "api.url",
        ["http:// or https://", "'ftp://acme", "use https://"],
    ),
    (
        "url_no_scheme",
        VALID.replace("https://acme", "acme"),
        "api.url",
        ["add the scheme in front: https://acme.econnectcloud.com/identities"],
    ),
    ("url_no_host", VALID.replace("acme.econnectcloud.com", ""), "api.url", ["host name"]),
    ("url_query", VALID.replace("/identities", "/identities?x=1"), "api.url", ["'?'"]),
    ("url_endpoint", VALID.replace("/identities", "/identities/api/v1"), "api.url", ["/api"]),
    ("url_bad_port", VALID.replace(".com/", ".com:99999/"), "api.url", ["port"]),
    (
        "password_and_token",
        API + "  token: t\n" + CAMERA,
        "api.token",
        ["api.password or api.token, not both", "both"],
    ),
    ("no_login", VALID.replace("  password: pw\n", ""), "api.password", ["neither"]),
    ("password_no_user", VALID.replace("  username: bridge\n", ""), "api.username", ["user"]),
    ("port_zero", VALID + "mqtt:\n  port: 0\n", "mqtt.port", ["from 1 to 65535", "0"]),
    ("port_high", VALID + "mqtt:\n  port: 65536\n", "mqtt.port", ["65536 (a number)"]),
    ("port_float", VALID + "mqtt:\n  port: 1883.5\n", "mqtt.port", ["whole number"]),
    (
        "duplicate_camera_names",
        VALID + "  - name: front_door\n    topic: x/y\n",
        "cameras[1].name",
        ["unique camera name", "already cameras[0].name"],
    ),
    (
        "bad_camera_name",
        VALID.replace("name: front_door", "name: front door"),
        "cameras[0].name",
        ["letters, digits", "'front door'", "did you mean 'front_door'?"],
    ),
    (
        "topic_hash_not_last",
        VALID.replace("frigate/front_door/person/snapshot", "frigate/#/snapshot"),
        "cameras[0].topic",
        ["topic filter", "'#' must be a whole level and the last one"],
    ),
    (
        "topic_plus_in_level",
        VALID.replace("frigate/front_door/person/snapshot", "frigate/cam+/snapshot"),
        "cameras[0].topic",
        ["'+' must be a whole level"],
    ),
    (
        "topic_bad_placeholder",
        VALID.replace("frigate/front_door/person/snapshot", "x/{cam}/snapshot"),
        "cameras[0].topic",
        ["the only placeholder is '{camera}'"],
    ),
    (
        "topic_share",
        VALID.replace("frigate/front_door", "$share/g/frigate/front_door"),
        "cameras[0].topic",
        ["mqtt.shared_group"],
    ),
    ("camera_without_topic", API + "cameras:\n  - name: a\n", "cameras[0].topic", ["missing"]),
    (
        "base_topic_wildcard",
        VALID + "mqtt:\n  base_topic: econnect/#\n",
        "mqtt.base_topic",
        ["without wildcards", "remove '+' and '#'"],
    ),
    (
        "base_topic_slash",
        VALID + "mqtt:\n  base_topic: /econnect/\n",
        "mqtt.base_topic",
        ["did you mean 'econnect'?"],
    ),
    (
        "certfile_without_keyfile",
        VALID + "mqtt:\n  tls:\n    certfile: config.yaml\n",
        "mqtt.tls.keyfile",
        ["because mqtt.tls.certfile is set", "nothing"],
    ),
    (
        "ca_file_missing",
        API + "  ca_file: certs/ca.pem\n" + CAMERA,
        "api.ca_file",
        ["readable file", "'certs/ca.pem': no such file", "relative paths start at"],
    ),
    ("qos", VALID + "mqtt:\n  qos: 3\n", "mqtt.qos", ["from 0 to 2"]),
    ("protocol", VALID + "mqtt:\n  protocol: 4\n", "mqtt.protocol", ["'3.1.1', '5'"]),
    ("shared_group", VALID + "mqtt:\n  shared_group: a/b\n", "mqtt.shared_group", ["name"]),
    (
        "mqtt_password_no_user",
        VALID + "mqtt:\n  password: x\n",
        "mqtt.username",
        ["because mqtt.password is set"],
    ),
    (
        "mode_typo",
        VALID + "processing:\n  mode: publish_with_response\n",
        "processing.mode",
        ["did you mean 'publishWithResponse'?"],
    ),
    (
        "confidence_range",
        VALID + "processing:\n  min_confidence: 1.5\n",
        "processing.min_confidence",
        ["from 0 to 1", "1.5"],
    ),
    (
        "camera_override_type",
        VALID + "    cooldown: soon\n",
        "cameras[0].cooldown",
        ["number of at least 0", "'soon'"],
    ),
    (
        "list_expected",
        VALID + "frigate:\n  labels: person\n",
        "frigate.labels",
        ["a list", "'person'", "one '- item' per line"],
    ),
    ("labels_empty", VALID + "frigate:\n  labels: []\n", "frigate.labels", ["at least 1"]),
    (
        "person_fields",
        VALID + "publish:\n  person_fields: [name, name]\n",
        "publish.person_fields[1]",
        ["each value once"],
    ),
    (
        "boolean",
        API + "  verify_ssl: maybe\n" + CAMERA,
        "api.verify_ssl",
        ["true or false", "'maybe'"],
    ),
    (
        "number_for_text",
        VALID.replace("username: bridge", "username: 1234"),
        "api.username",
        ["a non-empty string", "1234 (a number)", "quotes"],
    ),
    (
        "empty_value",
        VALID + "mqtt:\n  keepalive:\n",
        "mqtt.keepalive",
        ["null", "remove the line to use the default"],
    ),
    (
        "no_source",
        API,
        "cameras",
        ["at least one camera, or frigate.enabled: true"],
    ),
    (
        "topic_receives_everything_the_bridge_publishes",
        VALID + "  - name: all\n    topic: '#'\n",
        "cameras[1].topic",
        [
            "a topic outside the bridge's own output",
            "'#', which matches the bridge's own events, states and snapshots under econnect/#",
            "discovery configs under homeassistant/#",
            "'cameras/{camera}/snapshot'",
            "change mqtt.base_topic or homeassistant.discovery_prefix",
        ],
    ),
    (
        "topic_under_base_topic",
        VALID + "  - name: b\n    topic: econnect/{camera}/snapshot\n",
        "cameras[1].topic",
        ["'econnect/{camera}/snapshot', which matches", "under econnect/#", "mqtt.base_topic"],
    ),
    (
        "topic_under_discovery_prefix",
        VALID + "  - name: b\n    topic: homeassistant/+/+/+/config\n",
        "cameras[1].topic",
        ["discovery configs under homeassistant/#", "change homeassistant.discovery_prefix"],
    ),
    (
        "base_topic_over_camera_topic",
        VALID + "mqtt:\n  base_topic: frigate\n",
        "cameras[0].topic",
        ["under frigate/#", "change mqtt.base_topic"],
    ),
    (
        "frigate_prefix_is_base_topic",
        VALID + "frigate:\n  enabled: true\n  topic_prefix: econnect\n",
        "frigate.topic_prefix",
        ["'econnect', which matches", "under econnect/#", "set frigate.topic_prefix"],
    ),
    ("top_level_list", "- api\n", "", ["a mapping", "a list of 1 item"]),
    (
        "unknown_tag",
        VALID + "mqtt: !include mqtt.yaml\n",
        "mqtt",
        ["the tag '!include'", "!include is not supported"],
    ),
]


@pytest.mark.parametrize(
    ("text", "path", "words"),
    [case[1:] for case in BROKEN],
    ids=[case[0] for case in BROKEN],
)
def test_broken_configuration_names_key_and_reason(
    tmp_path: Path, text: str, path: str, words: list[str]
) -> None:
    problem = only_problem(write(tmp_path, text))
    assert problem.path == path
    message = str(problem)
    for word in words:
        assert word in message, message
    assert problem.file == str(tmp_path / "config.yaml")
    assert problem.line is not None


def test_missing_secret_names_key_and_secrets_file(tmp_path: Path) -> None:
    text = VALID.replace("password: pw", "password: !secret api_pasword")
    problem = only_problem(write(tmp_path, text, secrets="api_password: hunter2\n"))
    assert problem.path == "api.password"
    assert "'api_pasword'" in problem.expected
    assert str(tmp_path / "secrets.yaml") in problem.expected
    assert problem.found == "no such secret"
    assert problem.hint is not None
    assert "did you mean" not in problem.hint
    assert (problem.line, problem.column) == (4, 3)


def test_missing_secret_never_suggests_another_secrets_name(tmp_path: Path) -> None:
    text = VALID + "mqtt:\n  username: econnect\n  password: !secret mqtt_password\n"
    secrets = "econnect_password: hunter2\nmqtt_pasword: s3cret\n"
    problem = only_problem(write(tmp_path, text, secrets=secrets))
    assert problem.path == "mqtt.password"
    message = str(problem)
    assert "econnect_password" not in message
    assert "mqtt_pasword" not in message
    assert "did you mean" not in message
    secrets_file = str(tmp_path / "secrets.yaml")
    assert problem.hint == (
        f"add the line 'mqtt_password: <value>' to {secrets_file}, the secrets file read "
        "for this configuration (the one beside it)"
    )


def test_missing_secrets_file_names_key_and_file(tmp_path: Path) -> None:
    text = VALID.replace("password: pw", "password: !secret api_password")
    problem = only_problem(write(tmp_path, text))
    assert problem.path == "api.password"
    assert str(tmp_path / "secrets.yaml") in problem.expected
    assert "'api_password'" in problem.expected
    assert problem.found == "no such file"
    assert problem.hint is not None
    assert "api_password: <value>" in problem.hint


def test_broken_secrets_file_is_reported_once_with_its_line(tmp_path: Path) -> None:
    text = VALID.replace("password: pw", "password: !secret a") + "mqtt:\n  password: !secret b\n"
    syntax = only_problem(write(tmp_path, text, secrets="a: 1\n  b: : 2\n"))
    assert syntax.file == str(tmp_path / "secrets.yaml")
    assert (syntax.path, syntax.line, syntax.expected) == ("", 2, "valid YAML")


def test_missing_env_var(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, VALID + "mqtt:\n  host: !env_var MQTT_HOST\n"))
    assert problem.path == "mqtt.host"
    assert "environment variable MQTT_HOST" in problem.expected
    assert problem.found == "not set"
    assert problem.hint is not None
    assert "!env_var MQTT_HOST <default>" in problem.hint


def test_env_var_with_default_and_set(tmp_path: Path) -> None:
    path = write(
        tmp_path, VALID + "mqtt:\n  host: !env_var MQTT_HOST broker.lan\n  port: !env_var P\n"
    )
    config = load_config(path, environ={"P": "1884"})
    assert (config.mqtt.host, config.mqtt.port) == ("broker.lan", 1884)
    config = load_config(path, environ={"MQTT_HOST": "10.0.0.2", "P": "1885"})
    assert (config.mqtt.host, config.mqtt.port) == ("10.0.0.2", 1885)


def test_env_var_reads_os_environ_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ECB_TEST_HOST", "from-env")
    path = write(tmp_path, VALID + "mqtt:\n  host: !env_var ECB_TEST_HOST\n")
    assert load_config(path).mqtt.host == "from-env"


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "api:\n  url: https://x\n  username: [a, b\nmqtt: {}\n")
    problem = only_problem(path)
    assert problem.expected == "valid YAML"
    assert problem.line == 4
    assert problem.column is not None
    assert f"{path}:4:" in str(problem)


def test_tab_indentation_hint(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, "api:\n\turl: x\n"))
    assert (problem.line, problem.hint) == (2, "indent with spaces, not tabs")


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    problem = only_problem(
        write(tmp_path, VALID.replace("  username:", "  url: https://b\n  username:"))
    )
    assert problem.path == "api.url"
    assert problem.line == 3
    assert "again (first at line 2)" in problem.found


def test_duplicate_yaml_key_at_top_level(tmp_path: Path) -> None:
    found = problems(write(tmp_path, VALID + "api:\n  token: x\n"))
    assert [(problem.path, problem.line) for problem in found] == [("api", 8), ("api.url", 8)]
    assert found[0].found == "'api' again (first at line 1)"


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "~\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    problem = only_problem(write(tmp_path, text))
    assert problem.found == "an empty file"
    assert problem.path == ""


def test_missing_file(tmp_path: Path) -> None:
    problem = only_problem(tmp_path / "nope.yaml")
    assert problem.found == "no such file"


def test_directory_instead_of_file(tmp_path: Path) -> None:
    assert only_problem(tmp_path).expected == "a readable configuration file"


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"api:\n  url: caf\xe9\n")
    problem = only_problem(path)
    assert (problem.expected, problem.line) == ("UTF-8 text", 2)


def test_impossible_date_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, VALID + "    detector_name: 2024-02-30\n"))
    assert problem.path == "cameras[0].detector_name"
    assert "quotes" in (problem.hint or "")


def test_several_errors_reported_at_once(tmp_path: Path) -> None:
    text = """\
    api:
      url: ftp://engine
      pasword: x
      token: !secret missing
    mqtt:
      port: 70000
      tls: {certfile: config.yaml}
    cameras:
      - name: a b
        topic: x/#/y
      - name: c
        topic: x
      - name: c
        topic: y
    logging:
      level: LOUD
    """
    found = problems(write(tmp_path, text))
    paths = [problem.path for problem in found]
    assert paths == [
        "api.url",
        "api.pasword",
        "api.token",
        "mqtt.port",
        "mqtt.tls.keyfile",
        "cameras[0].name",
        "cameras[0].topic",
        "cameras[2].name",
        "logging.level",
    ]
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), environ={})
    message = str(caught.value)
    assert message.startswith("Invalid configuration: 9 problems\n")
    assert message.count("\n    expected: ") == 9


def test_error_text_layout(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("password:", "pasword:"))
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert str(caught.value) == (
        "Invalid configuration: 1 problem\n"
        f"- {path}:4:3: api.pasword\n"
        "    expected: a known key\n"
        "    found:    unknown key 'pasword'\n"
        "    fix:      did you mean 'password'?"
    )


# --- secrets never shown --------------------------------------------------------------------


SECRET_TEXT = """\
api:
  url: https://acme.econnectcloud.com/identities
  username: bridge
  password: !secret api_password
mqtt:
  username: mqtt
  password: !secret mqtt_password
cameras:
  - name: cam
    topic: cam/snapshot
"""
SECRETS = "api_password: hunter2/#/api\nmqtt_password: hunter2 mqtt\ntoken: hunter2-token\n"


def test_secrets_are_masked_in_repr_str_and_summary(tmp_path: Path) -> None:
    path = write(tmp_path, SECRET_TEXT, secrets=SECRETS)
    config = load_config(path, environ={})
    assert config.api.password is not None
    assert config.mqtt.password is not None
    assert config.api.password.reveal() == "hunter2/#/api"
    assert config.mqtt.password.reveal() == "hunter2 mqtt"
    code, summary = check_config(str(path))
    assert code == 0
    for text in (str(config), repr(config), summary, str(config.as_masked_dict())):
        assert "hunter2" not in text
    assert "password: '***'" in summary


def test_token_is_masked(tmp_path: Path) -> None:
    text = SECRET_TEXT.replace(
        "username: bridge\n  password: !secret api_password", "token: !secret token"
    )
    config = load_config(write(tmp_path, text, secrets=SECRETS), environ={})
    assert config.api.token == Secret("hunter2-token")
    assert "hunter2" not in repr(config)
    assert "hunter2" not in check_config(str(tmp_path / "config.yaml"))[1]


def test_secret_in_wrong_place_is_not_shown_in_errors(tmp_path: Path) -> None:
    text = SECRET_TEXT + "  - name: !secret mqtt_password\n    topic: !secret api_password\n"
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text, secrets=SECRETS), environ={})
    message = str(caught.value)
    assert "hunter2" not in message
    assert "the value of !secret mqtt_password (not shown)" in message
    assert [problem.path for problem in caught.value.problems] == [
        "cameras[1].name",
        "cameras[1].topic",
    ]


def test_wrong_type_for_secret_shows_only_the_type(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, VALID.replace("password: pw", "password: 123456")))
    assert problem.path == "api.password"
    assert problem.found == "a number"
    assert "123456" not in str(problem)


def test_credentials_in_url_are_not_shown(tmp_path: Path) -> None:
    text = VALID.replace("https://acme", "https://bridge:hunter2@acme")
    problem = only_problem(write(tmp_path, text))
    assert "hunter2" not in str(problem)
    assert "api.username and api.password" in (problem.hint or "")


def test_secret_repr_and_equality() -> None:
    secret = Secret("s3cret")
    assert repr(secret) == "'***'"
    assert str(secret) == "***"
    assert f"{secret}" == "***"
    assert secret == Secret("s3cret")
    assert secret != Secret("other")
    assert "s3cret" not in repr([secret])


# --- defaults and per-camera settings -------------------------------------------------------


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/Chicago")
    config = load(tmp_path, VALID)
    assert config.api.url == "https://acme.econnectcloud.com/identities"
    assert config.api.time_zone == "America/Chicago" == local_time_zone()
    assert (config.api.verify_ssl, config.api.timeout, config.api.connect_timeout) == (
        True,
        10.0,
        5.0,
    )
    mqtt = config.mqtt
    assert (mqtt.host, mqtt.port, mqtt.client_id, mqtt.protocol) == (
        "localhost",
        1883,
        None,
        "5",
    )
    assert (mqtt.base_topic, mqtt.qos, mqtt.keepalive, mqtt.max_queued_messages) == (
        "econnect",
        1,
        60,
        1000,
    )
    assert mqtt.skip_retained
    assert not mqtt.tls.enabled
    assert mqtt.shared_group is None
    processing = config.processing
    assert (processing.workers, processing.mode, processing.cooldown) == (
        4,
        "publishWithResponse",
        30,
    )
    assert processing.include.person
    assert processing.include.names
    assert processing.include.tags
    assert not processing.include.fields
    assert not processing.include.addresses
    assert processing.presence_timeout == 60
    assert processing.max_image_bytes == 10_485_760
    assert config.frigate.subscriptions() == ()
    assert config.homeassistant.discovery_prefix == "homeassistant"
    assert config.publish.person_fields == ("name", "aliases", "tags")
    assert (config.logging.level, config.logging.format) == ("INFO", "text")
    camera = config.cameras[0]
    assert camera.settings == processing.camera_defaults
    assert camera.time_zone == "America/Chicago"
    assert camera.detector_name is None  # the camera's name is sent (see test_sources)
    assert config.source == tmp_path / "config.yaml"


def test_time_zone_falls_back_to_utc_or_system(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Not/AZone")
    assert local_time_zone() != "Not/AZone"
    monkeypatch.setenv("TZ", ":Europe/Berlin")
    assert local_time_zone() == "Europe/Berlin"


def test_tls_changes_default_port(tmp_path: Path) -> None:
    assert load(tmp_path, VALID + "mqtt:\n  tls: {enabled: true}\n").mqtt.port == 8883
    assert load(tmp_path, VALID + "mqtt:\n  port: 1234\n  tls: {enabled: true}\n").mqtt.port == 1234


def test_per_camera_overrides_merge_over_processing(tmp_path: Path) -> None:
    text = VALID + textwrap.dedent(
        """\
          - name: garage
            topic: cams/garage
            min_confidence: 0.8
            mode: publish
            include: {fields: true, names: false}
            time_zone: Asia/Tokyo
        processing:
          min_confidence: 0.5
          cooldown: 10
          include: {addresses: true}
        """
    )
    config = load(tmp_path, text)
    front = config.cameras[0].settings
    garage = config.cameras[1].settings
    assert (front.min_confidence, front.cooldown, front.mode) == (0.5, 10, "publishWithResponse")
    assert (garage.min_confidence, garage.cooldown, garage.mode) == (0.8, 10, "publish")
    assert dataclasses.astuple(garage.include) == (True, False, True, True, True)
    assert dataclasses.astuple(front.include) == (True, True, True, False, True)
    assert config.camera("from_frigate") is None  # Frigate preset cameras: the defaults
    assert config.camera("garage") is not None
    assert config.camera("garage").time_zone == "Asia/Tokyo"  # type: ignore[union-attr]


def test_camera_settings_fields_are_the_overridable_keys() -> None:
    assert tuple(field.name for field in dataclasses.fields(CameraSettings)) == OVERRIDABLE


def test_camera_placeholder_topic(tmp_path: Path) -> None:
    text = API + "cameras:\n  - name: all\n    topic: cams/{camera}/jpg\n    detector_name: null\n"
    camera = load(tmp_path, text).cameras[0]
    assert camera.subscription == "cams/+/jpg"
    assert camera.camera_level == 1
    [source] = sources_from_config(load(tmp_path, text))
    assert source.camera_for("cams/porch/jpg") == "porch"
    assert source.detector_for("porch") == "porch"


def test_frigate_preset_subscriptions(tmp_path: Path) -> None:
    text = API + "frigate:\n  enabled: true\n  cameras: [a, b]\n  labels: [person, face]\n"
    assert load(tmp_path, text).frigate.subscriptions() == (
        "frigate/a/person/snapshot",
        "frigate/a/face/snapshot",
        "frigate/b/person/snapshot",
        "frigate/b/face/snapshot",
    )
    everything = load(tmp_path, API + "frigate: {enabled: true}\n")
    assert everything.frigate.subscriptions() == ("frigate/+/person/snapshot",)


def test_normalisation(tmp_path: Path) -> None:
    text = VALID.replace("/identities", "/identities/") + textwrap.dedent(
        """\
        mqtt:
          protocol: 5
          port: "1884"
        logging:
          level: debug
        """
    )
    config = load(tmp_path, text)
    assert config.api.url == "https://acme.econnectcloud.com/identities"
    assert (config.mqtt.protocol, config.mqtt.port, config.logging.level) == ("5", 1884, "DEBUG")


def test_relative_ca_file_resolves_beside_config(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    config = load(tmp_path, API + "  ca_file: ca.pem\n" + CAMERA)
    assert config.api.ca_file == tmp_path / "ca.pem"


def test_config_from_dict_uses_the_same_schema(tmp_path: Path) -> None:
    config = config_from_dict(
        {"api": {"url": "http://h:6009", "token": "t"}, "frigate": {"enabled": True}}
    )
    assert config.mqtt.port == 1883
    assert config.api.token == Secret("t")
    with pytest.raises(ConfigError) as caught:
        config_from_dict({"api": {"url": "http://h"}}, source="<options>")
    assert {problem.path for problem in caught.value.problems} == {"api.password"}
    assert caught.value.problems[0].file == "<options>"


def test_yaml_anchors_and_merge_keys_work(tmp_path: Path) -> None:
    text = API + textwrap.dedent(
        """\
        cameras:
          - &base
            name: a
            topic: t/a
            min_interval: 5
          - <<: *base
            name: b
            topic: t/b
        """
    )
    config = load(tmp_path, text)
    assert [camera.settings.min_interval for camera in config.cameras] == [5, 5]


# --- the example, the docs and check_config -------------------------------------------------


def test_example_config_loads() -> None:
    config = load_config(REPO / "examples" / "config.yaml", environ={})
    assert config.frigate.enabled
    assert [camera.payload for camera in config.cameras] == ["raw"]
    assert config.api.password is not None
    code, text = check_config(str(REPO / "examples" / "config.yaml"))
    assert code == 0, text
    assert "Configuration OK" in text
    assert "frigate/events" in text  # the example leads with events mode
    assert config.frigate.events_mode


def test_check_config_on_error(tmp_path: Path) -> None:
    code, text = check_config(str(write(tmp_path, "api: {}\n")))
    assert code == 1
    assert "api.url" in text
    assert text.startswith("Invalid configuration")


def test_check_config_warnings(tmp_path: Path) -> None:
    text = API.replace("https://", "http://") + "  verify_ssl: false\n" + CAMERA
    text += "publish:\n  person_fields: [name, fields]\n"
    code, summary = check_config(str(write(tmp_path, text)))
    assert code == 0
    assert "api.verify_ssl is false" in summary
    assert "password travels unencrypted" in summary
    assert "'fields'" in summary


def test_own_output_is_refused_by_config_from_dict_too() -> None:
    data = {"api": {"url": "https://h/identities", "token": "t"}}
    with pytest.raises(ConfigError) as caught:
        config_from_dict({**data, "cameras": [{"name": "a", "topic": "#"}]})
    assert [problem.path for problem in caught.value.problems] == ["cameras[0].topic"]
    off = {"enabled": False}
    camera = {"name": "a", "topic": "homeassistant/+/snapshot"}
    config = config_from_dict({**data, "cameras": [camera], "homeassistant": off})
    assert config.cameras[0].topic == "homeassistant/+/snapshot"


def test_run_refuses_own_output_before_starting(tmp_path: Path) -> None:
    from econnect_bridge.cli import main

    path = write(tmp_path, VALID + "  - name: all\n    topic: '#'\n")
    assert main(["run", "-c", str(path)]) == 2


def _warnings_of(tmp_path: Path, text: str, secrets: str | None = None) -> list[str]:
    """Return the warnings of a valid configuration."""
    return config_warnings(load_config(write(tmp_path, text, secrets), environ={}))


def test_wildcard_topic_with_a_fixed_name_warns(tmp_path: Path) -> None:
    text = VALID + "  - name: yard\n    topic: cameras/+/snapshot\n"
    (warning,) = [w for w in _warnings_of(tmp_path, text) if "cameras[1]" in w]
    assert warning.startswith("cameras[1].topic 'cameras/+/snapshot' has a wildcard")
    assert "reported as 'yard'" in warning
    assert "topic: cameras/{camera}/snapshot" in warning
    code, summary = check_config(str(tmp_path / "config.yaml"))
    assert code == 0
    assert "cameras[1].topic" in summary


@pytest.mark.parametrize(
    "camera",
    [
        "  - name: yard\n    topic: cameras/{camera}/snapshot\n",
        "  - name: yard\n    topic: cameras/+/snapshot\n    json_camera_key: camera\n",
        "  - name: yard\n    topic: cameras/yard/snapshot\n",
    ],
)
def test_named_or_fixed_topics_do_not_warn(tmp_path: Path, camera: str) -> None:
    assert not [w for w in _warnings_of(tmp_path, VALID + camera) if "wildcard" in w]


def test_hash_topic_with_a_fixed_name_suggests_a_camera_level(tmp_path: Path) -> None:
    text = VALID + "  - name: yard\n    topic: yard/#\n"
    (warning,) = [w for w in _warnings_of(tmp_path, text) if "wildcard" in w]
    assert "topic: yard/{camera}/#" in warning


def test_example_placeholders_warn_without_showing_secrets(tmp_path: Path) -> None:
    text = VALID.replace("password: pw", "password: !secret econnect_password")
    text += "mqtt:\n  username: econnect\n  password: !secret mqtt_password\n"
    secrets = "econnect_password: change-me\nmqtt_password: change-me-too\n"
    warnings = _warnings_of(tmp_path, text, secrets)
    assert any(
        w.startswith("api.url is still the example's acme.econnectcloud.com") for w in warnings
    )
    assert any(w.startswith("api.password is still an example placeholder") for w in warnings)
    assert any(w.startswith("mqtt.password is still an example placeholder") for w in warnings)
    assert not any("change-me" in w for w in warnings)


def test_real_values_do_not_warn_as_placeholders(tmp_path: Path) -> None:
    text = VALID.replace("acme.econnectcloud.com", "example.org").replace("pw", "change-me-now")
    assert not [w for w in _warnings_of(tmp_path, text) if "placeholder" in w or "example" in w]


def test_the_example_config_warns_about_its_placeholders() -> None:
    code, text = check_config(str(REPO / "examples" / "config.yaml"))
    assert code == 0, text
    for key in ("api.url", "api.password", "mqtt.password"):
        assert f"- {key} is still" in text, key


def test_docs_configuration_md_is_generated_from_schema() -> None:
    doc = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert MARKER in doc
    assert doc.split(MARKER, 1)[1].lstrip("\n") == schema_reference_markdown(), (
        "docs/configuration.md is stale: "
        "run python3 -m econnect_bridge.config --write docs/configuration.md"
    )
    assert render_document(doc) == doc


def _all_options(section: Section, prefix: str = "") -> list[tuple[str, Option]]:
    """Every option of the schema, with its dotted path."""
    found = []
    for option in section.options.values():
        found.append((prefix + option.key, option))
        inner = option.check.item if isinstance(option.check, ListOf) else option.check
        if isinstance(inner, Section):
            found += _all_options(inner, f"{prefix}{option.key}.")
    return found


def test_every_key_has_a_description_and_is_documented() -> None:
    reference = schema_reference_markdown()
    options = _all_options(ROOT)
    assert len(options) > 80
    for path, option in options:
        assert option.description.strip(), path
        assert option.marker().description == option.description
        documented = f"| `{option.key}` |" if "." in path else f"## `{option.key}`"
        assert documented in reference, path
        if callable(option.default):
            assert option.default_doc, f"{path}: a computed default needs default_doc"


def test_credentials_without_scheme_are_not_shown(tmp_path: Path) -> None:
    text = VALID.replace("https://acme", "bridge:hunter2@acme")
    problem = only_problem(write(tmp_path, text))
    assert problem.path == "api.url"
    assert "hunter2" not in str(problem)


def test_unreadable_value_in_secrets_file_is_not_shown(tmp_path: Path) -> None:
    text = VALID.replace("password: pw", "password: !secret pw")
    problem = only_problem(write(tmp_path, text, secrets="pw: 2024-02-30\n"))
    assert problem.file == str(tmp_path / "secrets.yaml")
    assert problem.line == 1
    assert "2024" not in str(problem)


def test_secrets_file_must_be_a_mapping(tmp_path: Path) -> None:
    text = VALID.replace("password: pw", "password: !secret pw")
    problem = only_problem(write(tmp_path, text, secrets="- hunter2\n"))
    assert (problem.expected, problem.found) == ("a mapping of secret names to values", "a list")


def test_secret_tag_needs_a_name(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, VALID.replace("password: pw", "password: !secret")))
    assert (problem.path, problem.expected) == ("api.password", "a name after !secret")


def test_reference_write_refreshes_only_the_generated_part(tmp_path: Path) -> None:
    from econnect_bridge.config.reference import main

    target = tmp_path / "configuration.md"
    target.write_text(f"# Intro\n\n{MARKER}\n\nstale\n", encoding="utf-8")
    assert main(["--write", str(target)]) == 0
    text = target.read_text(encoding="utf-8")
    assert text.startswith("# Intro\n\n" + MARKER)
    assert text.endswith(schema_reference_markdown())
    assert "stale" not in text


def test_documented_client_id_default_is_what_the_bridge_uses() -> None:
    import socket

    from econnect_bridge.mqtt import default_client_id

    doc = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    (row,) = [line for line in doc.splitlines() if line.startswith("| `client_id` |")]
    assert "`econnect-bridge-<hostname>-<base_topic>`, the same at every start" in row
    host = "".join(ch if ch.isalnum() else "-" for ch in socket.gethostname())[:40]
    assert default_client_id("econnect") == f"econnect-bridge-{host}-econnect"
    assert default_client_id("home/faces") == default_client_id("home/faces")
