"""Frigate's events mode: the Frigate stand-in over HTTP, its events through HA's MQTT.

The stand-in (a child process) serves each tracked object's best picture as Frigate does and
builds the exact `frigate/events` payloads; the tests fire those payloads through Home
Assistant's own MQTT integration and the emulator recognises the pictures. Faces are discs of
saturated colour (`econnect_bridge.emulator.faces`): Jane Doe's colour matches her at 0.999,
and the further a face's colour is from hers, the lower the score (0.80 at distance 60).
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from conftest import FRIGATE_USERS, USERNAME, EmulatorProcess, advance, entry_data, free_port
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_mqtt_message,
)
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.econnect_identities import frigate as frigate_module
from custom_components.econnect_identities.const import (
    CONF_COOLDOWN,
    CONF_FRIGATE_CAMERAS,
    CONF_FRIGATE_CONFIDENT_SCORE,
    CONF_FRIGATE_OVERWRITE_SUB_LABEL,
    CONF_FRIGATE_PASSWORD,
    CONF_FRIGATE_POLL_INTERVAL,
    CONF_FRIGATE_SKIP_NAMED,
    CONF_FRIGATE_URL,
    CONF_FRIGATE_USERNAME,
    CONF_FRIGATE_WRITE_SUB_LABEL,
    CONF_FRIGATE_ZONES,
    DOMAIN,
    EVENT_FACE,
)
from econnect_bridge.emulator.imagegen import SAMPLE_COLOURS, FaceSpec, make_snapshot
from tests.support.frigate_standin_proc import StandinProcess

CAMERA = "front_door"
LAST_PERSON = "sensor.front_door_last_person"
FACE_COUNT = "sensor.front_door_face_count"
JANE = SAMPLE_COLOURS["jane"]


@pytest.fixture
def expected_lingering_timers() -> bool:
    """HA's MQTT client keeps a housekeeping timer past the test; it is not ours."""
    return True


@pytest.fixture
def frigate_options() -> dict[str, Any]:
    """Events-mode options of the entry under test; tests parametrise this fixture."""
    return {}


@pytest.fixture
def options(frigate: StandinProcess, frigate_options: dict[str, Any]) -> dict[str, Any]:
    """Events mode on the stand-in; polls off so that only Frigate's messages fetch.

    No cooldown: one event per object must come from the follower, not from the cooldown.
    """
    return {
        CONF_FRIGATE_URL: frigate.url,
        CONF_FRIGATE_POLL_INTERVAL: 0,
        CONF_COOLDOWN: 0,
        **frigate_options,
    }


def jane(distance: int = 0, size: int = 150) -> bytes:
    """A frame with Jane's face `distance` RGB units off her colour (0: her own colour)."""
    colour = (JANE[0] - distance, JANE[1], JANE[2])
    return make_snapshot([FaceSpec(colour, 320, 240, size)], 640, 480)


def frigate_timers(hass: HomeAssistant) -> list[Any]:
    """Return the loop's pending timers that run events mode's `due` (async_call_later)."""
    return [
        handle
        for handle in hass.loop._scheduled  # type: ignore[attr-defined]
        if not handle.cancelled()
        and any(
            getattr(getattr(arg, "target", None), "__name__", "") == "_async_due"
            for arg in handle._args or ()
        )
    ]


def subscribed(hass: HomeAssistant, topic: str) -> int:
    """Return how many subscriptions HA's MQTT client holds for `topic`.

    `mqtt_mock` wraps the real client in a mock; the property is read on the real one.
    """
    client = hass.data["mqtt"].client
    real = getattr(client, "_mock_wraps", None) or client
    return sum(1 for subscription in real.subscriptions if subscription.topic == topic)


