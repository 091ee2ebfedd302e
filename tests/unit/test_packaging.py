"""The Dockerfile, compose example and Home Assistant app, checked without a Docker engine.

Nothing here can build an image, so the tests check what can go wrong silently: a command or
module the image calls that does not exist, a health check on a path the endpoint does not
serve, an app version that differs from the package's, options that map onto configuration
keys the bridge's schema rejects.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from econnect_bridge import __version__
from econnect_bridge.cli import build_parser
from econnect_bridge.config.schema import validate

REPO = Path(__file__).resolve().parents[1].parent
APP = REPO / "homeassistant-app" / "econnect_bridge"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def instructions(path: Path) -> list[tuple[str, str]]:
    """Parse a Dockerfile into (INSTRUCTION, arguments), joining continuation lines."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    result = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list), f"use the exec form (JSON array): {arguments}"
    return [str(item) for item in value]


# -- the bridge image ---------------------------------------------------------------------


DOCKERFILE = instructions(REPO / "Dockerfile")


def test_dockerfile_is_multi_stage_and_runs_as_non_root() -> None:
    stages = [args for kw, args in DOCKERFILE if kw == "FROM"]
    assert len(stages) >= 2
    assert all(":" in stage.split()[0] for stage in stages), "pin base image tags"
    users = [args for kw, args in DOCKERFILE if kw == "USER"]
    assert users, "the image must not run as root"
    assert users[-1].split(":")[0] not in ("root", "0")
    last_from = max(i for i, (kw, _a) in enumerate(DOCKERFILE) if kw == "FROM")
    assert any(kw == "USER" for kw, _a in DOCKERFILE[last_from:]), "USER in the final stage"


def test_dockerfile_copies_only_what_exists_and_dockerignore_lets_it_in() -> None:
    ignore = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert "*" in ignore, "the context starts empty and lists what goes in"
    for keyword, args in DOCKERFILE:
        if keyword == "COPY" and "--from" not in args:
            for source in args.split()[:-1]:
                assert (REPO / source).exists(), source
                assert source.rstrip("/") in allowed, f"{source} is excluded by .dockerignore"


def test_entrypoint_and_command_exist() -> None:
    entrypoint = exec_form(next(a for k, a in DOCKERFILE if k == "ENTRYPOINT"))
    command = exec_form(next(a for k, a in DOCKERFILE if k == "CMD"))
    assert entrypoint == ["econnect-bridge"]
    assert PYPROJECT["project"]["scripts"]["econnect-bridge"] == "econnect_bridge.cli:main"
    args = build_parser().parse_args(command)
    assert args.command == "run"
    assert args.config == "/config/config.yaml"
    assert ("VOLUME", '["/config"]') in DOCKERFILE


def test_healthcheck_calls_the_probe_on_a_served_path() -> None:
    healthcheck = next(a for k, a in DOCKERFILE if k == "HEALTHCHECK")
    command = exec_form(healthcheck.split("CMD", 1)[1].strip())
    assert command[:3] == ["python", "-m", "econnect_bridge.health"]
    assert importlib.util.find_spec("econnect_bridge.health") is not None
    from econnect_bridge import health

    assert "/config/config.yaml" in command
    assert health.probe_url(_HealthOn(), ready=False).endswith("/healthz")
    assert "8099" in next(a for k, a in DOCKERFILE if k == "EXPOSE")


class _HealthOn:
    enabled = True
    host = "0.0.0.0"
    port = 8099


def test_dockerfile_installs_the_package_with_pillow() -> None:
    runs = " ".join(a for k, a in DOCKERFILE if k == "RUN")
    assert 'pip wheel --wheel-dir /wheels "."' in runs
    assert '"econnect-bridge"' in runs
    assert any(d.startswith("Pillow") for d in PYPROJECT["project"]["dependencies"])


# -- docker compose -----------------------------------------------------------------------


def test_compose_example_runs_the_bridge_beside_mosquitto() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.example.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert services["mosquitto"]["image"].startswith("eclipse-mosquitto:")
    bridge = services["econnect-bridge"]
    assert bridge["build"] == "."
    assert "mosquitto" in bridge["depends_on"]
    assert any(v.split(":")[1] == "/config" for v in bridge["volumes"])
    command = shlex.split(services["mosquitto"]["command"])
    assert command[:2] == ["sh", "-c"]
    assert "listener 1883" in command[2]


# -- the Home Assistant app ---------------------------------------------------------------


