"""HS256 JSON Web Tokens, minted and verified with the standard library only.

The vendor's tokens are HS256 JWTs carrying a ``unique_name`` claim. The emulator adds
``iat`` and ``exp`` (the lifetime is not documented, so it is a gallery setting) and a random
``jti`` so that a renewal inside the same second still yields a different token. Nothing here
ever logs or formats a token: callers get the string back and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import time
import uuid
from typing import Any

__all__ = ["TokenError", "mint_token", "verify_token"]

_HEADER = {"alg": "HS256", "typ": "JWT"}


class TokenError(ValueError):
    """The token is missing, malformed, forged or expired (the server answers 401)."""


def _b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.urlsafe_b64decode(padded.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as err:
        raise TokenError("token segment is not base64url") from err


def _sign(signing_input: bytes, secret: bytes) -> str:
    return _b64url_encode(hmac.new(secret, signing_input, hashlib.sha256).digest())


def mint_token(username: str, secret: bytes, lifetime: float, now: float | None = None) -> str:
    """Create a signed token for ``username``.

    Args:
        username: Goes into the ``unique_name`` claim, as the vendor's tokens do.
        secret: The HMAC key; only the emulator that minted the token can verify it.
        lifetime: Seconds of validity. ``exp`` is ``ceil(now + lifetime)`` so that a
            one-second lifetime never rounds down to an already expired token.
        now: The current time (seconds since the epoch); injectable for tests.

    Returns:
        The compact JWT ``header.claims.signature``.
    """
    issued = time.time() if now is None else now
    claims = {
        "unique_name": username,
        "iat": int(issued),
        "exp": math.ceil(issued + lifetime),
        "jti": uuid.uuid4().hex,
    }
    head = _b64url_encode(json.dumps(_HEADER, separators=(",", ":")).encode())
    body = _b64url_encode(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{head}.{body}".encode("ascii")
    return f"{head}.{body}.{_sign(signing_input, secret)}"


def verify_token(token: str, secret: bytes, now: float | None = None) -> dict[str, Any]:
    """Check the signature and expiry of ``token`` and return its claims.

    Raises:
        TokenError: when the token is malformed, signed with another key or algorithm,
            or its ``exp`` is not in the future.
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("token is not three dot-separated segments")
    try:
        signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
    except UnicodeEncodeError as err:
        raise TokenError("token is not ASCII") from err
    if not hmac.compare_digest(_sign(signing_input, secret), parts[2]):
        raise TokenError("bad signature")
    header = _decode_json(parts[0])
    if header.get("alg") != "HS256":
        raise TokenError("unexpected algorithm")
    claims = _decode_json(parts[1])
    exp = claims.get("exp")
    current = time.time() if now is None else now
    if not isinstance(exp, int | float) or isinstance(exp, bool) or current >= exp:
        raise TokenError("token expired")
    if not isinstance(claims.get("unique_name"), str):
        raise TokenError("token has no unique_name")
    return claims


def _decode_json(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64url_decode(segment))
    except (ValueError, UnicodeDecodeError) as err:
        raise TokenError("token segment is not JSON") from err
    if not isinstance(value, dict):
        raise TokenError("token segment is not a JSON object")
    return value
