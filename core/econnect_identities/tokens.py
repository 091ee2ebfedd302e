"""When to reuse, renew or fetch the JWT: the decision, with no I/O and no clock of its own.

The token lifetime is undocumented. A JWT normally carries `exp` (and `iat`); we read them
without verifying the signature (only the engine can) to renew ahead of expiry. A token without
`exp` is reused until the engine answers 401.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from enum import Enum

#: Renew when this share of the token's lifetime is left...
RENEW_FRACTION = 0.25
#: ...but never earlier than this many seconds before expiry.
MAX_RENEW_MARGIN = 60.0
#: After the engine refuses the password, wait this long before signing in again, doubling
#: with each refusal up to the maximum: an account with lockout must not be locked by us.
SIGN_IN_BACKOFF = 5.0
MAX_SIGN_IN_BACKOFF = 300.0


class TokenAction(Enum):
    """What the driver must do before the next call."""

    REUSE = "reuse"
    RENEW = "renew"
    AUTHENTICATE = "authenticate"


@dataclass(frozen=True, slots=True)
class Claims:
    """The two timing claims we rely on (seconds since the epoch)."""

    issued_at: float | None = None
    expires_at: float | None = None


def read_claims(token: str) -> Claims:
    """Read `iat` and `exp` from a JWT without verifying it; unreadable claims are absent."""
    try:
        payload = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return Claims()
    if not isinstance(data, dict):
        return Claims()
    return Claims(issued_at=_seconds(data.get("iat")), expires_at=_seconds(data.get("exp")))


def _seconds(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


@dataclass(slots=True)
class TokenState:
    """The credentials and the current token shared by every caller of one client.

    Not thread-safe by itself: the drivers hold a lock while a token flow runs, so that one
    renewal serves every waiting thread.
    """

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    static_token: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    claims: Claims = field(default_factory=Claims)
    received_at: float = 0.0
    authentications: int = 0
    renewals: int = 0
    sign_in_refusals: int = 0
    sign_in_blocked_until: float = 0.0

    def __post_init__(self) -> None:
        if self.static_token:
            self.token = self.static_token
        elif not (self.username and self.password):
            raise ValueError("give either a username and password, or a static token")

    @property
    def can_reauthenticate(self) -> bool:
        """Return whether a 401 can be answered by signing in again."""
        return self.static_token is None

    def decide(self, now: float, stale: str | None = None) -> TokenAction:
        """Choose the next step given the time and, after a 401, the token that was refused."""
        if self.static_token is not None:
            return TokenAction.REUSE
        if self.token is None:
            return TokenAction.AUTHENTICATE
        if stale is not None:
            # Another caller may already have replaced the refused token.
            return TokenAction.AUTHENTICATE if stale == self.token else TokenAction.REUSE
        expires_at = self.claims.expires_at
        if expires_at is None:
            return TokenAction.REUSE
        if now >= expires_at:
            return TokenAction.AUTHENTICATE
        if now >= expires_at - self._renew_margin():
            return TokenAction.RENEW
        return TokenAction.REUSE

    def _renew_margin(self) -> float:
        issued_at = self.claims.issued_at
        expires_at = self.claims.expires_at or 0.0
        lifetime = expires_at - (issued_at if issued_at is not None else self.received_at)
        return min(MAX_RENEW_MARGIN, max(lifetime, 0.0) * RENEW_FRACTION)

    def sign_in_wait(self, now: float) -> float:
        """Return how many seconds must pass before the next sign-in attempt (0: go ahead)."""
        return max(0.0, self.sign_in_blocked_until - now)

    def sign_in_refused(self, now: float) -> None:
        """The engine refused the password: hold further attempts off, longer each time."""
        self.sign_in_refusals += 1
        wait = SIGN_IN_BACKOFF * 2 ** (self.sign_in_refusals - 1)
        self.sign_in_blocked_until = now + min(MAX_SIGN_IN_BACKOFF, wait)

    def accept(self, token: str, now: float, *, renewed: bool) -> None:
        """Store a token the engine just issued."""
        self.token = token
        self.claims = read_claims(token)
        self.received_at = now
        if renewed:
            self.renewals += 1
        else:
            self.authentications += 1
            self.sign_in_refusals = 0
            self.sign_in_blocked_until = 0.0