async def send(hass: HomeAssistant, frigate: StandinProcess, event_id: str, kind: str) -> None:
    """Publish the object's `frigate/events` message and let the fetches it starts finish."""
    payload = json.dumps(frigate.message(event_id, kind))
    async_fire_mqtt_message(hass, "frigate/events", payload)
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.mark.parametrize(
    "frigate_options",
    [{CONF_FRIGATE_WRITE_SUB_LABEL: True, CONF_FRIGATE_CONFIDENT_SCORE: 100}],
)
async def test_one_tracked_person_gives_one_event_and_one_write_with_the_best_score(
    hass: HomeAssistant, mqtt_mock: Any, frigate: StandinProcess, loaded_entry: MockConfigEntry
) -> None:
    """New + 3 updates + end: every picture is tried, one event at once, the best written."""
    events = async_capture_events(hass, EVENT_FACE)
    event_id = frigate.begin(CAMERA, jane(45))
    await send(hass, frigate, event_id, "new")
    assert len(events) == 1  # the first known face is announced at once
    for distance in (25, 0, 35):
        frigate.improve(event_id, jane(distance))
        await send(hass, frigate, event_id, "update")
    frigate.end(event_id)
    await send(hass, frigate, event_id, "end")

    assert len(frigate.snapshot_requests(event_id)) == 4
    assert all(q["bbox"] == "0" and q["timestamp"] == "0" for q in frigate.snapshot_requests())
    assert len(events) == 1
    data = events[0].data
    assert data["person"]["name"] == "Jane Doe"
    assert data["confidence"] == pytest.approx(0.85, abs=0.03)
    assert data["frigate"]["event_id"] == event_id
    assert data["frigate"]["correction"] is False
    writes = frigate.sub_label_writes()
    assert len(writes) == 1
    written_id, name, score = writes[0]
    assert (written_id, name) == (event_id, "Jane Doe")
    assert score is not None
    assert score >= 0.96  # the exact-colour picture (~0.98), not the first or the last (~0.88)


async def test_a_face_too_small_at_first_is_named_from_a_later_picture(
    hass: HomeAssistant, mqtt_mock: Any, frigate: StandinProcess, loaded_entry: MockConfigEntry
) -> None:
    """A far-away first snapshot shows no face; the update that does is announced."""
    events = async_capture_events(hass, EVENT_FACE)
    event_id = frigate.begin(CAMERA, jane(size=6), zones=["porch"])
    await send(hass, frigate, event_id, "new")
    assert events == []
    assert hass.states.get(FACE_COUNT).state == "unknown"  # no outcome while attempts remain
    frigate.improve(event_id, jane())
    await send(hass, frigate, event_id, "update")

    assert len(events) == 1
    frigate_ref = events[0].data["frigate"]
    assert frigate_ref["event_id"] == event_id
    assert frigate_ref["camera"] == CAMERA
    assert frigate_ref["label"] == "person"
    assert frigate_ref["zones"] == ["porch"]
    assert frigate_ref["url"] == f"{frigate.url}/explore?event_id={event_id}"
    assert events[0].data["camera"] == CAMERA
    state = hass.states.get(LAST_PERSON)
    assert state.state == "Jane Doe"
    assert state.attributes["frigate_event_id"] == event_id
    assert hass.states.get(FACE_COUNT).state == "1"


@pytest.mark.parametrize("frigate_options", [{CONF_FRIGATE_ZONES: ["front_door: porch"]}])
async def test_objects_count_only_once_in_a_required_zone(
    hass: HomeAssistant, mqtt_mock: Any, frigate: StandinProcess, loaded_entry: MockConfigEntry
) -> None:
    events = async_capture_events(hass, EVENT_FACE)
    event_id = frigate.begin(CAMERA, jane(), zones=["street"])
    await send(hass, frigate, event_id, "new")
    assert frigate.snapshot_requests() == []
    frigate.improve(event_id, jane(), zones=["porch"])
    await send(hass, frigate, event_id, "update")
    assert len(frigate.snapshot_requests(event_id)) == 1
    assert len(events) == 1


