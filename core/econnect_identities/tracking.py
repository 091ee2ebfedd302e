"""Follow a Frigate tracked object and pick its best answer: one outcome per object.

Frigate tracks a person across many frames and says so on `frigate/events` (`new`, `update`s
when it finds a better snapshot or a zone changes, `end`). A face companion that answered every
message would recognise the same person again and again, from pictures of mixed worth; one that
answered only the first would miss the face that turns up later. `ObjectFollower` decides,
without any I/O, when a picture is worth fetching and what to publish:

* **Fetch** on `new`, on an `update` that brings a better snapshot, and every `poll_interval`
  while the object is tracked; at most `max_attempts` pictures within `max_seconds` of the
  object's first message; never one in flight twice for the same object; nothing after `end`
  (but one picture for an object that ended before any was fetched).
* **Publish** the first known face at once; an unknown face or no face only when the attempts
  are over (a later picture may show who it is). After a publication, a later attempt that
  finds *someone else* with a better score is published once, as a correction.
* **Stop early** on a known face at or above `confident_score`.
* **Write back** (optional) once, when the attempts are over: the best name and score, if the
  score reaches `sub_label_min_score` and Frigate's own face recognition has not named the
  object (unless `overwrite_sub_label`).

The caller fetches, asks the engine, and reports each attempt with its `AttemptSummary` and an
opaque payload (the bridge keeps its snapshot and result there); `ObjectFollower` hands the
payload back in `Publish`. The bridge and the Home Assistant integration share this class.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from econnect_identities.frigate import FaceUpdate, FrigateObject
from econnect_identities.models import RecognitionResult
from econnect_identities.rules import Judgement, as_judgement

__all__ = [
    "AttemptSummary",
    "Fetch",
    "FollowPolicy",
    "ObjectFollower",
    "Publish",
    "WriteSubLabel",
    "summarise",
]

T = TypeVar("T")

#: Objects remembered after their outcome, so a late message cannot start them again.
FINISHED_REMEMBERED = 1024


@dataclass(frozen=True, slots=True)
class FollowPolicy:
    """How hard to try per tracked object, and which objects count at all."""

    labels: frozenset[str] = frozenset({"person"})
    cameras: frozenset[str] = frozenset()  # empty: every camera
    required_zones: Mapping[str, frozenset[str]] = field(default_factory=dict)
    max_attempts: int = 5
    max_seconds: float = 30.0
    poll_interval: float = 3.0
    confident_score: float = 0.9
    write_sub_label: bool = False
    sub_label_min_score: float = 0.8
    overwrite_sub_label: bool = False
    skip_named: bool = False
    max_objects: int = 256

    def wants(self, obj: FrigateObject) -> bool:
        """Whether an object is followed: camera, label, not a false positive, its zones."""
        if obj.false_positive or obj.label not in self.labels:
            return False
        if self.cameras and obj.camera not in self.cameras:
            return False
        zones = self.required_zones.get(obj.camera)
        return not zones or bool(zones.intersection(obj.entered_zones))


@dataclass(frozen=True, slots=True)
class AttemptSummary:
    """What one picture gave, reduced to what ranks it (after the caller's thresholds)."""

    person_id: str | None = None
    name: str | None = None
    score: float = 0.0
    faces: int = 0

    @property
    def known(self) -> bool:
        """Whether a known person was recognised."""
        return self.person_id is not None

    def rank(self) -> tuple[int, float, int]:
        """Order attempts: a known face, then any face, then none; then score; then faces."""
        kind = 2 if self.known else (1 if self.faces else 0)
        return kind, self.score, self.faces


def summarise(answer: RecognitionResult | Judgement) -> AttemptSummary:
    """Reduce a judged answer to its best known face and its face count.

    The judgement of `econnect_identities.rules` ranks here as everywhere: an uncertain face
    counts as a face but never as a known one, and excluded faces are already gone (a picture
    of nobody else should reach the follower as no answer at all). A bare result counts
    every match as known.
    """
    judged = as_judgement(answer)
    faces = len(judged.verdicts)
    known = [face for face in judged.result.known_faces if face.person is not None]
    if not known:
        return AttemptSummary(faces=faces)
    best = max(known, key=lambda face: face.confidence)
    assert best.person is not None
    return AttemptSummary(
        person_id=best.person.person_id,
        name=best.person.display_name,
        score=best.confidence,
        faces=faces,
    )


@dataclass(frozen=True, slots=True)
class Fetch:
    """Fetch a picture of this object now and report it with `attempt_done`."""

    obj: FrigateObject


@dataclass(frozen=True, slots=True)
class Publish(Generic[T]):
    """Publish this attempt as the object's outcome (`correction`: it replaces an earlier one)."""

    obj: FrigateObject
    summary: AttemptSummary
    payload: T
    correction: bool = False


@dataclass(frozen=True, slots=True)
class WriteSubLabel:
    """Write the recognised name and score back to the Frigate event."""

    obj: FrigateObject
    name: str
    score: float


Action = Fetch | Publish[T] | WriteSubLabel


@dataclass(slots=True)
class _Tracked(Generic[T]):
    obj: FrigateObject
    first_seen: float
    attempts: int = 0
    in_flight: bool = False
    refetch: bool = False  # a better snapshot came while a fetch was in flight
    last_fetch: float = float("-inf")
    fetched_snapshot: float | None = None
    best: tuple[AttemptSummary, T] | None = None
    published: AttemptSummary | None = None
    corrected: bool = False
    frigate_named: bool = False


class ObjectFollower(Generic[T]):
    """The tracked objects of one Frigate, and what to do about each (not thread-safe)."""

    def __init__(self, policy: FollowPolicy) -> None:
        self.policy = policy
        self._objects: OrderedDict[str, _Tracked[T]] = OrderedDict()
        self._finished: OrderedDict[str, None] = OrderedDict()
        self.skipped_named = 0  # objects left to Frigate's own face recognition

    def __len__(self) -> int:
        return len(self._objects)

    def on_event(self, obj: FrigateObject, now: float) -> list[Action[T]]:
        """Take one `frigate/events` message; return what to do now."""
        if obj.event_id in self._finished:
            return []
        tracked = self._objects.get(obj.event_id)
        if tracked is None:
            if not self.policy.wants(obj):
                return []
            tracked = self._track(obj, now)
        else:
            tracked.obj = obj
        if obj.sub_label:  # ours is written only once the object is decided and forgotten
            tracked.frigate_named = True
        if self.policy.skip_named and tracked.frigate_named and tracked.published is None:
            return self._skip(tracked)
        if obj.ended:
            return self._on_end(tracked, now)
        if _better_snapshot(tracked, obj):
            return self._fetch_or_later(tracked, now)
        return []

    def on_face_update(self, update: FaceUpdate, now: float) -> list[Action[T]]:
        """Take Frigate's own face result: the object is named by Frigate when it has a name."""
        tracked = self._objects.get(update.event_id)
        if tracked is None or update.name is None:
            return []
        tracked.frigate_named = True
        if self.policy.skip_named and tracked.published is None:
            return self._skip(tracked)
        return []

    def attempt_done(
        self, event_id: str, summary: AttemptSummary | None, payload: T | None, now: float
    ) -> list[Action[T]]:
        """Report a fetch's outcome (`summary` None: no picture or no answer came)."""
        tracked = self._objects.get(event_id)
        if tracked is None:
            return []
        tracked.in_flight = False
        if summary is not None and payload is not None and _improves(summary, tracked.best):
            tracked.best = (summary, payload)
        actions = self._publish_if_decided(tracked)
        if self._attempts_over(tracked, now):
            return actions + self._finish(tracked)
        if tracked.refetch:
            actions += self._fetch(tracked, now)
        return actions

    def due(self, now: float) -> list[Action[T]]:
        """Return the polls and time limits that fall due by `now` (call after `next_due`)."""
        actions: list[Action[T]] = []
        for tracked in list(self._objects.values()):
            if tracked.in_flight:
                continue
            if now >= tracked.first_seen + self.policy.max_seconds:
                actions += self._finish(tracked)
            elif self._poll_due(tracked, now):
                actions += self._fetch(tracked, now)
        return actions

    def next_due(self) -> float | None:
        """Return the earliest time `due` has something to do, or None."""
        times = [self._due_time(tracked) for tracked in self._objects.values()]
        known = [time for time in times if time is not None]
        return min(known) if known else None

    # -- decisions ----------------------------------------------------------------------------

    def _track(self, obj: FrigateObject, now: float) -> _Tracked[T]:
        while len(self._objects) >= self.policy.max_objects:
            _, oldest = self._objects.popitem(last=False)
            self._remember_finished(oldest.obj.event_id)
        tracked: _Tracked[T] = _Tracked(obj=obj, first_seen=now)
        self._objects[obj.event_id] = tracked
        return tracked

    def _on_end(self, tracked: _Tracked[T], now: float) -> list[Action[T]]:
        if tracked.in_flight:
            return []  # its answer decides, and nothing is fetched after it
        if tracked.attempts == 0 and tracked.obj.has_snapshot:
            return self._fetch(tracked, now)  # the stored snapshot, once
        return self._finish(tracked)

    def _fetch_or_later(self, tracked: _Tracked[T], now: float) -> list[Action[T]]:
        if tracked.in_flight:
            tracked.refetch = True
            return []
        return self._fetch(tracked, now)

    def _fetch(self, tracked: _Tracked[T], now: float) -> list[Action[T]]:
        if tracked.attempts >= self.policy.max_attempts:
            return []
        tracked.attempts += 1
        tracked.in_flight = True
        tracked.refetch = False
        tracked.last_fetch = now
        tracked.fetched_snapshot = tracked.obj.snapshot_time
        return [Fetch(tracked.obj)]

    def _attempts_over(self, tracked: _Tracked[T], now: float) -> bool:
        best = tracked.best
        return (
            tracked.obj.ended
            or tracked.attempts >= self.policy.max_attempts
            or now >= tracked.first_seen + self.policy.max_seconds
            or (best is not None and best[0].known and best[0].score >= self.policy.confident_score)
        )

    def _publish_if_decided(self, tracked: _Tracked[T]) -> list[Action[T]]:
        """The first known face at once; someone better later, once."""
        if tracked.best is None:
            return []
        summary, payload = tracked.best
        if not summary.known:
            return []
        published = tracked.published
        if published is None:
            tracked.published = summary
            return [Publish(tracked.obj, summary, payload)]
        if tracked.corrected or summary.person_id == published.person_id:
            return []
        tracked.published, tracked.corrected = summary, True
        return [Publish(tracked.obj, summary, payload, correction=True)]

    def _finish(self, tracked: _Tracked[T]) -> list[Action[T]]:
        """The attempts are over: publish what has not been, write back, forget the object."""
        actions: list[Action[T]] = []
        best = tracked.best
        if tracked.published is None and best is not None:
            tracked.published = best[0]
            actions.append(Publish(tracked.obj, best[0], best[1]))
        write = self._write_back(tracked)
        if write is not None:
            actions.append(write)
        del self._objects[tracked.obj.event_id]
        self._remember_finished(tracked.obj.event_id)
        return actions

    def _write_back(self, tracked: _Tracked[T]) -> WriteSubLabel | None:
        policy, best = self.policy, tracked.best
        if not policy.write_sub_label or best is None or not best[0].known:
            return None
        summary = best[0]
        if summary.score < policy.sub_label_min_score or summary.name is None:
            return None
        if tracked.frigate_named and not policy.overwrite_sub_label:
            return None
        return WriteSubLabel(tracked.obj, summary.name, summary.score)

    def _skip(self, tracked: _Tracked[T]) -> list[Action[T]]:
        self.skipped_named += 1
        del self._objects[tracked.obj.event_id]
        self._remember_finished(tracked.obj.event_id)
        return []

    def _poll_due(self, tracked: _Tracked[T], now: float) -> bool:
        interval = self.policy.poll_interval
        return interval > 0 and now >= tracked.last_fetch + interval

    def _due_time(self, tracked: _Tracked[T]) -> float | None:
        if tracked.in_flight:
            return None
        deadline = tracked.first_seen + self.policy.max_seconds
        interval = self.policy.poll_interval
        if interval > 0 and tracked.attempts < self.policy.max_attempts:
            return min(deadline, tracked.last_fetch + interval)
        return deadline

    def _remember_finished(self, event_id: str) -> None:
        self._finished[event_id] = None
        while len(self._finished) > FINISHED_REMEMBERED:
            self._finished.popitem(last=False)

    def finished(self, event_ids: Iterable[str]) -> None:
        """Mark objects as already decided (e.g. read back after a restart)."""
        for event_id in event_ids:
            self._remember_finished(event_id)


def _improves(summary: AttemptSummary, best: tuple[AttemptSummary, T] | None) -> bool:
    """Whether an attempt ranks above the best so far (the first always does)."""
    return best is None or summary.rank() > best[0].rank()


def _better_snapshot(tracked: _Tracked[T], obj: FrigateObject) -> bool:
    """Whether an event brings a picture not fetched yet (always true for the first)."""
    return tracked.attempts == 0 or (
        obj.snapshot_time is not None and obj.snapshot_time != tracked.fetched_snapshot
    )
