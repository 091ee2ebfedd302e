"""The network thread's part: a message in, an arrival in the inbox, nothing more.

Runs on paho's thread, which also reads the socket: while it works, nothing else is read, and a
broker drops what it cannot queue for a slow reader. So this stage only does what costs no
more than a comparison: skip messages on the bridge's own output topics (a second guard: the
configuration refuses sources that can receive them) and retained messages (when
`mqtt.skip_retained`), note the size of a payload above its source's limit (and let go of its
bytes), and put the message in the `Inbox`. Parsing, base64, fingerprints for redelivery and
error events belong to the decode stage (`decode.py`), on its own thread.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from econnect_bridge.messages import Incoming
from econnect_bridge.own_output import is_own_output
from econnect_bridge.reporting import Reporter
from econnect_bridge.sources import Source

_LOGGER = logging.getLogger("econnect_bridge.pipeline")  # the pipeline's log lines, as before

#: The inbox holds at most this many messages...
INBOX_MESSAGES = 1024
#: ...and at most this many payload bytes; past either, the oldest message is dropped.
INBOX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Arrival:
    """A message as it came off the socket, with its source and when it came.

    `oversize` is the payload's length when it was above the source's limit: the bytes are not
    kept, and the decode stage reports the message as too large.
    """

    source: Source
    message: Incoming = field(repr=False)
    received: float
    oversize: int = 0

    @property
    def size(self) -> int:
        """The payload bytes this arrival holds in memory."""
        return len(self.message.payload)


class Inbox:
    """Arrivals waiting for the decode stage, in order; bounded by count and by bytes.

    When full, the oldest arrival is dropped (and counted): the newest snapshot is the one
    worth recognising, as in the latest-wins queue after decoding.
    """

    def __init__(self, *, max_messages: int = INBOX_MESSAGES, max_bytes: int = INBOX_BYTES) -> None:
        self._max_messages = max_messages
        self._max_bytes = max_bytes
        self._items: deque[Arrival] = deque()
        self._bytes = 0
        self._cond = threading.Condition()
        self._closed = False

    def put(self, arrival: Arrival) -> list[Arrival]:
        """Add an arrival; return the older ones dropped to make room."""
        with self._cond:
            self._items.append(arrival)
            self._bytes += arrival.size
            dropped: list[Arrival] = []
            while len(self._items) > 1 and (
                len(self._items) > self._max_messages or self._bytes > self._max_bytes
            ):
                oldest = self._items.popleft()
                self._bytes -= oldest.size
                dropped.append(oldest)
            self._cond.notify()
            return dropped

    def get(self, timeout: float | None = None) -> Arrival | None:
        """Return the oldest arrival; None on timeout or once closed and empty."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._items or self._closed, timeout):
                return None
            if not self._items:
                return None
            arrival = self._items.popleft()
            self._bytes -= arrival.size
            return arrival

    def drain(self) -> list[Arrival]:
        """Remove and return every waiting arrival (at shutdown)."""
        with self._cond:
            taken = list(self._items)
            self._items.clear()
            self._bytes = 0
            return taken

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def close(self) -> None:
        """Wake the decode stage; `get()` returns None once the inbox is empty."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class Intake:
    """Take messages off paho's thread into the inbox, as fast as the socket gives them."""

    def __init__(
        self,
        *,
        inbox: Inbox,
        reporter: Reporter,
        skip_retained: bool = True,
        own_output: tuple[str, ...] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._own_output = own_output
        self._warned_own_output = False
        self._inbox = inbox
        self._reporter = reporter
        self._skip_retained = skip_retained
        self._clock = clock

    def on_message(self, source: Source, message: Incoming) -> None:
        """Queue a message for decoding; never blocks, never raises."""
        if self._own_output and is_own_output(message.topic, self._own_output):
            self._skip_own_output(message.topic)
            message.ack()
            return
        if message.retain and self._skip_retained:
            self._reporter.count("skipped_retained")
            message.ack()
            return
        self._reporter.count("received")
        size = len(message.payload)
        oversize = size if size > source.payload.max_bytes else 0
        if oversize:
            message = dataclasses.replace(message, payload=b"")
        dropped = self._inbox.put(Arrival(source, message, self._clock(), oversize))
        if dropped:
            self._reporter.count("dropped", len(dropped))
            for arrival in dropped:
                arrival.message.ack()  # superseded: a newer message is in the inbox

    def _skip_own_output(self, topic: str) -> None:
        """Count a message the bridge itself published; say so once, at WARNING."""
        self._reporter.count("skipped_own_output")
        if not self._warned_own_output:
            self._warned_own_output = True
            _LOGGER.warning(
                "Ignoring %s and every other message on the bridge's own topics (%s): a source "
                "subscription reaches them; counted as skipped_own_output",
                topic,
                ", ".join(self._own_output),
            )
