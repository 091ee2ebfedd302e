"""The eConnect Identities protocol, free of I/O, shared by the bridge and the integration.

Drivers live beside it and are imported explicitly: `econnect_bridge.client.EconnectClient`
(requests, threads) and `econnect_identities.aio.AsyncEconnectClient` (aiohttp, asyncio).
"""

from econnect_identities.errors import (
    EconnectAuthenticationError,
    EconnectBadRequestError,
    EconnectConnectionError,
    EconnectError,
    EconnectPermissionError,
    EconnectProtocolError,
    EconnectResponseError,
    EconnectServerError,
    EconnectStrictTLSError,
    EconnectTimeoutError,
    EconnectTLSError,
)
from econnect_identities.models import (
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
from econnect_identities.protocol import HttpRequest, HttpResponse

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
    "EconnectStrictTLSError",
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
