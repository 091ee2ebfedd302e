"""The command line as a user runs it: real processes, the emulator over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.helpers import SAMPLES, base_config, write_config

pytestmark = pytest.mark.integration


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "econnect_bridge", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_help_and_version() -> None:
    helped = cli("--help")
    assert helped.returncode == 0
    for command in ("run", "check-config", "recognize", "demo", "emulator"):
        assert command in helped.stdout
    bare = cli()
    assert bare.returncode == 0
    assert "usage:" in bare.stdout
    version = cli("--version")
    assert version.stdout.strip() == "econnect-bridge 0.1.0"


def test_recognize_prints_a_line_per_face(emulator: Any) -> None:
    done = cli(
        "recognize",
        str(SAMPLES / "jane.jpg"),
        str(SAMPLES / "no_face.jpg"),
        "--url",
        emulator.url,
        "--username",
        "bridge",
        env={"ECONNECT_PASSWORD": "bridge-password"},
    )
    assert done.returncode == 0, done.stderr
    assert "jane.jpg: 1 face(s), known" in done.stdout
    assert "Jane Doe" in done.stdout
    assert "VIP" in done.stdout
    assert "no_face.jpg: 0 face(s), no_face" in done.stdout
    assert "Summary" in done.stdout
    assert "bridge-password" not in done.stdout + done.stderr


def test_recognize_a_folder_as_json_with_a_config(tmp_path: Path, emulator: Any) -> None:
    config = write_config(tmp_path / "c.yaml", base_config(emulator.url, 1883))
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("bob.png", "unknown.jpg", "group.jpg"):
        (folder / name).write_bytes((SAMPLES / name).read_bytes())
    (folder / "notes.txt").write_text("not an image: skipped by the folder scan")
    done = cli("recognize", str(folder), "-c", str(config), "--json", "--all-faces")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert [e["outcome"] for e in events] == ["known", "known", "unknown"]
    assert events[1]["face_count"] == 3  # group.jpg with --all-faces
    assert all(e["schema_version"] == 1 for e in events)


def test_recognize_exits_non_zero_with_the_engines_message(emulator: Any) -> None:
    done = cli(
        "recognize",
        str(SAMPLES / "jane.jpg"),
        "--url",
        emulator.url,
        "--username",
        "no-publish",
        env={"ECONNECT_PASSWORD": "no-publish-password"},
    )
    assert done.returncode == 1
    assert "Face Publishing" in done.stdout


def test_recognize_without_password_and_terminal_says_what_to_do(emulator: Any) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ECONNECT_PASSWORD"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "econnect_bridge",
            "recognize",
            "x.jpg",
            "--url",
            emulator.url,
            "--username",
            "u",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 2
    assert "ECONNECT_PASSWORD" in done.stderr


def test_check_config_good_and_bad(tmp_path: Path) -> None:
    good = write_config(tmp_path / "good.yaml", base_config("http://127.0.0.1:9", 1883))
    ok = cli("check-config", "-c", str(good))
    assert ok.returncode == 0, ok.stderr
    assert "bridge-password" not in ok.stdout
    assert "***" in ok.stdout
    bad = write_config(tmp_path / "bad.yaml", "api:\n  url: ftp://x\n  usernme: a\n")
    refused = cli("check-config", "-c", str(bad))
    assert refused.returncode != 0
    assert "api.url" in refused.stderr
    assert "usernme" in refused.stderr
    assert str(bad) in refused.stderr


def test_run_with_a_broken_config_exits_2_without_traceback(tmp_path: Path) -> None:
    bad = write_config(tmp_path / "bad.yaml", "mqtt: [1, 2]\n")
    done = cli("run", "-c", str(bad))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "mqtt" in done.stderr


def test_emulator_command_takes_its_own_options(free_port: Any) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "econnect_bridge",
            "emulator",
            "--port",
            str(port),
            "--latency-ms",
            "5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        import requests

        deadline = time.monotonic() + 15
        while True:
            try:
                reply = requests.post(
                    f"http://127.0.0.1:{port}/api/v1/authenticate",
                    json={"username": "bridge", "password": "bridge-password"},
                    timeout=2,
                )
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the emulator did not start"
                time.sleep(0.1)
        assert reply.status_code == 200
        assert reply.json()["token"]
    finally:
        process.terminate()
        process.wait(10)


def test_demo_without_its_broker_says_the_install_command_in_one_line() -> None:
    # A plain `pip install .` has no amqtt: hide it as such an install would.
    hidden = (
        "import sys, runpy; sys.modules['amqtt'] = None; sys.argv = ['econnect-bridge', 'demo']"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            f"{hidden}; runpy.run_module('econnect_bridge', run_name='__main__')",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "pip install 'econnect-bridge[demo]'" in line


def test_emulator_and_annotation_need_no_extra() -> None:
    # Pillow is a dependency of the bridge itself: the emulator and annotated snapshots work
    # after a plain install (the packaging test checks pyproject.toml says so).
    from econnect_bridge.emulator.imagegen import make_snapshot
    from econnect_identities.annotate import annotate, pillow_available

    assert pillow_available()
    assert annotate(make_snapshot(), [])[:2] == b"\xff\xd8"  # a JPEG came back


def test_check_config_warns_when_pictures_cannot_be_served(tmp_path: Path) -> None:
    extra = "publish:\n  annotated_snapshot: true\n  face_pictures: true\n"
    text = base_config("http://127.0.0.1:9", 1883, extra)
    path = write_config(tmp_path / "config.yaml", text)
    hidden = "import sys, runpy; sys.modules['PIL'] = None"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            f"{hidden}; sys.argv = ['x', 'check-config', '-c', {str(path)!r}]; "
            "runpy.run_module('econnect_bridge', run_name='__main__')",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    said = done.stdout + done.stderr
    assert "publish.annotated_snapshot is on but Pillow is not installed" in said
    assert "publish.face_pictures is on but Pillow is not installed" in said
