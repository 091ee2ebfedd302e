"""Token decisions and the 401 → sign in once → retry once flow, driven by hand."""

from __future__ import annotations

import base64
import json

import pytest

from econnect_identities.errors import EconnectAuthenticationError
from econnect_identities.flows import NeedToken, drive, operation_flow, token_flow
from econnect_identities.operations import publish_request, recognition_operation
from econnect_identities.protocol import HttpRequest, HttpResponse
from econnect_identities.tokens import TokenAction, TokenState, read_claims


def jwt(iat: float | None = None, exp: float | None = None, name: str = "u") -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    claims: dict[str, object] = {"unique_name": name}
    if iat is not None:
        claims["iat"] = iat
    if exp is not None:
        claims["exp"] = exp
    return f"{part({'alg': 'HS256'})}.{part(claims)}.sig"


def token_reply(token: str) -> HttpResponse:
    return HttpResponse(200, json.dumps({"username": "u", "token": token}).encode())


def test_claims_read_without_verification() -> None:
    claims = read_claims(jwt(iat=100, exp=160))
    assert (claims.issued_at, claims.expires_at) == (100.0, 160.0)
    assert read_claims("garbage").expires_at is None


def test_decisions_over_a_token_lifetime() -> None:
    state = TokenState(username="u", password="p")
    assert state.decide(0) is TokenAction.AUTHENTICATE
    state.accept(jwt(iat=1000, exp=1100), 1000, renewed=False)
    assert state.decide(1010) is TokenAction.REUSE
    assert state.decide(1080) is TokenAction.RENEW  # last quarter of a 100 s lifetime
    assert state.decide(1100) is TokenAction.AUTHENTICATE  # expired: renewal needs a valid one


def test_long_tokens_renew_a_minute_ahead() -> None:
    state = TokenState(username="u", password="p")
    state.accept(jwt(iat=0, exp=3600), 0, renewed=False)
    assert state.decide(3530) is TokenAction.REUSE
    assert state.decide(3545) is TokenAction.RENEW


def test_token_without_exp_is_reused_until_refused() -> None:
    state = TokenState(username="u", password="p")
    token = jwt()
    state.accept(token, 0, renewed=False)
    assert state.decide(10**9) is TokenAction.REUSE
    assert state.decide(10**9, stale=token) is TokenAction.AUTHENTICATE
    assert state.decide(10**9, stale="someone-elses-old-token") is TokenAction.REUSE


def test_static_token_never_signs_in() -> None:
    state = TokenState(static_token="static")
    assert state.decide(0) is TokenAction.REUSE
    assert not state.can_reauthenticate


def test_credentials_are_required() -> None:
    with pytest.raises(ValueError, match="username and password"):
        TokenState(username="u")


def test_repr_hides_password_and_token() -> None:
    state = TokenState(username="u", password="hunter2")
    state.accept(jwt(exp=99), 0, renewed=False)
    assert "hunter2" not in repr(state)
    assert state.token is not None
    assert state.token not in repr(state)


def test_renewal_uses_renew_endpoint_and_counts() -> None:
    state = TokenState(username="u", password="p")
    state.accept(jwt(iat=0, exp=100), 0, renewed=False)
    fresh = jwt(iat=90, exp=190)
    seen: list[HttpRequest] = []

    def answer(request: HttpRequest) -> HttpResponse:
        seen.append(request)
        return token_reply(fresh)

    assert drive(token_flow(state, 90), answer) == fresh
    assert [r.path for r in seen] == ["/api/v1/renewToken"]
    assert state.renewals == 1


def test_renewal_refused_falls_back_to_sign_in() -> None:
    state = TokenState(username="u", password="p")
    state.accept(jwt(iat=0, exp=100), 0, renewed=False)
    replies = iter([HttpResponse(401), token_reply(jwt(iat=95, exp=195))])
    seen: list[str] = []

    def answer(request: HttpRequest) -> HttpResponse:
        seen.append(request.path)
        return next(replies)

    drive(token_flow(state, 95), answer)
    assert seen == ["/api/v1/renewToken", "/api/v1/authenticate"]
    assert state.authentications == 2


def _operation() -> object:
    return recognition_operation(publish_request(b"img", "cam", "UTC", None, None))


def test_a_401_signs_in_again_once_and_retries_once() -> None:
    steps: list[object] = []
    replies = iter([HttpResponse(401), HttpResponse(200, b'{"detectedFaces": []}')])

    def answer(step: object) -> object:
        steps.append(step)
        if isinstance(step, NeedToken):
            return "t2" if step.stale else "t1"
        return next(replies)

    result = drive(operation_flow(_operation(), can_reauthenticate=True), answer)  # type: ignore[arg-type]
    assert result.outcome == "no_face"
    kinds = [type(s).__name__ for s in steps]
    assert kinds == ["NeedToken", "HttpRequest", "NeedToken", "HttpRequest"]
    assert steps[2] == NeedToken(stale="t1")
    assert steps[3].headers["Authorization"] == "Bearer t2"  # type: ignore[attr-defined]


def test_a_second_401_is_an_authentication_error() -> None:
    def answer(step: object) -> object:
        return "t" if isinstance(step, NeedToken) else HttpResponse(401)

    with pytest.raises(EconnectAuthenticationError):
        drive(operation_flow(_operation(), can_reauthenticate=True), answer)  # type: ignore[arg-type]


def test_static_token_401_is_not_retried() -> None:
    calls: list[object] = []

    def answer(step: object) -> object:
        calls.append(step)
        return "t" if isinstance(step, NeedToken) else HttpResponse(401)

    with pytest.raises(EconnectAuthenticationError):
        drive(operation_flow(_operation(), can_reauthenticate=False), answer)  # type: ignore[arg-type]
    assert len(calls) == 2


def test_refused_sign_ins_back_off_so_the_account_is_not_locked() -> None:
    state = TokenState(username="u", password="old")
    attempts: list[str] = []

    def refuse(request: HttpRequest) -> HttpResponse:
        attempts.append(request.path)
        return HttpResponse(401, b"bad password")

    with pytest.raises(EconnectAuthenticationError, match="401"):
        drive(token_flow(state, 100.0), refuse)
    for moment in (100.5, 102.0, 104.9):  # inside the first 5 s: no request at all
        with pytest.raises(EconnectAuthenticationError, match="not signing in again"):
            drive(token_flow(state, moment), refuse)
    assert attempts == ["/api/v1/authenticate"]
    with pytest.raises(EconnectAuthenticationError):
        drive(token_flow(state, 105.0), refuse)  # second refusal: now 10 s
    assert state.sign_in_wait(105.0) == 10.0
    assert drive(token_flow(state, 115.0), lambda _r: token_reply(jwt(exp=9999))) is not None
    assert state.sign_in_wait(115.0) == 0.0
