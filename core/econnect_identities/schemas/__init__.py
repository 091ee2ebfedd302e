"""The JSON Schema of every payload the bridge publishes, and a validator for tests and tools.

The schema file ships in the package (`events.schema.json`) so Node-RED users and other
consumers can validate against the same document the tests use. `jsonschema` is only a dev
dependency: it is imported inside `validate_payload`, never by the running bridge.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

SCHEMA_FILE = "events.schema.json"
PAYLOAD_KINDS = (
    "recognition",
    "visit",
    "sighting",
    "error",
    "camera_state",
    "person_state",
    "tag_state",
    "subject_state",
    "here_state",
    "bridge_state",
)


@cache
def _schema_text() -> str:
    return resources.files(__name__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


def load_schema() -> dict[str, Any]:
    """Return a fresh copy of the schema (draft 2020-12); callers may modify it."""
    schema: dict[str, Any] = json.loads(_schema_text())
    return schema


def validate_payload(topic_kind: str, payload: dict[str, Any]) -> None:
    """Raise `jsonschema.ValidationError` unless `payload` matches the `topic_kind` definition.

    `topic_kind` is one of `PAYLOAD_KINDS` (the bridge's `Topics.kind_of` gets it from a
    topic); `"any"` checks against the top-level `oneOf`. An unknown kind is a ValueError.
    """
    import jsonschema

    schema = load_schema()
    if topic_kind != "any":
        if topic_kind not in schema["$defs"] or topic_kind not in PAYLOAD_KINDS:
            msg = f"unknown payload kind {topic_kind!r}; expected one of {PAYLOAD_KINDS}"
            raise ValueError(msg)
        schema = {**schema, "oneOf": [{"$ref": f"#/$defs/{topic_kind}"}]}
    jsonschema.Draft202012Validator(schema).validate(payload)