def app_config() -> dict[str, Any]:
    data = yaml.safe_load((APP / "config.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def load_run() -> ModuleType:
    spec = importlib.util.spec_from_file_location("econnect_app_run", APP / "run.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_app_manifest() -> None:
    config = app_config()
    for key in ("name", "version", "slug", "description", "arch", "startup"):
        assert config[key], key
    assert config["version"] == __version__ == PYPROJECT["project"]["version"]
    assert config["services"] == ["mqtt:want"]
    assert set(config["arch"]) <= {"aarch64", "amd64"}
    assert config["startup"] == "application"
    assert config["init"] is False, "the base image brings s6-overlay"
    assert config["watchdog"].endswith("/healthz")
    assert re.fullmatch(r"[a-z0-9_]+", config["slug"])


def test_app_options_match_the_schema() -> None:
    config = app_config()
    options, schema = config["options"], config["schema"]
    assert set(options) <= set(schema), "every option needs a schema entry"
    required = {key for key, kind in schema.items() if not str(kind).endswith("?")}
    assert required <= set(options), "a required option needs a default"
    translations = yaml.safe_load((APP / "translations" / "en.yaml").read_text(encoding="utf-8"))
    assert set(translations["configuration"]) == set(schema)


def test_app_dockerfile_pins_its_base_and_has_no_build_yaml() -> None:
    steps = instructions(APP / "Dockerfile")
    (base,) = [a for k, a in steps if k == "FROM"]
    assert re.fullmatch(r"ghcr\.io/home-assistant/base:\d+\.\d+-\d{4}\.\d{2}\.\d+", base)
    assert not (APP / "build.yaml").exists()
    assert not (APP / "build.json").exists()
    assert ("ARG", f"BUILD_VERSION={__version__}") in steps
    assert "econnect-bridge==${BUILD_VERSION}" in " ".join(a for k, a in steps if k == "RUN")
    copied = [a.split()[0] for k, a in steps if k == "COPY"]
    assert all((APP / source).exists() for source in copied)
    command = exec_form(next(a for k, a in steps if k == "CMD"))
    assert command[1] in [a.split()[1] for k, a in steps if k == "COPY"]


def test_repository_yaml() -> None:
    repository = yaml.safe_load((REPO / "repository.yaml").read_text(encoding="utf-8"))
    assert set(repository) >= {"name", "url", "maintainer"}


SUPERVISOR_MQTT = {
    "host": "core-mosquitto",
    "port": 1883,
    "ssl": False,
    "protocol": "3.1.1",
    "username": "addons",
    "password": "secret",
}


def options(**changes: Any) -> dict[str, Any]:
    """The app's default options, filled in as a user would."""
    data = dict(app_config()["options"])
    data |= {"api_url": "https://acme.econnectcloud.com/identities"}
    data |= {"api_username": "bridge", "api_password": "pw"}
    return data | changes


def test_default_options_become_a_valid_bridge_configuration() -> None:
    config = load_run().bridge_config(options(), SUPERVISOR_MQTT)
    clean, errors = validate(config)
    assert errors == []
    assert clean is not None
    assert clean["mqtt"]["host"] == "core-mosquitto"
    assert clean["mqtt"]["username"] == "addons"
    assert clean["frigate"]["enabled"] is True
    assert clean["health"] == {"enabled": True, "host": "0.0.0.0", "port": 8099}


def test_every_option_is_mapped() -> None:
    run = load_run()
    config = run.bridge_config(
        options(
            api_token="tok",
            time_zone="Europe/Paris",
            frigate_topic_prefix="nvr",
            frigate_cameras=["front_door"],
            cameras=[{"name": "porch", "topic": "cameras/porch/snapshot"}],
            base_topic="faces",
            tags=["VIP"],
            persons=["Jane Doe"],
            cooldown=10,
            min_confidence=0.5,
            uncertain_min_confidence=0.4,
            rules=[
                {"tag": "Family", "min_confidence": 0.9},
                {"person": "Bob", "exclude": True, "cameras": "shop_floor, till"},
            ],
            annotated_snapshot=False,
            face_pictures=True,
            log_level="DEBUG",
            mqtt_host="broker.lan",
            mqtt_port=1884,
            mqtt_username="u",
            mqtt_password="p",
        ),
        SUPERVISOR_MQTT,
    )
    clean, errors = validate(config)
    assert errors == []
    assert clean is not None
    assert clean["api"]["token"].reveal() == "tok"
    assert clean["api"]["password"] is None, "a token replaces user and password"
    assert clean["api"]["time_zone"] == "Europe/Paris"
    assert clean["mqtt"]["host"] == "broker.lan", "explicit options win over the service"
    assert (clean["mqtt"]["port"], clean["mqtt"]["username"]) == (1884, "u")
    assert clean["mqtt"]["base_topic"] == "faces"
    assert clean["frigate"]["topic_prefix"] == "nvr"
    assert clean["cameras"][0]["topic"] == "cameras/porch/snapshot"
    assert list(clean["homeassistant"]["tags"]) == ["VIP"]
    assert clean["processing"]["cooldown"] == 10
    assert clean["publish"]["annotated_snapshot"] is False
    assert clean["publish"]["face_pictures"] is True
    assert clean["processing"]["uncertain_min_confidence"] == 0.4
    family, bob = clean["rules"]
    assert (family["tag"], family["min_confidence"], list(family["cameras"])) == ("Family", 0.9, [])
    assert (bob["person"], bob["exclude"], list(bob["cameras"])) == (
        "Bob",
        True,
        ["shop_floor", "till"],
    )
    assert clean["logging"]["level"] == "DEBUG"


def test_a_frigate_url_turns_on_events_mode() -> None:
    frigate = {
        "frigate_url": "https://frigate.lan:8971",
        "frigate_username": "admin",
        "frigate_password": "frigate-pw",
        "frigate_write_sub_label": True,
    }
    clean, errors = validate(load_run().bridge_config(options(**frigate), SUPERVISOR_MQTT))
    assert errors == []
    assert clean is not None
    section = clean["frigate"]
    assert (section["url"], section["username"]) == ("https://frigate.lan:8971", "admin")
    assert section["password"].reveal() == "frigate-pw"
    assert section["write_sub_label"] is True
    defaults, errors = validate(load_run().bridge_config(options(), SUPERVISOR_MQTT))
    assert errors == []
    assert defaults is not None
    assert defaults["frigate"]["url"] is None  # no url: snapshot mode, as before


def test_tls_and_mqtt5_from_the_service() -> None:
    service = SUPERVISOR_MQTT | {"ssl": True, "port": 8883, "protocol": "5"}
    clean, errors = validate(load_run().bridge_config(options(), service))
    assert errors == []
    assert clean is not None
    assert clean["mqtt"]["tls"]["enabled"] is True
    assert clean["mqtt"]["protocol"] == "5"


def test_no_broker_at_all_is_a_clear_error() -> None:
    with pytest.raises(LookupError, match="Mosquitto broker app"):
        load_run().bridge_config(options(), None)


def test_no_token_means_no_service_call() -> None:
    assert load_run().mqtt_service(None) is None
    assert load_run().mqtt_service("t", url="http://127.0.0.1:9/services/mqtt") is None


def test_written_configuration_is_private_and_loads(tmp_path: Path) -> None:
    from econnect_bridge.config import load_config

    run = load_run()
    path = run.write_config(run.bridge_config(options(), SUPERVISOR_MQTT), tmp_path / "c.yaml")
    assert path.stat().st_mode & 0o777 == 0o600
    config = load_config(path)
    assert config.health.enabled
    assert config.mqtt.password is not None
    assert config.mqtt.password.reveal() == "secret"


# -- the workflows ------------------------------------------------------------------------


def workflow(name: str) -> dict[str, Any]:
    data = yaml.safe_load((REPO / ".github" / "workflows" / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def run_lines(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in job["steps"])


def test_tests_workflow_runs_what_scripts_test_sh_runs() -> None:
    jobs = workflow("tests.yml")["jobs"]
    lint = run_lines(jobs["lint"])
    for command in ("ruff check .", "ruff format --check .", "mypy bridge core tests/support"):
        assert command in lint
    assert "pytest tests/unit tests/integration" in run_lines(jobs["tests"])
    assert "mosquitto" in run_lines(jobs["tests"])
    assert (REPO / ".github" / "workflows" / "ha.yml").exists(), "hassfest + HACS live there"
    ha_jobs = workflow("ha.yml")["jobs"]
    assert {"hassfest", "hacs"} <= set(ha_jobs)


def test_release_publishes_the_package_and_the_image() -> None:
    jobs = workflow("release.yml")["jobs"]
    uses = [step.get("uses", "") for job in jobs.values() for step in job["steps"]]
    assert any(u.startswith("pypa/gh-action-pypi-publish") for u in uses)
    assert any(u.startswith("docker/build-push-action") for u in uses)
    assert jobs["pypi"]["permissions"] == {"id-token": "write"}
    assert jobs["image"]["permissions"]["packages"] == "write"


# -- the documentation's links ------------------------------------------------------------

DOCS = [
    REPO / "README.md",
    REPO / "docs" / "getting-started.md",
    REPO / "docs" / "docker.md",
    REPO / "docs" / "node-red.md",
    APP / "DOCS.md",
]


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        assert file.exists(), f"{doc.name}: broken link {target}"
        if anchor and file.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", file.read_text(encoding="utf-8"), re.MULTILINE)
            assert anchor in {_anchor(h) for h in headings}, f"{doc.name}: no #{anchor}"
