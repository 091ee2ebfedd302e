"""The pipeline's retry, circuit, spool and shutdown paths, with a fake engine (no sockets)."""

from __future__ import annotations

import dataclasses
import json
import random
import threading
import time
from pathlib import Path
from typing import Any

from econnect_bridge.config import load_config
from econnect_bridge.messages import Incoming
from econnect_bridge.pipeline import Pipeline
from econnect_bridge.retry import Backoff, CircuitBreaker, RetryPolicy
from econnect_bridge.sources import sources_from_config
from econnect_bridge.spool import Spool
from econnect_bridge.statebook import BookSettings, StateBook
from econnect_bridge.states import Topics
from econnect_identities.errors import EconnectConnectionError, EconnectPermissionError
from econnect_identities.models import RecognitionResult

JPEG = b"\xff\xd8\xff" + b"\0" * 64


class FakeEngine:
    """Answers, or raises the errors it is given, and counts calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.error: Exception | None = None
        self.lock = threading.Lock()

    def publish_with_response(self, image: bytes, **_kw: Any) -> RecognitionResult:
        with self.lock:
            self.calls += 1
        if self.error is not None:
            raise self.error
        return RecognitionResult(())

    def publish(self, image: bytes, **_kw: Any) -> None:
        self.publish_with_response(image)


class FakePublisher:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []

    def publish(self, topic: str, payload: bytes | str, **_kw: Any) -> bool:
        data = payload.encode() if isinstance(payload, str) else payload
        self.messages.append((topic, data))
        return True

    def subscribe(self, *_a: Any, **_kw: Any) -> None: ...

    def stop(self) -> None: ...

    def on(self, topic: str) -> list[Any]:
        return [json.loads(p) for t, p in self.messages if t == topic]


def _pipeline(
    tmp_path: Path, *, retries: int = 2, threshold: int = 3, spool: Spool | None = None
) -> tuple[Pipeline, FakeEngine, FakePublisher, Any]:
    config_file = tmp_path / "config.yaml"
    config_file.write_text(
        "api: {url: 'http://127.0.0.1:1', username: u, password: p}\n"
        "cameras: [{name: cam, topic: 'cams/{camera}'}]\n"
    )
    config = load_config(config_file)
    topics = Topics("econnect")
    book = StateBook(
        BookSettings(topics=topics, person_fields=frozenset({"name"}), presence_timeout=5)
    )
    (source,) = sources_from_config(config)
    engine, publisher = FakeEngine(), FakePublisher()
    pipeline = Pipeline(
        client=engine,  # type: ignore[arg-type]
        publisher=publisher,
        topics=topics,
        book=book,
        workers=1,
        sources=(source,),
        retry=RetryPolicy(
            retries=retries,
            backoff=Backoff(0.01, 0.02),
            circuit=CircuitBreaker(threshold=threshold, reset_after=60),
            rng=random.Random(0),
        ),
        spool=spool,
        spool_responses=True,
    )
    return pipeline, engine, publisher, source


def _send(pipeline: Pipeline, source: Any, camera: str, **kw: Any) -> None:
    pipeline.on_message(source, Incoming(f"cams/{camera}", JPEG, qos=1, **kw))


def _wait(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_transient_failures_are_retried_then_the_circuit_opens(tmp_path: Path) -> None:
    pipeline, engine, publisher, source = _pipeline(tmp_path)
    engine.error = EconnectConnectionError("refused")
    pipeline.mark_engine(reachable=True)
    pipeline.start()
    try:
        _send(pipeline, source, "a")
        assert _wait(lambda: publisher.on("econnect/errors"))
        assert engine.calls == 3  # 1 + 2 retries
        for camera in "bcd":
            _send(pipeline, source, camera)
        assert _wait(lambda: len(publisher.on("econnect/errors")) == 4)
    finally:
        pipeline.stop(1)
    codes = [e["code"] for e in publisher.on("econnect/errors")]
    assert codes == ["engine_unreachable"] + ["engine_unavailable"] * 3
    assert engine.calls == 3  # the open circuit spared the engine
    assert pipeline.health.lost == 4
    assert pipeline.health.retries == 2
    states = publisher.on("econnect/bridge/state")
    assert states[-1]["api_reachable"] == "OFF"


def test_403_is_not_retried_and_does_not_open_the_circuit(tmp_path: Path) -> None:
    pipeline, engine, publisher, source = _pipeline(tmp_path, threshold=1)
    engine.error = EconnectPermissionError("needs Face Publishing", status=403)
    pipeline.start()
    try:
        for camera in "ab":
            _send(pipeline, source, camera)
        assert _wait(lambda: len(publisher.on("econnect/errors")) == 2)
    finally:
        pipeline.stop(1)
    assert engine.calls == 2
    assert {e["code"] for e in publisher.on("econnect/errors")} == {"permission_denied"}


def test_dup_redelivery_is_processed_once(tmp_path: Path) -> None:
    pipeline, engine, _publisher, source = _pipeline(tmp_path)
    pipeline.start()
    try:
        _send(pipeline, source, "a")
        assert _wait(lambda: engine.calls == 1)
        _send(pipeline, source, "a", dup=True)
        _send(pipeline, source, "a")  # the same bytes again, not flagged: a new snapshot
        assert _wait(lambda: engine.calls == 2)
        assert _wait(lambda: pipeline.queue.pending() == pipeline.queue.in_flight() == 0)
    finally:
        pipeline.stop(1)
    assert pipeline.health.redeliveries_skipped == 1
    assert engine.calls == 2


def test_spool_takes_failures_and_replays_them_delayed(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    pipeline, engine, publisher, source = _pipeline(tmp_path, retries=0, spool=spool)
    engine.error = EconnectConnectionError("refused")
    pipeline.start()
    try:
        for camera in "abc":
            _send(pipeline, source, camera)
        assert _wait(lambda: pipeline.health.spooled == 3)
        assert publisher.on("econnect/errors") == []
        engine.error = None
        pipeline.retry.circuit.record_success()  # the engine is back (skip the 60 s pause)
        assert _wait(lambda: len(publisher.on("econnect/events")) == 3)
    finally:
        pipeline.stop(1)
    events = publisher.on("econnect/events")
    assert [e["camera"] for e in events] == ["a", "b", "c"]
    assert all(e["delayed"] for e in events)
    assert pipeline.health.replayed == 3


def test_stop_reports_waiting_snapshots_without_a_spool(tmp_path: Path) -> None:
    pipeline, _engine, publisher, source = _pipeline(tmp_path)
    _send(pipeline, source, "a")  # workers not started: it waits
    assert pipeline.stop(0.5) == 1
    assert [e["code"] for e in publisher.on("econnect/errors")] == ["shutting_down"]


def test_unreadable_payloads_are_error_events(tmp_path: Path) -> None:
    pipeline, _engine, publisher, source = _pipeline(tmp_path)
    cut_short = b'{"a":' * 5000  # 3.13 reports a syntax error, 3.11 the recursion limit
    too_deep = b'{"a":' * 100_000 + b"1" + b"}" * 100_000  # valid, but past the recursion limit
    oversize = b"\xff\xd8\xff" + bytes(source.payload.max_bytes)
    pipeline.start()
    try:
        for payload in (cut_short, too_deep, b"", b"\x00garbage", oversize):
            pipeline.on_message(source, Incoming("cams/x", payload, qos=1))
        assert _wait(lambda: len(publisher.on("econnect/errors")) == 5)
    finally:
        pipeline.stop(1)
    codes = [e["code"] for e in publisher.on("econnect/errors")]
    assert codes == ["bad_json", "bad_json", "empty_payload", "unsupported_payload", "too_large"]
    assert dataclasses.asdict(pipeline.health)["errors"] == 5


def test_a_snapshot_is_acknowledged_once_its_result_is_out(tmp_path: Path) -> None:
    pipeline, _engine, publisher, source = _pipeline(tmp_path)
    acked: list[int] = []
    message = Incoming("cams/a", JPEG, qos=1, ack=lambda: acked.append(len(publisher.messages)))
    pipeline.start()
    try:
        pipeline.on_message(source, message)
        assert _wait(lambda: acked)
    finally:
        pipeline.stop(1)
    assert len(acked) == 1
    events_before_ack = [t for t, _ in publisher.messages[: acked[0]] if t == "econnect/events"]
    assert events_before_ack  # the result was published before the broker was told