@pytest.mark.parametrize(
    ("frigate_options", "writes"),
    [
        pytest.param({CONF_FRIGATE_WRITE_SUB_LABEL: True}, 0, id="overwrite_off"),
        pytest.param(
            {CONF_FRIGATE_WRITE_SUB_LABEL: True, CONF_FRIGATE_OVERWRITE_SUB_LABEL: True},
            1,
            id="overwrite_on",
        ),
    ],
)
async def test_frigate_named_objects_keep_frigate_s_name_unless_told(
    hass: HomeAssistant,
    mqtt_mock: Any,
    frigate: StandinProcess,
    loaded_entry: MockConfigEntry,
    writes: int,
) -> None:
    """Frigate's own face recognition named the object: no write-back with overwrite off."""
    events = async_capture_events(hass, EVENT_FACE)
    event_id = frigate.begin(CAMERA, jane())
    async_fire_mqtt_message(hass, "frigate/events", json.dumps(frigate.message(event_id, "new")))
    update = frigate.face_update(event_id, "Jane Doe", 0.95)
    async_fire_mqtt_message(hass, "frigate/tracked_object_update", json.dumps(update))
    await hass.async_block_till_done(wait_background_tasks=True)

    assert len(events) == 1  # still announced: only the write-back is Frigate's business
    assert len(frigate.sub_label_writes()) == writes


@pytest.mark.parametrize("frigate_options", [{CONF_FRIGATE_SKIP_NAMED: True}])
async def test_objects_frigate_named_are_skipped_when_asked(
    hass: HomeAssistant, mqtt_mock: Any, frigate: StandinProcess, loaded_entry: MockConfigEntry
) -> None:
    event_id = frigate.begin(CAMERA, jane(size=6))
    await send(hass, frigate, event_id, "new")
    update = frigate.face_update(event_id, "Jane Doe", 0.95)
    async_fire_mqtt_message(hass, "frigate/tracked_object_update", json.dumps(update))
    frigate.improve(event_id, jane())
    await send(hass, frigate, event_id, "update")
    assert len(frigate.snapshot_requests(event_id)) == 1
    assert loaded_entry.runtime_data.frigate.skipped_named == 1


@pytest.mark.parametrize("frigate_options", [{CONF_FRIGATE_POLL_INTERVAL: 3}])
async def test_unload_cancels_the_timer_and_the_subscriptions(
    hass: HomeAssistant, mqtt_mock: Any, frigate: StandinProcess, loaded_entry: MockConfigEntry
) -> None:
    """Polls run on HA's timers while loaded; after unload nothing fetches any more."""
    event_id = frigate.begin(CAMERA, jane(size=6))
    await send(hass, frigate, event_id, "new")
    assert len(frigate.snapshot_requests(event_id)) == 1
    await advance(hass, 3.5)
    assert len(frigate.snapshot_requests(event_id)) == 2  # the poll timer fired
    assert len(frigate_timers(hass)) == 1  # the next poll
    assert subscribed(hass, "frigate/events") == 1
    assert subscribed(hass, "frigate/tracked_object_update") == 1

    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert loaded_entry.state is ConfigEntryState.NOT_LOADED
    assert frigate_timers(hass) == []
    assert subscribed(hass, "frigate/events") == 0
    assert subscribed(hass, "frigate/tracked_object_update") == 0
    await advance(hass, 60)
    other = frigate.begin(CAMERA, jane())
    await send(hass, frigate, other, "new")
    assert len(frigate.snapshot_requests()) == 2


async def test_a_better_match_of_someone_else_is_published_once_as_a_correction(
    hass: HomeAssistant, mqtt_mock: Any, frigate: StandinProcess, loaded_entry: MockConfigEntry
) -> None:
    events = async_capture_events(hass, EVENT_FACE)
    bob = SAMPLE_COLOURS["bob"]
    event_id = frigate.begin(
        CAMERA, make_snapshot([FaceSpec((bob[0] + 40, *bob[1:]), 320, 240, 150)])
    )
    await send(hass, frigate, event_id, "new")
    frigate.improve(event_id, jane())
    await send(hass, frigate, event_id, "update")

    assert [e.data["person"]["name"] for e in events] == ["Bob Smith", "Jane Doe"]
    assert [e.data["frigate"]["correction"] for e in events] == [False, True]
    assert hass.states.get(LAST_PERSON).state == "Jane Doe"


