"""The reference "naive bridge": what a user writes in an afternoon instead of econnect-bridge.

One paho subscriber; in its message callback it base64-encodes the image, posts it with
`requests.post` (a fresh HTTP connection per image, no pool), waits for the answer, and
publishes it. One image at a time, on paho's own thread: exactly the script peers ship. It is
deliberately not optimised; the benchmark compares the bridge with it, not with a straw man,
so it does get the request right (same endpoint, same options, a token fetched once), and it
uses paho's defaults (QoS 0). With QoS 1 results, paho's loop would read a backlog of incoming
snapshots before writing any result (its read batch grows with the unacknowledged messages)
and the results would arrive late in bursts: measured 5-6 results/s instead of ~20.

Run: `python benchmarks/naive_bridge.py --broker-port P --engine-url URL`; prints `READY` once
subscribed. Results go to `naive/events` with the source topic, so the benchmark can match them.
"""

from __future__ import annotations

import argparse
import base64
import json
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
import requests
from paho.mqtt.enums import CallbackAPIVersion

RESULT_TOPIC = "naive/events"


def main(argv: list[str] | None = None) -> int:
    """Run until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--broker-port", type=int, required=True)
    parser.add_argument("--engine-url", required=True)
    parser.add_argument("--topic", default="bench/+/+")
    args = parser.parse_args(argv)
    auth = requests.post(
        f"{args.engine_url}/api/v1/authenticate",
        json={"username": "bridge", "password": "bridge-password"},
        timeout=10,
    )
    token = auth.json()["token"]
    url = f"{args.engine_url}/api/v1/faceEdge/publishWithResponse"
    ready = threading.Event()

    def on_message(client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        camera = msg.topic.split("/")[1]
        body = {
            "expanded": base64.b64encode(msg.payload).decode(),
            "detectorName": camera,
            "ianaTimeZone": "UTC",
            "detectTimeUtc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "largestFaceOnly": True,
            "allowDoubleDetection": False,
            "includePerson": True,
            "includeNames": True,
            "includeAddresses": False,
            "includeTags": True,
            "includeFields": False,
        }
        started = time.perf_counter()
        try:
            reply = requests.post(
                url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10
            )
            result = reply.json()
        except (requests.RequestException, ValueError) as err:
            result = {"error": str(err)}
        api_ms = (time.perf_counter() - started) * 1000
        event = {"source_topic": msg.topic, "api_latency_ms": round(api_ms, 1), "result": result}
        client.publish(RESULT_TOPIC, json.dumps(event))  # paho's default QoS 0, as users write

    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="naive")
    client.on_message = on_message
    client.on_subscribe = lambda *_a: ready.set()
    client.connect("127.0.0.1", args.broker_port)
    client.subscribe(args.topic)
    client.loop_start()
    if not ready.wait(10):
        print("could not subscribe", file=sys.stderr)
        return 1
    print("READY", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    client.disconnect()
    client.loop_stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
