"""A subscriber in its own process that counts messages per topic, for bursts.

A recording subscriber inside a busy test process reads slowly, and Mosquitto drops what its
per-client queue cannot hold: then the test would measure itself. This one only counts, on its
own interpreter, and writes the counts (and the last payload of each retained topic it was
asked to keep) as JSON when it gets SIGTERM.

    python -m tests.support.count_probe HOST PORT OUT.json FILTER [FILTER ...]
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def main(argv: list[str]) -> int:
    """Count until SIGTERM; write {"counts": {...}, "last": {...}, "ready": true} to OUT."""
    host, port, out, *filters = argv
    counts: Counter[str] = Counter()
    last: dict[str, str] = {}
    done = threading.Event()
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="count-probe")

    def on_connect(c: mqtt.Client, *_args: Any) -> None:
        for topic_filter in filters:
            c.subscribe(topic_filter, qos=1)

    def on_subscribe(*_args: Any) -> None:
        Path(f"{out}.ready").write_text("ready")

    def on_message(_c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        counts[msg.topic] += 1
        if msg.topic.endswith("/state"):
            last[msg.topic] = msg.payload.decode("utf-8", "replace")

    def stop(_signum: int, _frame: FrameType | None) -> None:
        done.set()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    signal.signal(signal.SIGTERM, stop)
    client.connect(host, int(port))
    client.loop_start()
    done.wait()
    client.loop_stop()
    Path(out).write_text(json.dumps({"counts": dict(counts), "last": last}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
