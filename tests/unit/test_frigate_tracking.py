"""One answer per Frigate tracked object: when to fetch, what to publish, what to write back."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

import pytest

from econnect_identities.frigate import (
    FaceUpdate,
    FrigateMessageError,
    FrigateObject,
    event_link,
    parse_event,
    parse_face_update,
    parse_sub_label,
)
from econnect_identities.tracking import (
    AttemptSummary,
    Fetch,
    FollowPolicy,
    ObjectFollower,
    Publish,
    WriteSubLabel,
)

JANE = AttemptSummary(person_id="p-jane", name="Jane Doe", score=0.86, faces=1)
JANE_SURE = dataclasses.replace(JANE, score=0.97)
BOB = AttemptSummary(person_id="p-bob", name="Bob Stone", score=0.93, faces=1)
UNKNOWN = AttemptSummary(faces=1)
NO_FACE = AttemptSummary()


def obj(kind: str = "new", *, frame: float | None = 100.0, **changes: object) -> FrigateObject:
    base = FrigateObject(
        kind=kind,
        event_id="1718985612.123456-abc123",
        camera="front_door",
        label="person",
        score=0.8,
        has_snapshot=True,
        snapshot_time=frame,
        end_time=200.0 if kind == "end" else None,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def follower(**policy: object) -> ObjectFollower[str]:
    return ObjectFollower(FollowPolicy(**policy))  # type: ignore[arg-type]


def fetches(actions: Sequence[object]) -> int:
    return sum(isinstance(a, Fetch) for a in actions)


def published(actions: Sequence[object]) -> list[Publish[str]]:
    return [a for a in actions if isinstance(a, Publish)]


def writes(actions: Sequence[object]) -> list[WriteSubLabel]:
    return [a for a in actions if isinstance(a, WriteSubLabel)]


# -- the judged scenario: too small first, good later ---------------------------------------


def test_a_face_found_in_a_later_snapshot_is_the_outcome() -> None:
    f = follower(write_sub_label=True)
    assert fetches(f.on_event(obj("new", frame=100.0), 0.0)) == 1
    assert f.attempt_done(obj().event_id, NO_FACE, "far away", 0.2) == []  # nothing yet
    assert fetches(f.on_event(obj("update", frame=101.0), 1.0)) == 1
    actions = f.attempt_done(obj().event_id, JANE, "close up", 1.2)
    [publish] = published(actions)
    assert (publish.summary.name, publish.payload, publish.correction) == (
        "Jane Doe",
        "close up",
        False,
    )


def test_new_three_updates_and_end_give_one_event_and_one_write_with_the_best_score() -> None:
    f = follower(write_sub_label=True, max_attempts=10, poll_interval=0)
    out: list[object] = []
    out += f.on_event(obj("new", frame=1.0), 0.0)
    out += f.attempt_done(obj().event_id, NO_FACE, "1", 0.1)
    for step, (frame, summary) in enumerate(
        [(2.0, JANE), (3.0, UNKNOWN), (4.0, dataclasses.replace(JANE, score=0.89))]
    ):
        out += f.on_event(obj("update", frame=frame), 1.0 + step)
        out += f.attempt_done(obj().event_id, summary, str(frame), 1.1 + step)
    out += f.on_event(obj("end", frame=4.0), 9.0)
    assert fetches(out) == 4
    assert [p.summary.name for p in published(out)] == ["Jane Doe"]
    [write] = writes(out)
    assert (write.name, write.score) == ("Jane Doe", 0.89)
    assert f.on_event(obj("update", frame=5.0), 10.0) == []  # nothing after the outcome
    assert len(f) == 0


# -- fetching ------------------------------------------------------------------------------


def test_never_two_fetches_in_flight_and_a_better_snapshot_waits_its_turn() -> None:
    f = follower()
    assert fetches(f.on_event(obj("new", frame=1.0), 0.0)) == 1
    assert f.on_event(obj("update", frame=2.0), 0.5) == []  # in flight: remembered
    assert fetches(f.attempt_done(obj().event_id, NO_FACE, "1", 0.6)) == 1  # then fetched


def test_an_update_without_a_better_snapshot_fetches_nothing() -> None:
    f = follower(poll_interval=0)
    f.on_event(obj("new", frame=1.0), 0.0)
    f.attempt_done(obj().event_id, NO_FACE, "1", 0.1)
    assert f.on_event(obj("update", frame=1.0, entered_zones=("porch",)), 1.0) == []


def test_polls_while_the_object_is_tracked_and_stops_at_max_attempts() -> None:
    f = follower(poll_interval=2.0, max_attempts=3, max_seconds=60)
    f.on_event(obj("new"), 0.0)
    f.attempt_done(obj().event_id, NO_FACE, "1", 0.1)
    assert f.next_due() == 2.0
    assert f.due(1.9) == []
    assert fetches(f.due(2.0)) == 1
    f.attempt_done(obj().event_id, NO_FACE, "2", 2.1)
    assert fetches(f.due(4.0)) == 1
    actions = f.attempt_done(obj().event_id, UNKNOWN, "3", 4.1)  # the third and last
    [publish] = published(actions)
    assert publish.summary == UNKNOWN
    assert f.due(100.0) == []


def test_time_limit_decides_with_the_best_so_far() -> None:
    f = follower(poll_interval=0, max_seconds=10)
    f.on_event(obj("new"), 0.0)
    f.attempt_done(obj().event_id, UNKNOWN, "blurry", 0.1)
    assert f.next_due() == 10.0
    [publish] = published(f.due(10.0))
    assert (publish.summary, publish.payload) == (UNKNOWN, "blurry")


def test_a_confident_match_ends_the_attempts_early() -> None:
    f = follower(confident_score=0.95, write_sub_label=True)
    f.on_event(obj("new"), 0.0)
    actions = f.attempt_done(obj().event_id, JANE_SURE, "sure", 0.2)
    assert [p.summary for p in published(actions)] == [JANE_SURE]
    assert [w.score for w in writes(actions)] == [0.97]
    assert f.on_event(obj("update", frame=200.0), 1.0) == []


def test_an_object_that_ended_is_not_fetched_again() -> None:
    f = follower()
    f.on_event(obj("new"), 0.0)
    f.attempt_done(obj().event_id, NO_FACE, "1", 0.1)
    assert fetches(f.on_event(obj("end", frame=300.0), 1.0)) == 0


def test_an_object_that_ended_before_any_picture_gets_its_stored_snapshot_once() -> None:
    f = follower(cameras=frozenset({"front_door"}))
    actions = f.on_event(obj("end"), 0.0)
    assert fetches(actions) == 1
    [publish] = published(f.attempt_done(obj().event_id, JANE, "stored", 0.3))
    assert publish.payload == "stored"
    assert len(f) == 0


def test_a_picture_that_never_came_counts_as_an_attempt() -> None:
    f = follower(max_attempts=2, poll_interval=1.0)
    f.on_event(obj("new", has_snapshot=False, frame=None), 0.0)
    assert f.attempt_done(obj().event_id, None, None, 0.1) == []  # 404: no snapshot yet
    f.due(1.1)
    assert f.attempt_done(obj().event_id, None, None, 1.2) == []  # nothing to publish
    assert len(f) == 0


# -- what is published ---------------------------------------------------------------------


def test_unknown_is_published_only_when_the_attempts_are_over() -> None:
    f = follower(poll_interval=0, max_attempts=5)
    f.on_event(obj("new"), 0.0)
    assert published(f.attempt_done(obj().event_id, UNKNOWN, "1", 0.1)) == []
    [publish] = published(f.on_event(obj("end"), 5.0))
    assert publish.summary == UNKNOWN


def test_someone_better_later_is_one_correction_and_then_no_more() -> None:
    f = follower(poll_interval=0, max_attempts=10, confident_score=0.99)
    f.on_event(obj("new", frame=1.0), 0.0)
    first = published(f.attempt_done(obj().event_id, JANE, "jane", 0.1))
    f.on_event(obj("update", frame=2.0), 1.0)
    second = published(f.attempt_done(obj().event_id, BOB, "bob", 1.1))
    carol = AttemptSummary(person_id="p-carol", name="Carol", score=0.98, faces=1)
    f.on_event(obj("update", frame=3.0), 2.0)
    third = published(f.attempt_done(obj().event_id, carol, "carol", 2.1))
    assert [(p.summary.name, p.correction) for p in first + second] == [
        ("Jane Doe", False),
        ("Bob Stone", True),
    ]
    assert third == []


def test_the_same_person_with_a_higher_score_is_not_published_again() -> None:
    f = follower(poll_interval=0, max_attempts=10, confident_score=0.99)
    f.on_event(obj("new", frame=1.0), 0.0)
    f.attempt_done(obj().event_id, JANE, "a", 0.1)
    f.on_event(obj("update", frame=2.0), 1.0)
    assert published(f.attempt_done(obj().event_id, JANE_SURE, "b", 1.1)) == []


# -- which objects ------------------------------------------------------------------------


def test_required_zones_wait_until_the_object_enters_one() -> None:
    f = follower(required_zones={"front_door": frozenset({"porch"})})
    assert f.on_event(obj("new", entered_zones=("driveway",)), 0.0) == []
    assert fetches(f.on_event(obj("update", entered_zones=("driveway", "porch")), 1.0)) == 1


def test_other_labels_cameras_and_false_positives_are_ignored() -> None:
    f = follower(cameras=frozenset({"yard"}))
    assert f.on_event(obj(camera="front_door"), 0.0) == []
    f = follower()
    assert f.on_event(obj(label="car"), 0.0) == []
    assert f.on_event(obj(false_positive=True), 0.0) == []


# -- Frigate's own face recognition, and write-back -----------------------------------------


def test_a_name_frigate_set_is_not_overwritten_unless_told_to() -> None:
    f = follower(write_sub_label=True)
    f.on_event(obj("new"), 0.0)
    f.on_face_update(FaceUpdate(obj().event_id, "front_door", "Jane Doe", 0.91), 0.1)
    assert writes(f.attempt_done(obj().event_id, JANE_SURE, "x", 0.2)) == []
    f = follower(write_sub_label=True, overwrite_sub_label=True)
    f.on_event(obj("new"), 0.0)
    f.on_face_update(FaceUpdate(obj().event_id, "front_door", "Jane Doe", 0.91), 0.1)
    assert len(writes(f.attempt_done(obj().event_id, JANE_SURE, "x", 0.2))) == 1


def test_a_sub_label_on_the_event_counts_as_frigates_own_name() -> None:
    f = follower(write_sub_label=True, poll_interval=0)
    f.on_event(obj("new", frame=1.0), 0.0)
    f.on_event(obj("update", frame=1.0, sub_label="Jane Doe", sub_label_score=0.9), 0.5)
    assert writes(f.attempt_done(obj().event_id, JANE_SURE, "x", 1.0)) == []


def test_a_score_under_the_minimum_is_not_written() -> None:
    f = follower(write_sub_label=True, sub_label_min_score=0.9, confident_score=0.5)
    f.on_event(obj("new"), 0.0)
    actions = f.attempt_done(obj().event_id, JANE, "x", 0.1)
    assert published(actions)
    assert writes(actions) == []


def test_skip_named_leaves_the_object_to_frigate() -> None:
    f = follower(skip_named=True)
    f.on_event(obj("new"), 0.0)
    f.on_face_update(FaceUpdate(obj().event_id, "front_door", "Jane Doe", 0.91), 0.1)
    assert f.attempt_done(obj().event_id, JANE, "x", 0.2) == []
    assert f.skipped_named == 1
    f = follower(skip_named=True)
    assert f.on_event(obj("new", sub_label="Jane Doe", sub_label_score=0.9), 0.0) == []


def test_memory_is_bounded_by_max_objects() -> None:
    f = follower(max_objects=3)
    for index in range(10):
        f.on_event(obj("new", event_id=f"e{index}"), float(index))
    assert len(f) == 3


# -- reading Frigate's messages ------------------------------------------------------------


def _message(kind: str, **after: object) -> bytes:
    body = {
        "id": "1718985612.123456-abc123",
        "camera": "front_door",
        "label": "person",
        "sub_label": None,
        "top_score": 0.84,
        "score": 0.8,
        "current_zones": ["porch"],
        "entered_zones": ["porch", "porch"],
        "has_snapshot": True,
        "start_time": 1718985612.1,
        "end_time": None,
        "false_positive": False,
        "snapshot": {"frame_time": 1718985613.5, "box": [1, 2, 3, 4], "score": 0.84},
        "computed_score": 0.82,
        **after,
    }
    return json.dumps({"type": kind, "before": body, "after": body}).encode()


def test_parse_event_reads_what_frigates_code_sends() -> None:
    event = parse_event(_message("update", sub_label=["Jane Doe", 0.79]))
    assert event.event_id == "1718985612.123456-abc123"
    assert (event.camera, event.label, event.score) == ("front_door", "person", 0.84)
    assert event.entered_zones == ("porch",)
    assert event.snapshot_time == 1718985613.5
    assert (event.sub_label, event.sub_label_score) == ("Jane Doe", 0.79)
    assert not event.ended
    assert parse_event(_message("end", end_time=1718985620.0)).ended


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["Jane Doe", 0.79], ("Jane Doe", 0.79)),
        ([None, None], (None, None)),  # cleared on a live object: truthy, no name
        ("Jane Doe", ("Jane Doe", None)),  # the HTTP API's shape
        (None, (None, None)),
        ("", (None, None)),
    ],
)
def test_both_shapes_of_sub_label(value: object, expected: tuple[object, object]) -> None:
    assert parse_sub_label(value) == expected


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (json.dumps({"type": "moved", "after": {}}).encode(), "'type'"),
        (json.dumps({"type": "new"}).encode(), "'after'"),
        (json.dumps({"type": "new", "after": {"camera": "x", "label": "person"}}).encode(), "'id'"),
    ],
)
def test_a_bad_event_names_what_is_wrong(payload: bytes, named: str) -> None:
    with pytest.raises(FrigateMessageError, match=named):
        parse_event(payload)


def test_face_updates_and_the_other_types_on_their_topic() -> None:
    face = {
        "type": "face",
        "id": "e1",
        "name": "Jane Doe",
        "score": 0.91,
        "camera": "front_door",
        "timestamp": 1.0,
    }
    assert parse_face_update(json.dumps(face)) == FaceUpdate("e1", "front_door", "Jane Doe", 0.91)
    unknown = {**face, "name": "unknown"}
    assert parse_face_update(json.dumps(unknown)) == FaceUpdate("e1", "front_door", None, 0.91)
    assert parse_face_update(json.dumps({"type": "description", "id": "e1"})) is None


def test_event_link_opens_the_object_in_frigates_ui() -> None:
    assert (
        event_link("http://frigate:5000/", "1.2-ab")
        == "http://frigate:5000/explore?event_id=1.2-ab"
    )
    assert event_link(None, "1.2-ab") is None
