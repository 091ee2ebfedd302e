"""An emulator of the eConnect Identities engine, for tests, the demo and the benchmarks.

It is a real HTTP(S) server on loopback that follows the vendor's contract
(its "Publish With Response" and "Publish (Fire-and-Forget)" pages) and recognises "faces" in
real JPEG/PNG/WebP bytes by a documented colour convention (see
:mod:`econnect_bridge.emulator.faces` and docs/emulator.md). Needs Pillow, a dependency of the
bridge.
"""

from econnect_bridge.emulator.faults import Faults, FaultSettings
from econnect_bridge.emulator.gallery import (
    Gallery,
    GalleryError,
    load_gallery,
    sample_gallery_path,
)
from econnect_bridge.emulator.imagegen import (
    SAMPLE_COLOURS,
    FaceSpec,
    make_snapshot,
    make_snapshot_of_size,
)
from econnect_bridge.emulator.server import Emulator

__all__ = [
    "SAMPLE_COLOURS",
    "Emulator",
    "FaceSpec",
    "FaultSettings",
    "Faults",
    "Gallery",
    "GalleryError",
    "load_gallery",
    "make_snapshot",
    "make_snapshot_of_size",
    "sample_gallery_path",
]
