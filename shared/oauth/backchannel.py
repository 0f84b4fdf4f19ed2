"""Receiving OIDC Back-Channel Logout 1.0 notices (the relying-party side).

:meth:`LogoutTokenValidator.validate` checks a logout token as §2.6 demands:
signature against the provider's JWKS (fetched again, rate-limited, when a
``kid`` is unknown: :meth:`RelyingParty.decode_jwt`), ``iss``, ``aud``,
``iat``, the back-channel ``events`` member, ``sid`` or ``sub`` present, no
``nonce``, and ``jti`` not seen before (kept in the shared store, so any replica refuses a
replay).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shared.clock import Clock
from shared.kvstore import KeyValueStore
from shared.oauth.client import LoginFailed, RelyingParty
from shared.oauth.provider.provider import BACKCHANNEL_LOGOUT_EVENT

__all__ = ["LogoutTokenValidator", "LogoutTokenInvalid", "logout_receiver"]

log = logging.getLogger("oauth.backchannel")


class LogoutTokenInvalid(Exception):
    """Answered with 400 ``invalid_request`` (§2.8)."""


class LogoutTokenValidator:
    def __init__(self, *, rp: RelyingParty, kv: KeyValueStore, clock: Clock, max_age: int = 300) -> None:
        self.rp, self.kv, self.clock, self.max_age = rp, kv, clock, max_age

    async def validate(self, token: str) -> dict[str, Any]:
        try:
            decoded = await self.rp.decode_jwt(token, algorithms=await self.rp.provider_algorithms())
        except (JoseError, ValueError, LoginFailed) as exc:
            raise LogoutTokenInvalid(f"undecodable: {type(exc).__name__}") from exc
        claims = dict(decoded.claims)
        now = self.clock.timestamp()
        registry = jwt.JWTClaimsRegistry(
            now=now,
            leeway=60,
            iss={"essential": True, "value": self.rp.issuer},
            aud={"essential": True, "value": self.rp.app.client_id},
            iat={"essential": True},
            jti={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise LogoutTokenInvalid(str(exc)) from exc
        if now - int(claims["iat"]) > self.max_age:
            raise LogoutTokenInvalid("too old")
        events = claims.get("events")
        if not isinstance(events, dict) or BACKCHANNEL_LOGOUT_EVENT not in events:
            raise LogoutTokenInvalid("not a logout token")
        if "nonce" in claims or not (claims.get("sid") or claims.get("sub")):
            raise LogoutTokenInvalid("malformed logout token")
        key = f"logout-jti:{claims['iss']}:{claims['jti']}"
        if await run_in_threadpool(self.kv.incr, key, self.max_age * 2) > 1:
            raise LogoutTokenInvalid("replayed")
        return claims


def logout_receiver(
    validator: LogoutTokenValidator, end_session: Callable[[str], Any], *, source: str
) -> Callable[[Request], Awaitable[Response]]:
    """The POST endpoint of §2.5: validate the notice, then end this
    relying party's sessions for the provider's ``sid`` (run in a thread).
    A notice naming only ``sub`` ends nothing rather than every login of
    that subject; the providers here always name the session."""

    async def receive(request: Request) -> Response:
        headers = {"Cache-Control": "no-store"}
        token = (await request.form()).get("logout_token")
        if not isinstance(token, str) or not token:
            return JSONResponse({"error": "invalid_request"}, status_code=400, headers=headers)
        try:
            claims = await validator.validate(token)
        except LogoutTokenInvalid as exc:
            log.warning("back-channel logout refused", extra={"fields": {"source": source, "reason": str(exc)[:200]}})
            return JSONResponse({"error": "invalid_request"}, status_code=400, headers=headers)
        sid = claims.get("sid")
        if not sid:
            log.info("back-channel logout without sid ignored", extra={"fields": {"source": source}})
            return Response(status_code=200, headers=headers)
        result = await run_in_threadpool(end_session, str(sid))
        log.info(
            "back-channel logout", extra={"fields": {"source": source, "ended": result if isinstance(result, int) else len(result or [])}}
        )
        return Response(status_code=200, headers=headers)

    return receive
