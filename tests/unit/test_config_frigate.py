"""The `frigate` section: events or snapshot mode, Frigate's HTTP API, and clear errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from econnect_bridge.config import BridgeConfig, ConfigError, load_config
from econnect_bridge.config.check import config_warnings
from econnect_bridge.sources import sources_from_config
from econnect_identities.tracking import FollowPolicy

API = """\
api:
  url: https://engine.example.com/identities
  username: bridge
  password: pw
"""


def load(tmp_path: Path, frigate: str) -> BridgeConfig:
    path = tmp_path / "config.yaml"
    path.write_text(API + "frigate:\n" + textwrap.indent(textwrap.dedent(frigate), "  "))
    return load_config(path, environ={})


def problems(tmp_path: Path, frigate: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, frigate)
    return [f"{p.path}: {p.expected} / {p.found} / {p.hint}" for p in caught.value.problems]


def test_a_url_makes_auto_follow_tracked_objects(tmp_path: Path) -> None:
    config = load(tmp_path, "enabled: true\nurl: http://frigate.local:5000/\n")
    assert config.frigate.events_mode
    assert config.frigate.url == "http://frigate.local:5000"
    assert config.frigate.subscriptions() == ("frigate/events", "frigate/tracked_object_update")
    assert {s.kind for s in sources_from_config(config)} == {"frigate_events"}


def test_without_a_url_auto_stays_with_snapshots_and_says_what_it_misses(tmp_path: Path) -> None:
    config = load(tmp_path, "enabled: true\n")
    assert not config.frigate.events_mode
    assert config.frigate.subscriptions() == ("frigate/+/person/snapshot",)
    [warning] = [w for w in config_warnings(config) if w.startswith("frigate")]
    assert "frigate.url" in warning


def test_snapshot_mode_is_kept_when_asked_for(tmp_path: Path) -> None:
    config = load(tmp_path, "enabled: true\nmode: snapshot\nurl: http://frigate.local:5000\n")
    assert not config.frigate.events_mode


def test_events_mode_without_a_url_names_the_key_and_the_fix(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, "enabled: true\nmode: events\n")
    assert problem.startswith("frigate.url:")
    assert "frigate.mode: snapshot" in problem


def test_a_login_needs_both_halves(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, "enabled: true\nurl: https://f:8971\nusername: admin\n")
    assert problem.startswith("frigate.password:")


def test_required_zones_are_names_per_camera(tmp_path: Path) -> None:
    config = load(
        tmp_path, "enabled: true\nurl: http://f:5000\nrequired_zones: {front_door: [porch]}\n"
    )
    assert config.frigate.required_zones == {"front_door": ("porch",)}
    [problem] = problems(
        tmp_path, "enabled: true\nurl: http://f:5000\nrequired_zones: {front_door: []}\n"
    )
    assert problem.startswith("frigate.required_zones.front_door:")


def test_defaults_are_the_core_follow_policy(tmp_path: Path) -> None:
    frigate = load(tmp_path, "enabled: true\nurl: http://f:5000\n").frigate
    policy = FollowPolicy()
    assert (frigate.max_attempts, frigate.max_seconds, frigate.poll_interval) == (
        policy.max_attempts,
        policy.max_seconds,
        policy.poll_interval,
    )
    assert (frigate.confident_score, frigate.sub_label_min_score, frigate.skip_named) == (
        policy.confident_score,
        policy.sub_label_min_score,
        policy.skip_named,
    )


def test_a_password_over_plain_http_is_a_warning(tmp_path: Path) -> None:
    config = load(tmp_path, "enabled: true\nurl: http://f:5000\nusername: a\npassword: b\n")
    assert any("in clear" in w for w in config_warnings(config))


def test_the_password_never_shows_in_the_summary(tmp_path: Path) -> None:
    config = load(
        tmp_path, "enabled: true\nurl: https://f:8971\nusername: a\npassword: s3cr3t-pw\n"
    )
    assert "s3cr3t-pw" not in repr(config.as_masked_dict())
    assert "s3cr3t-pw" not in repr(config.frigate)