async def test_events_mode_logs_in_and_writes_as_an_admin(
    hass: HomeAssistant,
    mqtt_mock: Any,
    emulator: EmulatorProcess,
    frigate_auth: StandinProcess,
    hass_client: ClientSessionGenerator,
) -> None:
    """Port 8971: one login serves every call; the password never reaches diagnostics."""
    entry = await _setup_entry(
        hass,
        emulator,
        frigate_auth,
        {CONF_FRIGATE_USERNAME: "admin", CONF_FRIGATE_PASSWORD: FRIGATE_USERS["admin"][0]},
    )
    event_id = frigate_auth.begin(CAMERA, jane())
    await send(hass, frigate_auth, event_id, "new")
    assert frigate_auth.sub_label_writes() == [
        (event_id, "Jane Doe", pytest.approx(0.98, abs=0.02))
    ]
    logins = [r for r in frigate_auth.requests() if r[1] == "/api/login"]
    assert len(logins) == 1

    dump = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert FRIGATE_USERS["admin"][0] not in json.dumps(dump)
    assert dump["frigate"]["sub_labels"] == 1
    assert dump["frigate"]["fetches"] == 1
    assert dump["frigate"]["logins"] == 1
    await _unload(hass, entry)


async def test_frigate_s_session_cookie_never_reaches_the_shared_session(
    hass: HomeAssistant,
    mqtt_mock: Any,
    emulator: EmulatorProcess,
    frigate_auth: StandinProcess,
) -> None:
    """Other integrations (Frigate's own) share HA's session: our admin login stays ours."""
    login = {CONF_FRIGATE_USERNAME: "admin", CONF_FRIGATE_PASSWORD: FRIGATE_USERS["admin"][0]}
    entry = await _setup_entry(hass, emulator, frigate_auth, login)
    event_id = frigate_auth.begin(CAMERA, jane())
    await send(hass, frigate_auth, event_id, "new")
    assert [r for r in frigate_auth.requests() if r[1] == "/api/login"], "no login happened"
    events = entry.runtime_data.frigate
    assert events is not None
    session = events.client.session
    assert session is not async_get_clientsession(hass)
    assert isinstance(session.cookie_jar, aiohttp.DummyCookieJar)  # a name would be kept
    await _unload(hass, entry)


