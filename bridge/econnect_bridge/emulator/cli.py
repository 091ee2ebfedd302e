"""``econnect-bridge emulator``: run the emulated engine in the foreground until stopped.

Prints the base URLs and, for the sample gallery only, the sample credentials (they are public
test values; a custom gallery's passwords are never printed).
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from econnect_bridge.emulator.gallery import GalleryError, load_gallery, sample_gallery_path
from econnect_bridge.emulator.server import Emulator

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The emulator's options (also used by the bridge's ``emulator`` sub-command)."""
    parser = argparse.ArgumentParser(
        prog="econnect-bridge emulator",
        description="Run an emulator of the eConnect Identities engine on this machine.",
    )
    parser.add_argument("--gallery", type=Path, default=None, help="gallery YAML (default: sample)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8009, help="port (default 8009; 0 = any)")
    parser.add_argument("--certfile", type=Path, help="PEM certificate: serve HTTPS")
    parser.add_argument("--keyfile", type=Path, help="PEM private key for --certfile")
    parser.add_argument("--token-lifetime", type=float, help="JWT lifetime in seconds")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added publish latency")
    parser.add_argument("--capacity", type=int, default=0, help="max concurrent publish calls")
    parser.add_argument("--error-rate", type=float, default=0.0, help="probability of HTTP 500")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until Ctrl-C or SIGTERM; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    gallery_path = args.gallery or sample_gallery_path()
    try:
        gallery = load_gallery(gallery_path)
        emu = Emulator(
            gallery=gallery,
            host=args.host,
            port=args.port,
            certfile=args.certfile,
            keyfile=args.keyfile,
            token_lifetime=args.token_lifetime,
        )
        emu.faults.update(
            latency_ms=args.latency_ms, capacity=args.capacity, error_rate=args.error_rate
        )
        emu.start()
    except (GalleryError, ValueError, OSError) as err:
        print(f"error: {err}")
        return 2
    _announce(emu, show_passwords=args.gallery is None)
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
    return 0


def _announce(emu: Emulator, *, show_passwords: bool) -> None:
    print(f"eConnect Identities emulator on {emu.url}", flush=False)
    print(f"  cloud-style base URL: {emu.cloud_url}")
    for user in emu.gallery.users:
        secret = f" / {user.password}" if show_passwords else ""
        print(f"  user {user.username}{secret}: {', '.join(sorted(user.permissions))}")
    print("Press Ctrl-C to stop.", flush=True)
