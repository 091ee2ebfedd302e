"""The bridge fixes glibc's mmap threshold, so large payload buffers go back to the system."""

from __future__ import annotations

import platform

from econnect_bridge.memory import return_large_buffers_to_the_system


def test_the_threshold_is_fixed_on_glibc() -> None:
    libc, _version = platform.libc_ver()
    assert return_large_buffers_to_the_system() is (libc == "glibc")