async def test_a_refused_write_is_not_retried_and_a_transient_one_is(
    hass: HomeAssistant,
    mqtt_mock: Any,
    emulator: EmulatorProcess,
    frigate_auth: StandinProcess,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A viewer may not write (403, given up at once); a 503 is retried after a pause."""
    monkeypatch.setattr(frigate_module, "FRIGATE_WRITE_BACKOFF", 0.01)
    entry = await _setup_entry(
        hass,
        emulator,
        frigate_auth,
        {CONF_FRIGATE_USERNAME: "viewer", CONF_FRIGATE_PASSWORD: FRIGATE_USERS["viewer"][0]},
    )
    event_id = frigate_auth.begin(CAMERA, jane())
    frigate_auth.fail_next(f"/api/events/{event_id}/sub_label", 503)
    await send(hass, frigate_auth, event_id, "new")
    posts = [r for r in frigate_auth.requests() if r[0] == "POST" and r[1].endswith("/sub_label")]
    assert len(posts) == 2  # the 503, then the 403
    assert frigate_auth.sub_label_writes() == []
    assert f"sub_label of Frigate object {event_id} not written" in caplog.text
    assert entry.runtime_data.frigate.counters.sub_label_failures == 1
    await _unload(hass, entry)


async def test_failures_cost_one_attempt_and_are_logged(
    hass: HomeAssistant,
    mqtt_mock: Any,
    emulator: EmulatorProcess,
    frigate: StandinProcess,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A picture Frigate cannot serve, then an engine failure; the next picture still counts."""
    events = async_capture_events(hass, EVENT_FACE)
    event_id = frigate.begin(CAMERA, jane())
    frigate.fail_next(f"/api/events/{event_id}/snapshot.jpg", 500)
    await send(hass, frigate, event_id, "new")
    assert f"picture of Frigate object {event_id} not fetched" in caplog.text
    emulator.admin("faults", {"error_rate": 1.0})
    frigate.improve(event_id, jane())
    await send(hass, frigate, event_id, "update")
    assert f"Frigate object {event_id} not recognised" in caplog.text
    emulator.admin("reset")
    frigate.improve(event_id, jane())
    await send(hass, frigate, event_id, "update")
    assert len(events) == 1
    assert loaded_entry.runtime_data.frigate.counters.fetch_failures == 1


async def test_messages_that_are_not_events_are_ignored(
    hass: HomeAssistant,
    mqtt_mock: Any,
    frigate: StandinProcess,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    event_id = frigate.begin(CAMERA, jane())
    async_fire_mqtt_message(
        hass, "frigate/events", json.dumps(frigate.message(event_id, "new")), retain=True
    )
    async_fire_mqtt_message(hass, "frigate/events", "not json")
    async_fire_mqtt_message(hass, "frigate/tracked_object_update", '{"type": "face"}')
    async_fire_mqtt_message(hass, "frigate/tracked_object_update", '{"type": "lpr", "id": "x"}')
    await hass.async_block_till_done(wait_background_tasks=True)
    assert "Frigate event on frigate/events ignored" in caplog.text
    assert "Frigate update on frigate/tracked_object_update ignored" in caplog.text
    assert frigate.snapshot_requests() == []
    assert loaded_entry.runtime_data.frigate.followed == 0


async def test_an_ended_object_never_fetched_gets_its_stored_snapshot(
    hass: HomeAssistant, mqtt_mock: Any, frigate: StandinProcess, loaded_entry: MockConfigEntry
) -> None:
    """Only the end came (the bridge was busy, say): the stored snapshot is tried once."""
    events = async_capture_events(hass, EVENT_FACE)
    event_id = frigate.begin(CAMERA, jane())
    frigate.end(event_id)
    await send(hass, frigate, event_id, "end")
    assert len(frigate.snapshot_requests(event_id)) == 1
    assert len(events) == 1


async def test_events_mode_needs_mqtt(
    hass: HomeAssistant,
    emulator: EmulatorProcess,
    frigate: StandinProcess,
    caplog: pytest.LogCaptureFixture,
) -> None:
    entry = await _setup_entry(hass, emulator, frigate, {})
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.frigate is None
    assert "events mode needs Home Assistant's MQTT integration" in caplog.text
    await _unload(hass, entry)


async def test_frigate_away_at_setup_does_not_stop_the_entry(
    hass: HomeAssistant,
    mqtt_mock: Any,
    emulator: EmulatorProcess,
    frigate: StandinProcess,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With no camera listed Frigate is asked for them; unreachable, none get entities yet."""
    away = frigate.url.rsplit(":", 1)[0] + f":{free_port()}"
    entry = await _setup_entry(hass, emulator, None, {}, {CONF_FRIGATE_URL: away})
    assert entry.state is ConfigEntryState.LOADED
    assert "Frigate's cameras could not be read" in caplog.text
    assert hass.states.get(LAST_PERSON) is None
    await _unload(hass, entry)


@pytest.mark.parametrize(
    "frigate_options",
    [{CONF_FRIGATE_CAMERAS: ["garden"]}, {CONF_FRIGATE_ZONES: ["porch"]}],
    ids=["listed_camera", "bad_zones"],
)
async def test_listed_cameras_and_bad_options(
    hass: HomeAssistant,
    mqtt_mock: Any,
    emulator: EmulatorProcess,
    frigate: StandinProcess,
    options: dict[str, Any],
) -> None:
    """Listed cameras are the only Frigate sources; options the form would refuse stop setup."""
    entry = await _setup_entry(hass, emulator, None, {}, options)
    if CONF_FRIGATE_ZONES in options:
        assert entry.state is ConfigEntryState.SETUP_ERROR
        return
    assert hass.states.get("sensor.garden_last_person") is not None
    assert hass.states.get(LAST_PERSON) is None
    await _unload(hass, entry)


async def _setup_entry(
    hass: HomeAssistant,
    emulator: EmulatorProcess,
    frigate: StandinProcess | None,
    frigate_data: dict[str, Any],
    options: dict[str, Any] | None = None,
) -> MockConfigEntry:
    """Set up an entry of its own (a Frigate login lives in the entry data)."""
    if options is None:
        assert frigate is not None
        options = {
            CONF_FRIGATE_URL: frigate.url,
            CONF_FRIGATE_POLL_INTERVAL: 0,
            CONF_FRIGATE_WRITE_SUB_LABEL: True,
        }
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="127.0.0.1",
        unique_id=f"{emulator.url}|{USERNAME}",
        data=entry_data(emulator, **frigate_data),
        options=options,
    )
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def _unload(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
