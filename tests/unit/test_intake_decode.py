"""The intake (paho's thread: enqueue only) and the decode stage, without sockets or sleeps."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from econnect_bridge.cameras import CameraDirectory
from econnect_bridge.config import load_config
from econnect_bridge.decode import Decoder
from econnect_bridge.dedupe import RedeliveryFilter
from econnect_bridge.intake import Arrival, Inbox, Intake
from econnect_bridge.messages import Incoming
from econnect_bridge.own_output import own_filters
from econnect_bridge.reporting import Reporter
from econnect_bridge.sources import PayloadFormat, Source, sources_from_config
from econnect_bridge.states import Topics
from econnect_bridge.throttle import SnapshotQueue

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 60


class Publisher:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []

    def publish(
        self, topic: str, payload: bytes | str, *, retain: bool = False, qos: int | None = None
    ) -> bool:
        self.messages.append((topic, payload.encode() if isinstance(payload, str) else payload))
        return True

    def errors(self) -> list[dict[str, Any]]:
        return [json.loads(p) for t, p in self.messages if t == "econnect/errors"]


def _source(tmp_path: Path, payload: str = "auto", extra: str = "") -> Source:
    config_file = tmp_path / "config.yaml"
    config_file.write_text(
        "api: {url: 'http://127.0.0.1:1', username: u, password: p}\n"
        f"cameras: [{{name: cam, topic: 'cams/{{camera}}', payload: {payload}{extra}}}]\n"
        "processing: {max_image_bytes: 1000}\n"
    )
    (source,) = sources_from_config(load_config(config_file))
    return source


def _stages(
    tmp_path: Path, payload: str = "auto", extra: str = ""
) -> tuple[Intake, Decoder, Inbox, SnapshotQueue, Publisher, Reporter, Source, list[str]]:
    publisher = Publisher()
    reporter = Reporter(publisher, Topics("econnect"), retain_state=True)
    source = _source(tmp_path, payload, extra)
    inbox, queue = Inbox(), SnapshotQueue()
    new_cameras: list[str] = []
    intake = Intake(inbox=inbox, reporter=reporter)
    decoder = Decoder(
        inbox=inbox,
        cameras=CameraDirectory((source,), new_cameras.append),
        queue=queue,
        dedupe=RedeliveryFilter(),
        reporter=reporter,
    )
    return intake, decoder, inbox, queue, publisher, reporter, source, new_cameras


def test_the_intake_only_enqueues_a_bad_payload_is_reported_by_the_decoder(
    tmp_path: Path,
) -> None:
    intake, decoder, inbox, queue, publisher, reporter, source, _ = _stages(tmp_path)
    intake.on_message(source, Incoming("cams/a", b'{"image": "not base64!"}', qos=1))
    assert publisher.errors() == []  # nothing parsed on paho's thread
    assert len(inbox) == 1
    assert reporter.health.received == 1
    arrival = inbox.get(0)
    assert arrival is not None
    assert decoder.offer(arrival) is None
    assert [e["code"] for e in publisher.errors()] == ["bad_base64"]
    assert queue.pending() == 0


def test_an_oversize_payload_is_let_go_at_once_and_reported_too_large(tmp_path: Path) -> None:
    intake, decoder, inbox, _, publisher, _, source, _ = _stages(tmp_path)
    intake.on_message(source, Incoming("cams/a", JPEG + bytes(5000), qos=1))
    arrival = inbox.get(0)
    assert arrival is not None
    assert arrival.size == 0
    assert arrival.oversize == len(JPEG) + 5000
    decoder.offer(arrival)
    (error,) = publisher.errors()
    assert error["code"] == "too_large"
    assert str(len(JPEG) + 5000) in error["message"]
    assert "1000" in error["message"]


def test_the_decoder_queues_snapshots_learns_cameras_and_skips_redeliveries(
    tmp_path: Path,
) -> None:
    intake, decoder, inbox, queue, _, reporter, source, new_cameras = _stages(tmp_path)
    for message in (
        Incoming("cams/a", JPEG, qos=1),
        Incoming("cams/a", JPEG, qos=1, dup=True),  # the broker sends it again
        Incoming("cams/b", JPEG, qos=1),
    ):
        intake.on_message(source, message)
    while (arrival := inbox.get(0)) is not None:
        decoder.offer(arrival)
    assert new_cameras == ["a", "b"]
    assert reporter.health.redeliveries_skipped == 1
    taken = [queue.take(0), queue.take(0)]
    assert [s.camera for s in taken if s is not None] == ["a", "b"]


def test_a_camera_named_in_the_json_payload_is_the_snapshot_camera(tmp_path: Path) -> None:
    stages = _stages(tmp_path, "json", ", json_camera_key: camera")
    intake, decoder, inbox, _, _, _, source, new_cameras = stages
    body = {"camera": "garden", "image": base64.b64encode(JPEG).decode()}
    intake.on_message(source, Incoming("cams/hub", json.dumps(body).encode(), qos=1))
    arrival = inbox.get(0)
    assert arrival is not None
    snapshot = decoder.offer(arrival)
    assert snapshot is not None
    assert snapshot.camera == "garden"
    assert new_cameras == ["garden"]


def _arrival(source: Source, size: int) -> Arrival:
    return Arrival(source, Incoming("cams/a", bytes(size)), received=0.0)


def test_the_inbox_drops_the_oldest_past_its_message_bound(tmp_path: Path) -> None:
    source = _source(tmp_path)
    inbox = Inbox(max_messages=2)
    assert inbox.put(_arrival(source, 1)) == []
    assert inbox.put(_arrival(source, 2)) == []
    assert [a.size for a in inbox.put(_arrival(source, 3))] == [1]
    sizes = [a.size for a in inbox.drain()]
    assert sizes == [2, 3]


def test_the_inbox_drops_the_oldest_past_its_byte_bound_but_keeps_the_newest(
    tmp_path: Path,
) -> None:
    source = _source(tmp_path)
    inbox = Inbox(max_bytes=100)
    inbox.put(_arrival(source, 60))
    assert len(inbox.put(_arrival(source, 60))) == 1
    assert len(inbox.put(_arrival(source, 500))) == 1  # alone above the bound: still kept
    assert [a.size for a in inbox.drain()] == [500]


def test_a_closed_inbox_hands_out_what_it_holds_then_none(tmp_path: Path) -> None:
    source = _source(tmp_path)
    inbox = Inbox()
    inbox.put(_arrival(source, 1))
    inbox.close()
    assert inbox.get(0) is not None
    assert inbox.get(0) is None


def test_dropped_arrivals_are_counted(tmp_path: Path) -> None:
    publisher = Publisher()
    reporter = Reporter(publisher, Topics("econnect"), retain_state=True)
    source = _source(tmp_path)
    intake = Intake(inbox=Inbox(max_messages=1), reporter=reporter)
    for _ in range(3):
        intake.on_message(source, Incoming("cams/a", JPEG, qos=1))
    assert reporter.health.dropped == 2
    assert PayloadFormat().max_bytes > 1000  # the default limit is not the test's


def test_messages_on_the_bridges_own_topics_are_skipped_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    publisher = Publisher()
    reporter = Reporter(publisher, Topics("econnect"), retain_state=True)
    source = _source(tmp_path)
    inbox = Inbox()
    own = own_filters("econnect", "homeassistant")
    intake = Intake(inbox=inbox, reporter=reporter, own_output=own)
    with caplog.at_level(logging.WARNING, logger="econnect_bridge.pipeline"):
        for topic in ("econnect/errors", "homeassistant/sensor/econnect/x/config", "cams/a"):
            intake.on_message(source, Incoming(topic, JPEG, qos=1))
        intake.on_message(source, Incoming("econnect/events", JPEG, qos=1))
    assert reporter.health.skipped_own_output == 3
    assert [a.message.topic for a in inbox.drain()] == ["cams/a"]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert "econnect/errors" in warnings[0]


class Acks:
    """Counts the acknowledgements of each message, by topic."""

    def __init__(self) -> None:
        self.count: dict[str, int] = {}

    def message(self, topic: str, payload: bytes = JPEG, **kw: Any) -> Incoming:
        def ack() -> None:
            self.count[topic] = self.count.get(topic, 0) + 1

        return Incoming(topic, payload, qos=1, ack=ack, **kw)


def test_a_refused_or_skipped_message_is_acknowledged_once(tmp_path: Path) -> None:
    publisher = Publisher()
    reporter = Reporter(publisher, Topics("econnect"), retain_state=True)
    source = _source(tmp_path)
    inbox = Inbox(max_messages=1)
    intake = Intake(inbox=inbox, reporter=reporter, own_output=own_filters("econnect"))
    decoder = Decoder(
        inbox=inbox,
        cameras=CameraDirectory((source,)),
        queue=SnapshotQueue(),
        dedupe=RedeliveryFilter(),
        reporter=reporter,
    )
    acks = Acks()
    intake.on_message(source, acks.message("econnect/errors"))  # the bridge's own output
    intake.on_message(source, acks.message("cams/old", retain=True))  # retained: skipped
    intake.on_message(source, acks.message("cams/first"))
    intake.on_message(source, acks.message("cams/bad", b"garbage"))  # pushes cams/first out
    assert acks.count == {"econnect/errors": 1, "cams/old": 1, "cams/first": 1}
    arrival = inbox.get(0)
    assert arrival is not None
    decoder.offer(arrival)  # not an image: an error event, then the acknowledgement
    assert acks.count["cams/bad"] == 1
    assert [e["code"] for e in publisher.errors()] == ["unsupported_payload"]


def test_a_queued_snapshot_is_acknowledged_when_superseded_not_before(tmp_path: Path) -> None:
    intake, decoder, inbox, queue, _, _, source, _ = _stages(tmp_path)
    acks = Acks()
    intake.on_message(source, acks.message("cams/a"))
    first = inbox.get(0)
    assert first is not None
    decoder.offer(first)
    assert acks.count == {}  # waiting for a worker: the broker keeps it until the outcome
    newer = Incoming("cams/a", JPEG + b"\x00", qos=1)
    intake.on_message(source, newer)
    second = inbox.get(0)
    assert second is not None
    decoder.offer(second)
    assert acks.count == {"cams/a": 1}  # superseded by the newer snapshot
    taken = queue.take(0)
    assert taken is not None
    assert taken.image == JPEG + b"\x00"


def test_a_redelivery_skipped_is_acknowledged(tmp_path: Path) -> None:
    intake, decoder, inbox, _, _, reporter, source, _ = _stages(tmp_path)
    acks = Acks()
    intake.on_message(source, acks.message("cams/a"))
    intake.on_message(source, acks.message("cams/a", dup=True))
    while (arrival := inbox.get(0)) is not None:
        decoder.offer(arrival)
    assert reporter.health.redeliveries_skipped == 1
    assert acks.count == {"cams/a": 1}  # the copy; the first waits for its outcome


class _BrokenDirectory(CameraDirectory):
    def learn(self, camera: str, source: Source, *, replace: bool = True) -> None:
        raise RuntimeError("a bug")


def test_a_bug_in_the_decode_stage_costs_one_snapshot_and_releases_its_slot(
    tmp_path: Path,
) -> None:
    publisher = Publisher()
    reporter = Reporter(publisher, Topics("econnect"), retain_state=True)
    source = _source(tmp_path)
    inbox = Inbox()
    decoder = Decoder(
        inbox=inbox,
        cameras=_BrokenDirectory((source,)),
        queue=SnapshotQueue(),
        dedupe=RedeliveryFilter(),
        reporter=reporter,
    )
    acks = Acks()
    Intake(inbox=inbox, reporter=reporter).on_message(source, acks.message("cams/a"))
    inbox.close()
    decoder.start()
    decoder.join(5)
    assert not decoder.alive()
    assert [e["code"] for e in publisher.errors()] == ["internal_error"]
    assert acks.count == {"cams/a": 1}  # the broker does not keep it waiting for ever
