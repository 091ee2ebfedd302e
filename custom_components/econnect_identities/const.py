"""Constants of the eConnect Identities integration: keys, defaults and limits in one place."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Final

from econnect_identities import policy
from econnect_identities.tracking import FollowPolicy

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
CONF_UNCERTAIN_CONFIDENCE: Final = "uncertain_min_confidence"
CONF_RULES: Final = "rules"
CONF_FACE_PICTURES: Final = "face_pictures"

# Defaults of the recognition policy the bridge uses too; the form shows thresholds in percent.
PERSON_SECTIONS: Final = policy.PERSON_SECTIONS
DEFAULT_PERSON_SECTIONS: Final = list(policy.DEFAULT_POLICY.person_sections)
DEFAULT_LARGEST_FACE_ONLY: Final = policy.DEFAULT_POLICY.largest_face_only
DEFAULT_MIN_CONFIDENCE: Final = policy.to_percent(policy.DEFAULT_POLICY.min_confidence)
DEFAULT_MIN_QUALITY: Final = policy.to_percent(policy.DEFAULT_POLICY.min_face_quality)
DEFAULT_COOLDOWN: Final = policy.DEFAULT_POLICY.cooldown
DEFAULT_PRESENCE_TIME: Final = policy.DEFAULT_POLICY.presence_timeout
# Face pictures are personal data: off until the user turns them on (the bridge's default too).
DEFAULT_FACE_PICTURES: Final = policy.DEFAULT_FACE_PICTURES
#: At most this many persons of the engine's roster get a face picture entity.
MAX_FACE_PERSONS: Final = 500
# The policy has no uncertain band by default; the form's 0 % means "no band".
DEFAULT_UNCERTAIN_CONFIDENCE: Final = policy.to_percent(
    policy.DEFAULT_POLICY.uncertain_min_confidence or 0.0
)

# Frigate's events mode (options; the user and password live in the entry data, like the
# engine's). Its defaults are the core's `FollowPolicy()`, which the bridge's schema reads too.
CONF_FRIGATE_URL: Final = "frigate_url"
CONF_FRIGATE_USERNAME: Final = "frigate_username"
CONF_FRIGATE_PASSWORD: Final = "frigate_password"  # noqa: S105 - a key, not a password
CONF_FRIGATE_PREFIX: Final = "frigate_topic_prefix"
CONF_FRIGATE_CAMERAS: Final = "frigate_cameras"
CONF_FRIGATE_LABELS: Final = "frigate_labels"
CONF_FRIGATE_ZONES: Final = "frigate_required_zones"
CONF_FRIGATE_MAX_ATTEMPTS: Final = "frigate_max_attempts"
CONF_FRIGATE_MAX_SECONDS: Final = "frigate_max_seconds"
CONF_FRIGATE_POLL_INTERVAL: Final = "frigate_poll_interval"
CONF_FRIGATE_CONFIDENT_SCORE: Final = "frigate_confident_score"
CONF_FRIGATE_WRITE_SUB_LABEL: Final = "frigate_write_sub_label"
CONF_FRIGATE_SUB_LABEL_MIN_SCORE: Final = "frigate_sub_label_min_score"
CONF_FRIGATE_OVERWRITE_SUB_LABEL: Final = "frigate_overwrite_sub_label"
CONF_FRIGATE_SKIP_NAMED: Final = "frigate_skip_named"

FOLLOW_DEFAULTS: Final = FollowPolicy()
DEFAULT_FRIGATE_PREFIX: Final = "frigate"
DEFAULT_FRIGATE_LABELS: Final = sorted(FOLLOW_DEFAULTS.labels)
DEFAULT_FRIGATE_MAX_ATTEMPTS: Final = FOLLOW_DEFAULTS.max_attempts
DEFAULT_FRIGATE_MAX_SECONDS: Final = FOLLOW_DEFAULTS.max_seconds
DEFAULT_FRIGATE_POLL_INTERVAL: Final = FOLLOW_DEFAULTS.poll_interval
DEFAULT_FRIGATE_CONFIDENT_SCORE: Final = policy.to_percent(FOLLOW_DEFAULTS.confident_score)
DEFAULT_FRIGATE_WRITE_SUB_LABEL: Final = FOLLOW_DEFAULTS.write_sub_label
DEFAULT_FRIGATE_SUB_LABEL_MIN_SCORE: Final = policy.to_percent(FOLLOW_DEFAULTS.sub_label_min_score)
DEFAULT_FRIGATE_OVERWRITE_SUB_LABEL: Final = FOLLOW_DEFAULTS.overwrite_sub_label
DEFAULT_FRIGATE_SKIP_NAMED: Final = FOLLOW_DEFAULTS.skip_named
# Sub_label writes tried per object, and the pause before the first retry (doubled each time).
FRIGATE_WRITE_TRIES: Final = 3
FRIGATE_WRITE_BACKOFF: Final = 1.0

# A token renewal every minute tells whether the engine is reachable (appropriate-polling);
# it signs in only when no valid token is held or the engine refuses it.
HEALTH_INTERVAL: Final = timedelta(seconds=60)
CAMERA_IMAGE_TIMEOUT: Final = 10
REQUEST_TIMEOUT: Final = 15.0
CONNECT_TIMEOUT: Final = 5.0

# Bus event fired once per recognised person and camera per cooldown window: the shared
# `person_seen` sighting, plus the keys it carried before the shared schema (kept for automations).
EVENT_FACE: Final = f"{DOMAIN}_face"
EVENT_FACE_LEGACY_KEYS: Final = ("entry_id", "camera_entity_id", "name", "person_id", "tags")

# Action.
SERVICE_RECOGNIZE: Final = "recognize"
ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
ATTR_CAMERA_ENTITY_ID: Final = "camera_entity_id"
ATTR_FILE_PATH: Final = "file_path"
ATTR_CAMERA: Final = "camera"

# Repair issue ids (suffixed with the entry id).
ISSUE_MISSING_PERMISSION: Final = "missing_permission"
ISSUE_TLS_DISABLED: Final = "tls_verification_disabled"
