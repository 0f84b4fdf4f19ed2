"""Receiving OIDC Back-Channel Logout 1.0 notices (the relying-party side).

:meth:`LogoutTokenValidator.validate` checks a logout token as §2.6 demands:
signature against the provider's JWKS, ``iss``, ``aud``, ``iat``, the
back-channel ``events`` member, ``sid`` or ``sub`` present, no ``nonce``, and
``jti`` not seen before (kept in the shared store, so any replica refuses a
replay).
"""

from __future__ import annotations

from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.concurrency import run_in_threadpool

from shared.clock import Clock
from shared.kvstore import KeyValueStore
from shared.oauth.client import LoginFailed, RelyingParty
from shared.oauth.provider.provider import BACKCHANNEL_LOGOUT_EVENT

__all__ = ["LogoutTokenValidator", "LogoutTokenInvalid"]


class LogoutTokenInvalid(Exception):
    """Answered with 400 ``invalid_request`` (§2.8)."""


class LogoutTokenValidator:
    def __init__(self, *, rp: RelyingParty, kv: KeyValueStore, clock: Clock, max_age: int = 300) -> None:
        self.rp, self.kv, self.clock, self.max_age = rp, kv, clock, max_age

    async def validate(self, token: str) -> dict[str, Any]:
        try:
            jwks = KeySet.import_key_set(await self.rp.app.fetch_jwk_set())
            decoded = jwt.decode(token, jwks, algorithms=["RS256"])
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
