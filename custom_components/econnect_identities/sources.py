"""What starts a recognition without the action: trigger sensors and MQTT snapshot topics.

MQTT snapshots are decoded by the core's `payloads` module, the bridge's own decoder, so a topic
that feeds the bridge can feed the integration: raw JPEG/PNG/WebP bytes, a JSON object with a
base64 image under `image`, or a data URI, told apart by their first bytes.
"""

from __future__ import annotations

from collections.abc import Callable

from homeassistant.const import STATE_ON
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.event import async_track_state_change_event

from econnect_identities.payloads import PayloadError, PayloadFormat, decode_payload

from .const import LOGGER
from .data import EconnectConfigEntry

# Auto-detection with the bridge's defaults: the image under `image`, at most 10 MiB.
MQTT_PAYLOAD_FORMAT = PayloadFormat()


def async_setup_triggers(hass: HomeAssistant, entry: EconnectConfigEntry) -> None:
    """Recognise every watched camera when a trigger binary sensor turns on."""
    recognizer = entry.runtime_data.recognizer
    triggers = recognizer.options.triggers
    if not triggers or not recognizer.options.cameras:
        return

    @callback
    def _async_changed(event: Event[EventStateChangedData]) -> None:
        new, old = event.data["new_state"], event.data["old_state"]
        if new is None or new.state != STATE_ON or (old is not None and old.state == STATE_ON):
            return
        entry.async_create_background_task(
            hass, recognizer.async_recognize_all(), f"econnect recognition {new.entity_id}"
        )

    entry.async_on_unload(async_track_state_change_event(hass, list(triggers), _async_changed))


async def async_setup_mqtt(hass: HomeAssistant, entry: EconnectConfigEntry) -> None:
    """Subscribe to the snapshot topics through HA's MQTT integration, when it is set up.

    The MQTT import stays inside: the integration must load without MQTT configured.
    """
    recognizer = entry.runtime_data.recognizer
    topics = recognizer.options.mqtt_topics
    if not topics or "mqtt" not in hass.config.components:
        return
    from homeassistant.components import mqtt

    def _handler(topic: str) -> Callable[[mqtt.ReceiveMessage], None]:
        @callback
        def _async_message(msg: mqtt.ReceiveMessage) -> None:
            if msg.retain or not isinstance(msg.payload, bytes) or not msg.payload:
                return  # a retained snapshot is old news, not a visitor
            entry.async_create_background_task(
                hass, _async_recognize(topic, msg.payload), f"econnect recognition {topic}"
            )

        return _async_message

    async def _async_recognize(topic: str, payload: bytes) -> None:
        try:
            image = decode_payload(payload, MQTT_PAYLOAD_FORMAT).image
        except PayloadError as err:
            LOGGER.warning("Snapshot on %s ignored (%s): %s", topic, err.code, err)
            return
        try:
            await recognizer.async_recognize_image(topic, image)
        except HomeAssistantError as err:
            LOGGER.warning("Recognition of a snapshot on %s failed: %s", topic, err)

    for topic in topics:
        unsubscribe = await mqtt.async_subscribe(hass, topic, _handler(topic), encoding=None)
        entry.async_on_unload(unsubscribe)
