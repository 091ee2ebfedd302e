"""The camera registry: distinct names get distinct slugs, the same on every run."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from econnect_bridge.cameras import BlankCameraNameError, CameraDirectory
from econnect_bridge.config import load_config
from econnect_bridge.sources import Source, sources_from_config
from econnect_identities.naming import (
    MAX_SLUG,
    CameraSlugs,
    is_blank,
    slugify,
    suffixed_slugs,
)

SLUG = re.compile(r"^[a-z0-9_]+$")
LONG = "a" * 70  # slugs to the first 64 characters


def _suffix(name: str) -> str:
    """The first suffix a colliding name gets, computed independently of the registry."""
    return hashlib.blake2b(name.encode(), digest_size=8).hexdigest()[:6]


@pytest.mark.parametrize(
    ("first", "second"),
    [("Front Door", "front-door"), ("a$b", "a/b/#"), (LONG, LONG + "b")],
)
def test_the_first_name_keeps_the_plain_slug_a_later_one_gets_a_suffix(
    first: str, second: str
) -> None:
    slugs = CameraSlugs()
    plain = slugify(first)
    assert slugify(second) == plain  # the collision the registry is for
    assert slugs.slug(first) == plain
    later = slugs.slug(second)
    assert later != plain
    assert later.endswith("_" + _suffix(second))
    assert SLUG.match(later)
    assert len(later) <= MAX_SLUG
    assert slugs.slug(first) == plain  # asking again changes nothing
    assert slugs.slug(second) == later


def test_a_long_colliding_name_is_cut_to_fit() -> None:
    slugs = CameraSlugs([LONG])
    later = slugs.slug(LONG + "b")
    assert len(later) == MAX_SLUG
    assert later == "a" * (MAX_SLUG - 7) + "_" + _suffix(LONG + "b")


def test_names_without_a_collision_keep_their_plain_slugs() -> None:
    names = ["Front Door", "garage", "José", "🚗", "Back Yard"]
    slugs = CameraSlugs(names)
    assert slugs.names() == {name: slugify(name) for name in names}


def test_a_restart_with_the_same_configuration_gives_the_same_slugs() -> None:
    config = ("front-door", "Front Door", "garage")
    before = CameraSlugs(config)
    before.slug("FRONT DOOR")  # learnt at run time
    after = CameraSlugs(config)
    after.slug("FRONT DOOR")
    assert after.names() == before.names()
    assert after.slug("front-door") == "front_door"  # configured first: the plain slug


@pytest.mark.parametrize("order", [("b", "c"), ("c", "b")])
def test_run_time_names_after_the_first_get_the_same_slug_in_any_order(
    order: tuple[str, str],
) -> None:
    names = {"b": "front-door", "c": "FRONT DOOR"}
    slugs = CameraSlugs(["Front Door"])
    for key in order:
        slugs.slug(names[key])
    assert slugs.slug("front-door") == "front_door_" + _suffix("front-door")
    assert slugs.slug("FRONT DOOR") == "front_door_" + _suffix("FRONT DOOR")


def test_a_name_that_spells_another_ones_suffixed_slug_gets_its_own() -> None:
    taken = "front_door_" + _suffix("front-door")
    slugs = CameraSlugs(["Front Door", taken])
    assert slugs.slug(taken) == taken
    other = slugs.slug("front-door")
    assert other not in {"front_door", taken}
    assert other == suffixed_slugs("front-door")[1]


def test_a_recalled_suffixed_slug_goes_back_to_its_name_whatever_comes_first() -> None:
    previous = CameraSlugs(["Front Door", "front-door"]).names()
    slugs = CameraSlugs()
    slugs.recall(previous.values())
    assert slugs.slug("front-door") == previous["front-door"]  # arrives first this time
    assert slugs.slug("Front Door") == "front_door"


def test_a_recalled_plain_slug_does_not_push_its_owner_aside() -> None:
    slugs = CameraSlugs()
    slugs.recall(["front_door"])
    assert slugs.slug("Front Door") == "front_door"


@pytest.mark.parametrize("name", ["", " ", "   ", "\t\n", "\u200b", "\u00a0"])
def test_blank_names_are_blank(name: str) -> None:
    assert is_blank(name)


@pytest.mark.parametrize("name", ["a", " Front Door ", "#", "Камера", "🚗"])
def test_visible_names_are_not_blank(name: str) -> None:
    assert not is_blank(name)


@pytest.fixture
def source(tmp_path: Path) -> Source:
    """The source of a `{camera}` topic, as the configuration builds it."""
    config_file = tmp_path / "config.yaml"
    config_file.write_text(
        "api: {url: 'http://127.0.0.1:1', username: u, password: p}\n"
        "cameras: [{name: cam, topic: 'cams/{camera}/snapshot'}]\n"
    )
    (built,) = sources_from_config(load_config(config_file))
    return built


def test_the_directory_refuses_a_blank_camera_and_says_how_to_fix_it(source: Source) -> None:
    heard: list[str] = []
    directory = CameraDirectory((source,), heard.append)
    with pytest.raises(BlankCameraNameError) as raised:
        directory.learn(" ", source)
    assert raised.value.code == "blank_camera"
    assert "cams/+/snapshot" in str(raised.value)
    assert "{camera}" in str(raised.value)
    assert heard == []
    assert directory.cameras() == []


def test_the_directory_claims_slugs_in_order_of_arrival(source: Source) -> None:
    slugs = CameraSlugs()
    directory = CameraDirectory((source,), slugs=slugs)
    directory.learn("front-door", source)
    directory.learn("Front Door", source)
    assert slugs.slug("front-door") == "front_door"
    assert slugs.slug("Front Door") == "front_door_" + _suffix("Front Door")
