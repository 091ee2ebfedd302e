"""The outgoing backlog's bounds and the acknowledgement holder, without a broker."""

from __future__ import annotations

import threading

from econnect_bridge.acks import AckHolder
from econnect_bridge.backlog import HIGH_WATER, OutgoingBacklog
from econnect_bridge.mqtt import MAX_INFLIGHT


def test_connected_nothing_is_refused_and_workers_wait_at_high_water() -> None:
    backlog = OutgoingBacklog(limit_while_away=5, passing=lambda: False)
    for mid in range(HIGH_WATER):
        assert backlog.admit(connected=True)
        backlog.record(mid, 1)
    assert not backlog.wait_for_room(0.01)  # behind: a worker would wait
    released = threading.Event()

    def worker() -> None:
        if backlog.wait_for_room(5):
            released.set()

    thread = threading.Thread(target=worker)
    thread.start()
    backlog.published(0)  # the broker acknowledged one
    thread.join(5)
    assert released.is_set()
    assert backlog.dropped_while_away == 0


def test_results_wait_in_the_backlog_not_in_paho() -> None:
    # Past paho's in-flight window messages would queue inside paho, where nothing bounds how
    # long a new event waits behind them: the workers must stop first, with room left for the
    # results the eight workers still finish (six messages each) after the gate closed.
    backlog = OutgoingBacklog(limit_while_away=5, passing=lambda: False)
    for mid in range(MAX_INFLIGHT):
        backlog.record(mid, 1)
        if not backlog.wait_for_room(0):
            break
    assert len(backlog) <= MAX_INFLIGHT // 2  # the gate closed with room left in the window


def test_away_the_bound_applies_and_the_drops_are_counted_once() -> None:
    backlog = OutgoingBacklog(limit_while_away=2, passing=lambda: True)
    for mid in range(2):
        assert backlog.admit(connected=False)
        backlog.record(mid, 1)
    assert not backlog.admit(connected=False)
    backlog.drop()  # a QoS 0 message paho let go of
    assert backlog.take_dropped() == 2
    assert backlog.take_dropped() == 0
    assert backlog.wait_for_room(0)  # waiting makes no sense while away


def test_a_message_published_before_it_was_recorded_is_not_counted() -> None:
    backlog = OutgoingBacklog(limit_while_away=10, passing=lambda: False)
    backlog.published(7)  # paho's thread was quicker than the publishing thread
    backlog.record(7, 1)
    assert len(backlog) == 0


def test_a_disconnect_forgets_qos0_messages_only() -> None:
    backlog = OutgoingBacklog(limit_while_away=10, passing=lambda: False)
    backlog.record(1, 0)
    backlog.record(2, 1)
    backlog.disconnected()
    assert len(backlog) == 1


def test_an_acknowledgement_is_sent_once_on_its_own_connection() -> None:
    sent: list[tuple[int, int]] = []
    connection = [1]
    holder = AckHolder(
        cap=10, send=lambda mid, qos: sent.append((mid, qos)), connection=lambda: connection[0]
    )
    first, second = holder.hold(5, 1), holder.hold(6, 1)
    assert holder.held == 2
    first()
    first()
    assert sent == [(5, 1)]
    connection[0] = 2  # reconnected: the broker sends message 6 again, that copy counts
    second()
    assert sent == [(5, 1)]
    assert holder.held == 0


def test_past_the_cap_a_message_is_acknowledged_as_it_arrives() -> None:
    sent: list[tuple[int, int]] = []
    holder = AckHolder(cap=2, send=lambda mid, qos: sent.append((mid, qos)), connection=lambda: 1)
    held = [holder.hold(mid, 1) for mid in (1, 2)]
    holder.hold(3, 1)
    assert sent == [(3, 1)]
    assert holder.acked_on_arrival == 1
    held[0]()
    holder.hold(4, 1)  # room again
    assert sent == [(3, 1), (1, 1)]
    assert holder.hold(9, 0) is not None  # QoS 0: nothing to acknowledge
    assert len(sent) == 2
