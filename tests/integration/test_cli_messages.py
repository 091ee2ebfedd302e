"""The command line's messages as a user meets them: real processes and real pipes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.helpers import base_config, write_config

pytestmark = pytest.mark.integration

COMMAND = [sys.executable, "-m", "econnect_bridge"]
#: Enough cameras that the summary is far larger than a pipe's buffer (64 KiB on Linux), so
#: the bridge is still writing when `head -1` has gone.
CAMERAS = "cameras:\n" + "".join(
    f"  - name: cam{index}\n    topic: cameras/cam{index}/snapshot\n" for index in range(600)
)


def _large_config(directory: Path) -> Path:
    return write_config(directory / "config.yaml", base_config("http://127.0.0.1:9", 1883, CAMERAS))


def test_check_config_piped_into_head_exits_quietly(tmp_path: Path) -> None:
    path = _large_config(tmp_path)
    bridge = subprocess.Popen(
        [*COMMAND, "check-config", "-c", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    assert bridge.stdout is not None
    assert bridge.stderr is not None
    head = subprocess.Popen(["head", "-1"], stdin=bridge.stdout, stdout=subprocess.PIPE)
    bridge.stdout.close()  # only `head` reads it now, as in a shell pipeline
    first, _ = head.communicate(timeout=60)
    stderr = bridge.stderr.read().decode()
    bridge.stderr.close()
    code = bridge.wait(timeout=60)
    assert first.decode().startswith("Configuration OK")
    assert "Traceback" not in stderr
    assert "BrokenPipeError" not in stderr
    assert stderr == ""
    assert code == 141  # what a shell reports for a Unix tool stopped by SIGPIPE


def test_output_to_an_already_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    path = write_config(tmp_path / "config.yaml", base_config("http://127.0.0.1:9", 1883))
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will ever read: the first write fails
    try:
        done = subprocess.run(
            [*COMMAND, "check-config", "-c", str(path)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.stderr == ""
    assert done.returncode == 141


def test_help_to_a_closed_pipe_exits_quietly() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [*COMMAND, "--help"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.stderr == ""
    assert done.returncode in (0, 141)  # argparse itself ignores a failed write of the help


def test_check_config_refuses_a_topic_that_receives_the_bridges_own_output(
    tmp_path: Path,
) -> None:
    extra = "cameras:\n  - name: everything\n    topic: '#'\n"
    path = write_config(tmp_path / "config.yaml", base_config("http://127.0.0.1:9", 1883, extra))
    for command in ("check-config", "run"):
        done = subprocess.run(
            [*COMMAND, command, "-c", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        assert done.returncode != 0, command
        assert f"{path}:" in done.stderr
        assert "cameras[0].topic" in done.stderr
        assert "the bridge's own events, states and snapshots under econnect/#" in done.stderr
        assert "Traceback" not in done.stderr
