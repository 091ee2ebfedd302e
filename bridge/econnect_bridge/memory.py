"""Give the memory of a large payload back to the system once the bridge let go of it.

paho reads a message whole before the bridge sees it (MQTT 3.1.1 has no way to refuse a large
one earlier), so a 50 MB payload costs 50 MB and more while it is read. glibc's malloc serves
large blocks with mmap, which is returned at free, but it raises that threshold each time such
a block is freed (up to 32 MB), after which the next large buffers come from the heap and stay
with the process: the bridge measured 39 MB before two 50 MB payloads and 63 MB after. Fixing
the threshold at 1 MiB keeps every large buffer mmapped. Elsewhere than glibc, nothing changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

_LOGGER = logging.getLogger(__name__)
#: glibc's mallopt parameter number for the mmap threshold (malloc.h: M_MMAP_THRESHOLD).
_M_MMAP_THRESHOLD = -3
#: Blocks from this size up are mmapped, and returned to the system when freed.
MMAP_THRESHOLD = 1024 * 1024


def return_large_buffers_to_the_system() -> bool:
    """Fix glibc's mmap threshold; return whether it could (False off glibc)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    _LOGGER.debug("malloc mmap threshold fixed at %d bytes: %s", MMAP_THRESHOLD, done)
    return done
