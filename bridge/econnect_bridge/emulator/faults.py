"""Faults on demand: what a slow, flaky or broken engine does to the bridge.

One :class:`Faults` object per emulator, changeable at run time from Python
(``emu.faults.update(latency_ms=40)``) or over HTTP (``POST /_emulator/faults``). The knobs act
on the two publish endpoints only, so a test can break recognition without breaking login.
Order inside a publish call: capacity gate → hang → latency/jitter → drop → burst → error rate
→ the real answer → body shaping (non_json, wrong_types, huge_body_bytes) → slow body.
"""

from __future__ import annotations

import dataclasses
import json
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

__all__ = ["DROP", "MAX_HANG_SECONDS", "FaultSettings", "Faults", "shape_success"]

MAX_HANG_SECONDS = 300.0
DROP = "drop"


@dataclass(frozen=True)
class FaultSettings:
    """The current knobs; all off by default."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    error_status: int = 500
    burst: int = 0
    drop_rate: float = 0.0
    slow_body_ms: float = 0.0
    hang: bool = False
    capacity: int = 0
    huge_body_bytes: int = 0
    non_json: bool = False
    wrong_types: bool = False


def _check(name: str, value: Any, default: Any) -> Any:
    """Validate one knob against the type of its default; returns the value to store."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"fault {name!r} must be true or false, found {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"fault {name!r} must be a number >= 0, found {value!r}")
    if name.endswith("_rate") and value > 1:
        raise ValueError(f"fault {name!r} is a probability between 0 and 1, found {value!r}")
    if name == "error_status" and not 400 <= value <= 599:
        raise ValueError(f"fault 'error_status' must be 400..599, found {value!r}")
    return int(value) if isinstance(default, int) else float(value)


class Faults:
    """Thread-safe fault settings plus the waiting they cause (capacity, hang)."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        lock = threading.Lock()
        self._cond = threading.Condition(lock)
        # Its own condition (same lock): a freed slot wakes one waiter, not every waiting
        # request; with thousands queued (a client with no limit of its own), waking them all
        # on every release made the emulator serve far below its capacity.
        self._slot_free = threading.Condition(lock)
        self._settings = FaultSettings()
        self._active = 0
        self._generation = 0

    @property
    def settings(self) -> FaultSettings:
        """The knobs as they are now."""
        with self._cond:
            return self._settings

    def update(self, **changes: Any) -> FaultSettings:
        """Change some knobs, leaving the others as they are.

        Raises:
            ValueError: for an unknown knob or a value of the wrong type or range.
        """
        defaults = {f.name: f.default for f in dataclasses.fields(FaultSettings)}
        unknown = sorted(set(changes) - set(defaults))
        if unknown:
            raise ValueError(f"unknown faults {unknown}; known: {sorted(defaults)}")
        checked = {k: _check(k, v, defaults[k]) for k, v in changes.items()}
        with self._cond:
            self._settings = dataclasses.replace(self._settings, **checked)
            self._wake_all()
            return self._settings

    def reset(self) -> None:
        """All knobs off; wakes anything waiting on a hang or the capacity gate."""
        with self._cond:
            self._settings = FaultSettings()
            self._wake_all()

    def interrupt(self) -> None:
        """Release every waiter now (the server is stopping)."""
        with self._cond:
            self._generation += 1
            self._wake_all()

    def _wake_all(self) -> None:
        """Wake every waiter, on a hang or at the gate (the knobs changed); lock held."""
        self._cond.notify_all()
        self._slot_free.notify_all()

    def snapshot(self) -> dict[str, Any]:
        """The knobs as a JSON-able dict."""
        return dataclasses.asdict(self.settings)

    @contextmanager
    def capacity_slot(self) -> Iterator[None]:
        """Hold one of ``capacity`` processing slots (0 = unlimited) while in the block."""
        with self._cond:
            gen = self._generation
            while 0 < self._settings.capacity <= self._active and gen == self._generation:
                self._slot_free.wait()
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._slot_free.notify()

    def wait_while_hanging(self) -> None:
        """Block while ``hang`` is set, at most ``MAX_HANG_SECONDS``."""
        deadline = time.monotonic() + MAX_HANG_SECONDS
        with self._cond:
            gen = self._generation
            while self._settings.hang and gen == self._generation:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._cond.wait(left)

    def delay(self) -> None:
        """Sleep the fixed latency plus a uniform jitter."""
        s = self.settings
        extra = self._rng.uniform(0, s.jitter_ms) if s.jitter_ms else 0.0
        if s.latency_ms or extra:
            time.sleep((s.latency_ms + extra) / 1000)

    def decide(self) -> str | int | None:
        """``DROP``, an HTTP status to answer instead, or None to answer normally."""
        with self._cond:
            s = self._settings
            if s.drop_rate and self._rng.random() < s.drop_rate:
                return DROP
            if s.burst > 0:
                self._settings = dataclasses.replace(s, burst=s.burst - 1)
                return 503
            if s.error_rate and self._rng.random() < s.error_rate:
                return s.error_status
            return None


def shape_success(body: bytes, endpoint: str, s: FaultSettings) -> tuple[bytes, str]:
    """Apply the body faults to a 200 answer; returns the body and its content type."""
    if s.non_json:
        return b"<html>oops</html>", "text/html; charset=utf-8"
    data: dict[str, Any] = json.loads(body) if body else {"detectedFaces": []}
    if s.wrong_types and endpoint == "publishWithResponse":
        data = _wrong_types(data)
    if s.huge_body_bytes:
        plain = len(json.dumps(data).encode())
        data["padding"] = "x" * max(0, s.huge_body_bytes - plain - len(', "padding": ""'))
    elif not body and not s.wrong_types:
        return body, "application/json; charset=utf-8"
    return json.dumps(data).encode(), "application/json; charset=utf-8"


def _wrong_types(data: dict[str, Any]) -> dict[str, Any]:
    faces = data.get("detectedFaces") or []
    if not faces:
        return {"detectedFaces": "none"}
    broken = []
    for face in faces:
        box = face.get("boundingBox", {})
        broken.append(
            {
                **face,
                "faceId": 12345,
                "confidence": "high",
                "faceQuality": "good",
                "boundingBox": {k: str(v) for k, v in box.items()},
            }
        )
    return {"detectedFaces": broken}
