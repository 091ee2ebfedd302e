"""The eConnect Identities protocol, free of I/O, shared by the bridge and the integration.

Drivers live beside it and are imported explicitly: `bridge.econnect.client.EconnectClient`
(requests, threads) and `bridge.econnect.aio.AsyncEconnectClient` (aiohttp, asyncio).
"""

from bridge.econnect.errors import (
    EconnectAuthenticationError,
    EconnectBadRequestError,
    EconnectConnectionError,
    EconnectError,
    EconnectPermissionError,
    EconnectProtocolError,
    EconnectResponseError,
    EconnectServerError,
    EconnectTimeoutError,
    EconnectTLSError,
)
from bridge.econnect.models import (
    Alias,
    BoundingBox,
    DetectedFace,
    EntityField,
    Outcome,
    Person,
    PersonTag,
    PublishOptions,
    PublishRequest,
    RecognitionResult,
    Tag,
)
from bridge.econnect.protocol import HttpRequest, HttpResponse

__all__ = [
    "Alias",
    "BoundingBox",
    "DetectedFace",
    "EconnectAuthenticationError",
    "EconnectBadRequestError",
    "EconnectConnectionError",
    "EconnectError",
    "EconnectPermissionError",
    "EconnectProtocolError",
    "EconnectResponseError",
    "EconnectServerError",
    "EconnectTLSError",
    "EconnectTimeoutError",
    "EntityField",
    "HttpRequest",
    "HttpResponse",
    "Outcome",
    "Person",
    "PersonTag",
    "PublishOptions",
    "PublishRequest",
    "RecognitionResult",
    "Tag",
]
