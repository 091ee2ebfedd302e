"""Messages as the bridge sees them, detached from any MQTT library, and topic filters.

The pipeline's stages read `Incoming` and match topics with `topic_matches`; only the MQTT
adapter (`mqtt.py`) turns paho's messages into `Incoming`, so no stage needs paho.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

#: Tell the broker a message is done with (a QoS 1 PUBACK); calling it again does nothing.
Acknowledge = Callable[[], None]


def no_ack() -> None:
    """The acknowledgement of a message nobody needs to acknowledge (QoS 0, tests, the spool)."""


@dataclass(frozen=True, slots=True)
class Incoming:
    """A message as the bridge sees it, detached from paho.

    `ack` is called once the message's outcome is published, spooled or superseded: until then
    the broker keeps a QoS 1 message and sends it again after a crash.
    """

    topic: str
    payload: bytes = field(repr=False)
    retain: bool = False
    qos: int = 0
    dup: bool = False  # a QoS 1 redelivery: the broker may have sent it before
    ack: Acknowledge = field(default=no_ack, repr=False, compare=False)


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Return whether `topic` matches an MQTT filter with `+` and `#` (no paho here)."""
    wanted, levels = topic_filter.split("/"), topic.split("/")
    for index, level in enumerate(wanted):
        if level == "#":
            return True
        if index >= len(levels) or (level != "+" and level != levels[index]):
            return False
    return len(wanted) == len(levels)
