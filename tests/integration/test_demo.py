"""The README's first command: the demo runs on embedded defaults and recognises every snapshot."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def test_the_demo_recognises_every_snapshot() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "econnect_bridge", "demo"],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Done: 7 of 7 snapshots recognised." in done.stdout
    assert "econnect/persons/jane_doe: Jane Doe seen on front_door" in done.stdout
