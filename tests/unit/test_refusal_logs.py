"""Refused payloads reach the log, rate-limited; reachability and sign-in are two facts."""

from __future__ import annotations

import json
import logging

import pytest

from econnect_bridge.reporting import PAYLOAD_ADVICE, REFUSAL_LOG_INTERVAL, Reporter
from econnect_bridge.states import Topics
from econnect_identities.errors import (
    EconnectAuthenticationError,
    EconnectConnectionError,
    EconnectPermissionError,
)
from econnect_identities.payloads import PayloadError, PayloadFormat, decode_payload

LOGGER = "econnect_bridge.pipeline"


class Recorder:
    """A Publisher that remembers what it was given."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    def publish(
        self, topic: str, payload: bytes | str, *, retain: bool = False, qos: int | None = None
    ) -> bool:
        self.sent.append((topic, payload if isinstance(payload, bytes) else payload.encode()))
        return True

    def states(self) -> list[dict[str, object]]:
        return [json.loads(p) for t, p in self.sent if t == "econnect/bridge/state"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def reporter(recorder: Recorder, clock: Clock) -> Reporter:
    return Reporter(recorder, Topics(), retain_state=True, clock=clock)


def refusal(payload: bytes, fmt: PayloadFormat | None = None) -> PayloadError:
    with pytest.raises(PayloadError) as caught:
        decode_payload(payload, fmt or PayloadFormat())
    return caught.value


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


def test_a_refused_payload_is_logged_with_the_key_to_change(
    reporter: Reporter, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    big = refusal(b"\xff\xd8\xff" + b"\0" * 2000, PayloadFormat(max_bytes=1000))
    reporter.error(big.code, str(big), "porch", "cameras/porch/snapshot")
    (line,) = lines(caplog)
    assert caplog.records[0].levelno == logging.WARNING
    assert line.startswith("porch: snapshot on cameras/porch/snapshot refused (too_large: ")
    assert "processing.max_image_bytes" in line
    assert recorder.sent[0][0] == "econnect/errors"  # the error event is still published


@pytest.mark.parametrize(
    ("payload", "fmt", "code", "key"),
    [
        (b"hello", PayloadFormat(), "unsupported_payload", "`payload` setting"),
        (b"hello", PayloadFormat(kind="raw"), "not_an_image", "`payload` setting"),
        (b"{not json", PayloadFormat(kind="json"), "bad_json", "`payload` setting"),
        (b'{"img": "x"}', PayloadFormat(kind="json"), "missing_image", "json_image_key"),
    ],
)
def test_each_format_refusal_names_a_camera_setting(
    reporter: Reporter,
    caplog: pytest.LogCaptureFixture,
    payload: bytes,
    fmt: PayloadFormat,
    code: str,
    key: str,
) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    err = refusal(payload, fmt)
    assert err.code == code
    reporter.error(err.code, str(err), "porch", "cameras/porch/snapshot")
    (line,) = lines(caplog)
    assert f"({code}: " in line
    assert key in line


def test_every_payload_code_has_advice() -> None:
    cases = [
        (b"", PayloadFormat()),
        (b"x" * 10, PayloadFormat(max_bytes=5)),
        (b"hello", PayloadFormat()),
        (b"hello", PayloadFormat(kind="raw")),
        (b"data:image/png,xyz", PayloadFormat()),
        (b"data:image/png;base64,!!!", PayloadFormat()),
        (b"[1]", PayloadFormat(kind="json")),
        (b"{}", PayloadFormat(kind="json")),
    ]
    for payload, fmt in cases:
        assert refusal(payload, fmt).code in PAYLOAD_ADVICE


def test_payload_bytes_never_reach_the_log(
    reporter: Reporter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, LOGGER)
    secret = b'{"image": "not base64 SECRET-TOKEN-123", "password": "hunter2"}'
    err = refusal(secret, PayloadFormat(kind="json"))
    reporter.error(err.code, str(err), "porch", "cameras/porch/snapshot")
    text = "\n".join(lines(caplog))
    assert text
    assert "SECRET-TOKEN-123" not in text
    assert "hunter2" not in text


def test_refusals_are_rate_limited_per_camera_and_code(
    reporter: Reporter, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    err = refusal(b"hello")
    for _ in range(5):
        reporter.error(err.code, str(err), "porch", "cameras/porch/snapshot")
        clock.now += 1
    reporter.error(err.code, str(err), "garage", "cameras/garage/snapshot")  # another camera
    reporter.error("empty_payload", "the message is empty", "porch", "cameras/porch/snapshot")
    assert len(lines(caplog)) == 3
    caplog.clear()
    clock.now += REFUSAL_LOG_INTERVAL
    reporter.error(err.code, str(err), "porch", "cameras/porch/snapshot")
    (line,) = lines(caplog)
    assert line.endswith("(4 more since)")
    caplog.clear()
    clock.now += REFUSAL_LOG_INTERVAL
    reporter.error(err.code, str(err), "porch", "cameras/porch/snapshot")
    (line,) = lines(caplog)
    assert "more since" not in line


def test_engine_failures_are_not_logged_twice(
    reporter: Reporter, caplog: pytest.LogCaptureFixture
) -> None:
    # the delivery stage logs a lost snapshot itself; the reporter adds no line for it
    caplog.set_level(logging.DEBUG, LOGGER)
    reporter.error("engine_timeout", "did not answer", "porch", "cameras/porch/snapshot")
    assert lines(caplog) == []


# -- reachable and signed in ------------------------------------------------------------------


def test_first_start_is_not_reachable_again(
    reporter: Reporter, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, LOGGER)
    reporter.mark_engine(reachable=True)
    reporter.engine_answered(20.0)  # the first recognition
    reporter.set_reachable(True)
    assert not any("again" in line for line in lines(caplog))
    snap = reporter.snapshot()
    assert snap.api_reachable
    assert snap.api_signed_in
    assert recorder.states()[-1]["api_signed_in"] == "ON"


def test_reachable_again_after_it_really_was_unreachable(
    reporter: Reporter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, LOGGER)
    reporter.mark_engine(reachable=True)
    reporter.set_reachable(False)
    reporter.set_reachable(False)
    reporter.set_reachable(True)
    reporter.set_reachable(True)
    assert lines(caplog) == [
        "The eConnect engine is unreachable",
        "The eConnect engine is reachable again",
    ]


def test_engine_down_at_start_then_up(reporter: Reporter, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, LOGGER)
    down = EconnectConnectionError("Cannot reach the engine at http://127.0.0.1:9: refused")
    reporter.mark_engine(reachable=False, error=down)
    assert not reporter.snapshot().api_reachable
    reporter.set_reachable(True)
    assert lines(caplog) == ["The eConnect engine is reachable again"]


def test_wrong_password_at_start_is_reachable_but_not_signed_in(
    reporter: Reporter, recorder: Recorder
) -> None:
    refused = EconnectAuthenticationError("The engine refused the credentials", status=401)
    reporter.mark_engine(reachable=False, error=refused)  # what the start-up sign-in reports
    snap = reporter.snapshot()
    assert snap.api_reachable
    assert not snap.api_signed_in
    assert snap.last_error is not None
    assert snap.last_error.startswith("auth_failed")
    state = recorder.states()[-1]
    assert (state["api_reachable"], state["api_signed_in"]) == ("ON", "OFF")


def test_a_refused_sign_in_is_logged_once_per_change(
    reporter: Reporter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, LOGGER)
    reporter.mark_engine(reachable=True)
    for _ in range(3):  # the password changed on the engine: every snapshot is refused
        reporter.error("auth_failed", "The engine refused the credentials", "porch", "t")
    refusals = [line for line in lines(caplog) if "refuses the bridge's credentials" in line]
    assert len(refusals) == 1
    assert "api.password" in refusals[0]
    snap = reporter.snapshot()
    assert snap.api_reachable
    assert not snap.api_signed_in
    caplog.clear()
    reporter.engine_answered(15.0)  # fixed: a call succeeds
    reporter.set_reachable(True)
    assert lines(caplog) == ["The eConnect engine accepts the bridge's credentials again"]
    assert reporter.snapshot().api_signed_in


def test_a_missing_permission_is_reachable_and_signed_in(reporter: Reporter) -> None:
    reporter.mark_engine(reachable=True)
    denied = EconnectPermissionError("no Face Publishing", status=403)
    reporter.error(denied.code, str(denied), "porch", "t")
    snap = reporter.snapshot()
    assert (snap.api_reachable, snap.api_signed_in) == (True, True)


def test_a_sign_in_is_published_with_reachable_in_one_state(
    reporter: Reporter, recorder: Recorder
) -> None:
    reporter.mark_engine(reachable=True)  # the start-up sign-in
    assert [(s["api_reachable"], s["api_signed_in"]) for s in recorder.states()] == [("ON", "ON")]
    reporter.set_reachable(False)
    reporter.engine_answered(12.0)  # a call succeeds again
    flags = [(s["api_reachable"], s["api_signed_in"]) for s in recorder.states()]
    assert flags[1:] == [("OFF", "ON"), ("ON", "ON")]
