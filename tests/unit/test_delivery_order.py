"""What two workers publish reaches the broker in the order the state book changed.

Two results for one person on two cameras, a moment apart, both change the person's retained
state. If the first worker's messages could leave after the second's, the broker would keep
the older state ("last seen at the front door") while she is in the garden, until her next
sighting; the same for her face picture. The event of a result leaves before its states are
even built; events are not retained, so they may leave between another result's states.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import UTC, datetime
from pathlib import Path

from econnect_bridge.app import book_settings, fixed_cameras, topic_subjects
from econnect_bridge.delivery import CameraRules, Delivery
from econnect_bridge.emulator.imagegen import make_snapshot
from econnect_bridge.reporting import Reporter
from econnect_bridge.sources import Snapshot, Source, sources_from_config
from econnect_bridge.statebook import StateBook
from econnect_bridge.states import Topics
from econnect_identities.naming import CameraSlugs
from tests.support.scripted_day import DAY, bridge_config, engine_answer

JANE_AT_THE_DOOR = DAY[0]
JANE_IN_THE_GARDEN = dataclasses.replace(DAY[0], camera="garden")
MORNING = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
#: Real JPEGs, different per camera, so that each face picture says which snapshot it is from.
SNAPSHOTS = {
    camera: make_snapshot(seed=seed) for seed, camera in enumerate(("front_door", "garden"))
}


class SlowFirstWorker:
    """A publisher under which the first worker's first message on `slow_topic` takes a while.

    That is what a busy machine does to any thread at any moment; here it is made to happen
    exactly where a second worker could overtake the first.
    """

    def __init__(self, slow_topic: str) -> None:
        self.sent: list[tuple[str, bytes, str]] = []
        self._slow_topic = slow_topic
        self.first_is_publishing = threading.Event()
        self.second_done = threading.Event()

    def publish(
        self, topic: str, payload: bytes | str, *, retain: bool = False, qos: int | None = None
    ) -> bool:
        data = payload.encode() if isinstance(payload, str) else payload
        worker = threading.current_thread().name
        if (
            worker == "first"
            and topic == self._slow_topic
            and not self.first_is_publishing.is_set()
        ):
            self.first_is_publishing.set()
            self.second_done.wait(0.5)  # the second worker would overtake here, if it could
        self.sent.append((topic, data, worker))
        return True


def _delivery(
    folder: Path, *, face_pictures: bool = False
) -> tuple[Delivery, SlowFirstWorker, Topics, dict[str, Source]]:
    config = bridge_config(folder)
    topics = Topics(
        config.mqtt.base_topic, CameraSlugs(fixed_cameras(config)[0]), topic_subjects(config)
    )
    slow = topics.person_face("Jane Doe") if face_pictures else topics.person_state("Jane Doe")
    publisher = SlowFirstWorker(slow)
    delivery = Delivery(
        book=StateBook(book_settings(config, topics)),
        reporter=Reporter(publisher, topics, retain_state=True),
        publisher=publisher,
        topics=topics,
        rules=CameraRules(config.rules, config.processing.camera_defaults),
        face_pictures=face_pictures,
    )
    sources = {source.fixed_camera: source for source in sources_from_config(config)}
    return delivery, publisher, topics, sources


def _deliver(delivery: Delivery, sources: dict[str, Source], camera: str) -> None:
    step = JANE_AT_THE_DOOR if camera == "front_door" else JANE_IN_THE_GARDEN
    snapshot = Snapshot(
        camera=camera,
        topic=f"cameras/{camera}/snapshot",
        image=SNAPSHOTS[camera],
        content_type="image/jpeg",
        detect_time=MORNING,
    )
    delivery.deliver(snapshot, sources[camera], engine_answer(step), 120.0, delayed=False)


def _race(delivery: Delivery, publisher: SlowFirstWorker, sources: dict[str, Source]) -> None:
    """Jane at the front door (the first worker, slowed), then in the garden, at once."""
    first = threading.Thread(target=_deliver, args=(delivery, sources, "front_door"), name="first")
    second = threading.Thread(target=_deliver, args=(delivery, sources, "garden"), name="second")
    first.start()
    assert publisher.first_is_publishing.wait(5)
    second.start()
    second.join(5)
    publisher.second_done.set()
    first.join(5)


def test_the_broker_keeps_the_latest_state_of_a_person_seen_on_two_cameras_at_once(
    tmp_path: Path,
) -> None:
    delivery, publisher, topics, sources = _delivery(tmp_path)
    _race(delivery, publisher, sources)
    person = [json.loads(p) for t, p, _ in publisher.sent if t == topics.person_state("Jane Doe")]
    assert [state["last_camera"] for state in person] == ["front_door", "garden"]


def test_the_face_picture_retained_is_that_of_the_latest_state(tmp_path: Path) -> None:
    delivery, publisher, topics, sources = _delivery(tmp_path, face_pictures=True)
    _race(delivery, publisher, sources)
    faces = [p for t, p, _ in publisher.sent if t == topics.person_face("Jane Doe")]
    (tmp_path / "alone").mkdir()
    alone, alone_publisher, _, alone_sources = _delivery(tmp_path / "alone", face_pictures=True)
    _deliver(alone, alone_sources, "garden")
    (garden,) = [p for t, p, _ in alone_publisher.sent if t == topics.person_face("Jane Doe")]
    assert len(faces) == 2
    assert faces[-1] == garden != faces[0], "the garden's picture is the one retained"


def test_the_event_leaves_first(tmp_path: Path) -> None:
    delivery, publisher, topics, sources = _delivery(tmp_path)
    _deliver(delivery, sources, "front_door")
    assert publisher.sent[0][0] == topics.events()
    assert len(publisher.sent) > 1
