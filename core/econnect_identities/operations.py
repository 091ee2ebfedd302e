"""The API calls the clients make, each as an `Operation` (build from a token, parse a reply).

Both drivers take their operations from here, so a call is described once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from econnect_identities import protocol
from econnect_identities.flows import Operation
from econnect_identities.models import (
    Person,
    PublishOptions,
    PublishRequest,
    RecognitionResult,
    Tag,
)


def publish_request(
    image: bytes,
    detector_name: str,
    time_zone: str,
    detect_time: datetime | None,
    options: PublishOptions | None,
) -> PublishRequest:
    """Gather a publish call's arguments, letting the request default the detection time."""
    kwargs: dict[str, Any] = {}
    if detect_time is not None:
        kwargs["detect_time"] = detect_time
    return PublishRequest(
        image=image,
        detector_name=detector_name,
        time_zone=time_zone,
        options=options or PublishOptions(),
        **kwargs,
    )


def recognition_operation(request: PublishRequest) -> Operation[RecognitionResult]:
    """Describe a `publishWithResponse` call."""
    return Operation(
        "publishWithResponse",
        lambda token: protocol.build_publish(request, token, with_response=True),
        protocol.parse_recognition_response,
    )


def publish_operation(request: PublishRequest) -> Operation[None]:
    """Describe a fire-and-forget `publish` call."""
    return Operation(
        "publish",
        lambda token: protocol.build_publish(request, token, with_response=False),
        protocol.parse_publish_ack,
    )


def tags_operation() -> Operation[tuple[Tag, ...]]:
    """Describe a `GET /api/v1/Tags` call."""
    return Operation("tags", protocol.build_tags, protocol.parse_tags_response)


def people_operation(tag_id: str) -> Operation[tuple[Person, ...]]:
    """Describe a `GET /api/v1/people?tagId=` call."""
    return Operation(
        "people",
        lambda token: protocol.build_people(token, tag_id),
        protocol.parse_people_response,
    )
