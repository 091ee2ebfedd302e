"""A doctor check's verdict, shared by the checks of each part (broker, engine, Frigate)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Status = Literal["ok", "info", "warn", "fail", "skip"]
MARKS: Final[dict[Status, str]] = {
    "ok": "OK  ",
    "info": "INFO",
    "warn": "WARN",
    "fail": "FAIL",
    "skip": "SKIP",
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's verdict, with the fix when something is wrong."""

    area: str
    check: str
    status: Status
    detail: str
    fix: str | None = None
