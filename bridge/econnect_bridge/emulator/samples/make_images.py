"""Make the sample images of the emulator's gallery (deterministic; the outputs are committed).

Run ``python -m econnect_bridge.emulator.samples.make_images`` to rewrite them next to this
file, or ``python -m econnect_bridge.emulator.samples.make_images --size-kb 1000 --people jane
bob --out /tmp`` to write one extra JPEG of about that size (what the benchmarks use).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from econnect_bridge.emulator.imagegen import (
    SAMPLE_COLOURS,
    FaceSpec,
    make_snapshot,
    make_snapshot_of_size,
)

HERE = Path(__file__).resolve().parent


def _face(name: str, cx: int, cy: int, size: int) -> FaceSpec:
    return FaceSpec(SAMPLE_COLOURS[name], cx, cy, size)


def _jpeg(faces: list[FaceSpec], seed: int) -> bytes:
    """640x480, quality 80, light noise: about 33 KB."""
    return make_snapshot(faces, seed=seed, fmt="JPEG", quality=80, noise=10.0)


def _ref(name: str, seed: int) -> bytes:
    """A clean 160x160 PNG reference portrait."""
    return make_snapshot([_face(name, 80, 80, 110)], 160, 160, seed, fmt="PNG", noise=0.0)


def sample_images() -> dict[str, bytes]:
    """Every sample file name and its bytes (see docs/emulator.md for what each contains)."""
    group = [
        _face("jane", 170, 250, 220),
        _face("bob", 420, 230, 130),
        _face("unknown", 570, 110, 64),
    ]
    return {
        "jane.jpg": _jpeg([_face("jane", 320, 240, 220)], seed=1),
        "bob.png": make_snapshot([_face("bob", 300, 220, 200)], seed=2, fmt="PNG", noise=0.0),
        "carol.jpg": _jpeg([_face("carol", 340, 250, 210)], seed=3),
        "unknown.jpg": _jpeg([_face("unknown", 300, 230, 200)], seed=4),
        "no_face.jpg": _jpeg([], seed=5),
        "group.jpg": _jpeg(group, seed=6),
        "ref_jane.png": _ref("jane", seed=7),
        "ref_bob.png": _ref("bob", seed=8),
        "ref_carol.png": _ref("carol", seed=9),
    }


def main(argv: list[str] | None = None) -> int:
    """Write the sample images, or one snapshot of a requested size."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=HERE, help="output folder")
    parser.add_argument("--size-kb", type=float, help="write one JPEG of about this size")
    parser.add_argument(
        "--people", nargs="*", default=["jane"], help=f"of {sorted(SAMPLE_COLOURS)}"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.size_kb:
        data = make_snapshot_of_size(args.size_kb, args.people, seed=args.seed)
        target = args.out / f"snapshot_{int(args.size_kb)}kb.jpg"
        target.write_bytes(data)
        print(f"{target} {len(data)} bytes")
        return 0
    for name, data in sample_images().items():
        (args.out / name).write_bytes(data)
        print(f"{args.out / name} {len(data)} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
