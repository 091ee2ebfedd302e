"""Store and forward: snapshots wait on disk through an engine outage and a bridge restart."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.helpers import running_bridge, sample, write_config
from tests.integration.reliability import (
    PersistentProbe,
    feed_config,
    feed_payload,
    index_of,
    passed,
    wait_until,
)
from tests.support.mosquitto import MosquittoBroker

pytestmark = pytest.mark.integration


@pytest.mark.slow
def test_spool_keeps_everything_through_an_outage_and_a_restart(
    tmp_path: Path,
    emulator: Any,
    mosquitto: MosquittoBroker,
    figures: dict[str, Any],
) -> None:
    """Engine down; 8 snapshots spooled, bridge restarted, 4 more; engine back: all replayed."""
    spool_file = tmp_path / "spool.sqlite3"
    extra = f"""\
  mode: publishWithResponse
spool:
  enabled: true
  path: {spool_file}
  responses: true
"""
    text = feed_config(emulator.url, mosquitto.port, extra).replace(
        "  time_zone: UTC\n",
        "  time_zone: UTC\n  timeout: 1\n  connect_timeout: 1\n  retries: 1\n"
        "  retry_backoff: 0.1\n  circuit_threshold: 2\n  circuit_reset: 1\n",
    )
    text = text.replace(
        "    json_time_key: t\n",
        "    json_time_key: t\n  - name: pub\n    topic: pub/{camera}\n    payload: json\n"
        "    json_time_key: t\n    mode: publish\n",
    )
    config = write_config(tmp_path / "config.yaml", text)
    image = base64.b64encode(sample("jane.jpg")).decode()
    probe = PersistentProbe(
        mosquitto.host, mosquitto.port, ("econnect/events", "econnect/errors"), "spool-probe"
    )
    index = 0

    def send(count: int, prefix: str = "feed") -> None:
        nonlocal index
        for _ in range(count):
            probe.publish(f"{prefix}/cam{index}", feed_payload(image, index))
            index += 1
            time.sleep(0.15)

    with running_bridge(config) as app:
        send(2)
        assert wait_until(lambda: len(probe.on("econnect/events")) == 2, 10)
        emulator.stop()
        send(6)
        send(2, "pub")
        assert wait_until(lambda: app.pipeline.health.spooled == 8, 10), app.pipeline.health
        first_run_spooled = app.pipeline.health.spooled
    on_disk_after_stop = _rows(spool_file)
    with running_bridge(config) as app:
        send(4)
        assert wait_until(lambda: app.pipeline.health.spooled == 4, 10)
        emulator.start()
        back = time.monotonic()
        assert wait_until(lambda: len(probe.on("econnect/events")) == 2 + 10, 20)
        replay_seconds = time.monotonic() - back
        assert wait_until(lambda: app.pipeline.health.replayed == 12, 5)
        send(1)  # live again, not delayed
        assert wait_until(lambda: len(probe.on("econnect/events")) == 13, 10)
    probe.stop()
    events = probe.json_on("econnect/events")
    errors = probe.json_on("econnect/errors")
    replayed = events[2:12]
    order = [index_of(e) for e in replayed]
    assert errors == []
    assert on_disk_after_stop == 8
    assert [e["delayed"] for e in events] == [False] * 2 + [True] * 10 + [False]
    assert order == sorted(order)
    assert order == [2, 3, 4, 5, 6, 7, 10, 11, 12, 13]  # the publish-mode ones have no event
    assert _rows(spool_file) == 0
    publish_calls = emulator.stats()["requests"].get("publish", {}).get("200", 0)
    assert publish_calls == 2
    figures.update(
        spooled_first_run=first_run_spooled,
        on_disk_across_restart=on_disk_after_stop,
        spooled_second_run=4,
        replayed_with_delayed_true=len(replayed),
        publish_mode_replayed=publish_calls,
        replayed_in_order=True,
        lost=0,
        error_events=len(errors),
        replay_seconds_after_engine_back=round(replay_seconds, 2),
    )
    passed(figures)


def _rows(path: Path) -> int:
    import sqlite3

    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM spool").fetchone()[0])
