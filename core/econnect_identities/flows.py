"""Multi-step exchanges written once, as generators that both drivers run.

A flow yields what it needs, and the driver sends back the answer (the httpx `auth_flow`
shape). `operation_flow` yields `NeedToken` or an `HttpRequest`; `token_flow` yields only
`HttpRequest`s. The drivers contain no status checks: every decision is here or in `tokens.py`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from econnect_identities import protocol
from econnect_identities.errors import EconnectAuthenticationError
from econnect_identities.protocol import HttpRequest, HttpResponse
from econnect_identities.tokens import TokenAction, TokenState

T = TypeVar("T")

UNAUTHORIZED = 401


@dataclass(frozen=True, slots=True)
class NeedToken:
    """Ask the driver for a usable token; `stale` is the one the engine just refused."""

    stale: str | None = None


@dataclass(frozen=True, slots=True)
class Operation(Generic[T]):
    """One API call: how to build it from a token and how to read its reply."""

    name: str
    build: Callable[[str], HttpRequest]
    parse: Callable[[HttpResponse], T]


Step = HttpRequest | NeedToken
OperationFlow = Generator[Step, Any, T]
TokenFlow = Generator[HttpRequest, HttpResponse, str]


def operation_flow(operation: Operation[T], *, can_reauthenticate: bool) -> OperationFlow[T]:
    """Run one call; on a 401, get a fresh token once and retry once."""
    token = cast(str, (yield NeedToken()))
    response = cast(HttpResponse, (yield operation.build(token)))
    if response.status == UNAUTHORIZED and can_reauthenticate:
        token = cast(str, (yield NeedToken(stale=token)))
        response = cast(HttpResponse, (yield operation.build(token)))
    return operation.parse(response)


def token_flow(state: TokenState, now: float, stale: str | None = None) -> TokenFlow:
    """Return a usable token, renewing or signing in only when `state.decide` says so."""
    action = state.decide(now, stale)
    if action is TokenAction.REUSE and state.token is not None:
        return state.token
    if action is TokenAction.RENEW and state.token is not None:
        response = yield protocol.build_renew(state.token)
        if response.status != UNAUTHORIZED:
            token = protocol.parse_token(response)
            state.accept(token, now, renewed=True)
            return token
        # The engine no longer honours the token: sign in again below.
    wait = state.sign_in_wait(now)
    if wait > 0:
        msg = (
            f"The engine refused the password of {state.username!r}; not signing in again for "
            f"{wait:.0f} s, so as not to lock the account. Check api.username and api.password."
        )
        raise EconnectAuthenticationError(msg, status=UNAUTHORIZED)
    response = yield protocol.build_authenticate(state.username or "", state.password or "")
    if response.status == UNAUTHORIZED:
        state.sign_in_refused(now)
    token = protocol.parse_token(response)
    state.accept(token, now, renewed=False)
    return token


S = TypeVar("S")


def drive(flow: Generator[S, Any, T], answer: Callable[[S], Any]) -> T:
    """Run a flow to its end, answering each step with `answer` (the synchronous driver)."""
    reply: Any = None
    while True:
        try:
            step = flow.send(reply)
        except StopIteration as done:
            result: T = done.value
            return result
        reply = answer(step)


async def drive_async(flow: Generator[S, Any, T], answer: Callable[[S], Awaitable[Any]]) -> T:
    """Run a flow to its end, awaiting `answer` for each step (the asynchronous driver)."""
    reply: Any = None
    while True:
        try:
            step = flow.send(reply)
        except StopIteration as done:
            result: T = done.value
            return result
        reply = await answer(step)
