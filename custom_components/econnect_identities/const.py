"""Constants of the eConnect Identities integration: keys, defaults and limits in one place."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Final

DOMAIN: Final = "econnect_identities"
LOGGER = logging.getLogger(__package__)

# Entry data (set up in the config flow; secrets live here, never in options).
CONF_CA_FILE: Final = "ca_file"

# Options (changed at any time in the options flow; a change reloads the entry).
CONF_CAMERAS: Final = "cameras"
CONF_MQTT_TOPICS: Final = "mqtt_topics"
CONF_TRIGGERS: Final = "triggers"
CONF_LARGEST_FACE_ONLY: Final = "largest_face_only"
CONF_PERSON_SECTIONS: Final = "person_sections"
CONF_MIN_CONFIDENCE: Final = "min_confidence"
CONF_MIN_QUALITY: Final = "min_quality"
CONF_COOLDOWN: Final = "cooldown"
CONF_PRESENCE_TIME: Final = "presence_time"
CONF_PRESENCE_TAGS: Final = "presence_tags"

PERSON_SECTIONS: Final = ("names", "tags", "fields", "addresses")
DEFAULT_PERSON_SECTIONS: Final = ["names", "tags"]
DEFAULT_LARGEST_FACE_ONLY: Final = False
DEFAULT_MIN_CONFIDENCE: Final = 0.0
DEFAULT_MIN_QUALITY: Final = 0.0
DEFAULT_COOLDOWN: Final = 30.0
DEFAULT_PRESENCE_TIME: Final = 120.0

# A cheap sign-in every minute tells whether the engine is reachable (appropriate-polling).
HEALTH_INTERVAL: Final = timedelta(seconds=60)
CAMERA_IMAGE_TIMEOUT: Final = 10
REQUEST_TIMEOUT: Final = 15.0
CONNECT_TIMEOUT: Final = 5.0

# Bus event fired once per recognised person and camera per cooldown window.
EVENT_FACE: Final = f"{DOMAIN}_face"

# Action.
SERVICE_RECOGNIZE: Final = "recognize"
ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
ATTR_CAMERA_ENTITY_ID: Final = "camera_entity_id"
ATTR_FILE_PATH: Final = "file_path"

# Repair issue ids (suffixed with the entry id).
ISSUE_MISSING_PERMISSION: Final = "missing_permission"
ISSUE_TLS_DISABLED: Final = "tls_verification_disabled"
