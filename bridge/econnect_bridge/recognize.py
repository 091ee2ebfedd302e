"""`econnect-bridge recognize`: the vendor's curl example, made friendly.

Sends each image to `publishWithResponse` and prints each face as a readable line, or JSON for
scripts. Exits non-zero with the engine's message when it refuses.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from econnect_bridge.client import EconnectClient
from econnect_bridge.sources import sniff_image_type
from econnect_identities.errors import EconnectError
from econnect_identities.events import DEFAULT_PERSON_FIELDS, Sighting, recognition_event
from econnect_identities.models import DetectedFace, PublishOptions, RecognitionResult

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


@dataclass(frozen=True, slots=True)
class RecognizeJob:
    """What to recognise and how."""

    paths: tuple[Path, ...]
    detector_name: str
    time_zone: str
    options: PublishOptions
    as_json: bool = False


def expand_paths(paths: list[str]) -> list[Path]:
    """Turn files and folders into the list of image files to send (folders sorted)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(p for p in sorted(path.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            found.append(path)
    return found


def describe_face(face: DetectedFace) -> str:
    """Return one readable line for a face."""
    box = face.box
    who = face.person.display_name if face.person else "unknown"
    tags = (
        f"  tags: {', '.join(face.person.tag_names)}"
        if face.person and face.person.tag_names
        else ""
    )
    return (
        f"  {who:<24} confidence {face.confidence:.3f}  quality {face.quality:.3f}  "
        f"box {box.width}x{box.height}+{box.x}+{box.y}{tags}"
    )


def run_recognize(client: EconnectClient, job: RecognizeJob, out: TextIO = sys.stdout) -> int:
    """Recognise every image; return the exit code (1 if any image failed)."""
    tally: Counter[str] = Counter()
    show_progress = not job.as_json and len(job.paths) > 1 and sys.stderr.isatty()
    for index, path in enumerate(job.paths, 1):
        if show_progress:
            _progress(index, len(job.paths))
        outcome, text = _recognize_one(client, job, path)
        tally[outcome] += 1
        print(text, file=out)
    if show_progress:
        print(file=sys.stderr)
    if not job.as_json and len(job.paths) > 1:
        print(_summary(tally), file=out)
    return 1 if tally["error"] else 0


def _recognize_one(client: EconnectClient, job: RecognizeJob, path: Path) -> tuple[str, str]:
    try:
        image = path.read_bytes()
    except OSError as err:
        return "error", _error_text(job, path, "unreadable", f"cannot read {path}: {err.strerror}")
    if sniff_image_type(image) is None:
        return "error", _error_text(job, path, "not_an_image", f"{path} is not JPEG, PNG or WebP")
    started = datetime.now(UTC)
    try:
        result = client.publish_with_response(
            image, detector_name=job.detector_name, time_zone=job.time_zone, options=job.options
        )
    except EconnectError as err:
        return "error", _error_text(job, path, err.code, str(err))
    latency = (datetime.now(UTC) - started).total_seconds() * 1000
    return result.outcome, _result_text(job, path, result, started, latency)


def _result_text(
    job: RecognizeJob, path: Path, result: RecognitionResult, when: datetime, latency: float
) -> str:
    if job.as_json:
        sighting = Sighting(job.detector_name, job.detector_name, when, str(path), latency)
        event: dict[str, Any] = recognition_event(result, sighting, DEFAULT_PERSON_FIELDS)
        return json.dumps(event)
    lines = [f"{path}: {len(result.faces)} face(s), {result.outcome} ({latency:.0f} ms)"]
    lines.extend(describe_face(face) for face in result.faces)
    return "\n".join(lines)


def _error_text(job: RecognizeJob, path: Path, code: str, message: str) -> str:
    if job.as_json:
        return json.dumps({"file": str(path), "error": code, "message": message})
    return f"{path}: error: {message}"


def _progress(index: int, total: int) -> None:
    width = 30
    filled = width * index // total
    bar = "#" * filled + "-" * (width - filled)
    print(f"\r[{bar}] {index}/{total}", end="", file=sys.stderr, flush=True)


def _summary(tally: Counter[str]) -> str:
    rows = [("known", tally["known"]), ("unknown", tally["unknown"])]
    rows += [("no face", tally["no_face"]), ("errors", tally["error"])]
    return "\nSummary\n" + "\n".join(f"  {name:<8} {count:>5}" for name, count in rows)
