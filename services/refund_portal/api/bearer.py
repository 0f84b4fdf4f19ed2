"""The API's bearer token: an active hrss_isso access token, at L2 or higher,
issued with a scope the endpoint accepts. One check for both ways a request
arrives (the fast lane and FastAPI's dependency, :mod:`..deps`)."""

from __future__ import annotations

from typing import Any

from services.refund_portal.admission import (
    ScopeNeed,
    admitted,
    insufficient_challenge,
    insufficient_scope_challenge,
    invalid_token_challenge,
)
from shared.kvstore import StoreUnavailable
from shared.oauth.introspection import IntrospectionUnavailable, TokenIntrospector
from shared.trust import TrustLevel

__all__ = ["BearerRefused", "bearer_token", "token_claims"]


class BearerRefused(Exception):
    """The API's own answer to a token that will not do: the JSON body and the
    RFC 6750 / RFC 9470 ``WWW-Authenticate`` challenge, as they are sent."""

    def __init__(self, status_code: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        super().__init__(body.get("error"))
        self.status_code = status_code
        self.body = body
        self.headers = headers


def bearer_token(authorization: str | None) -> str | None:
    scheme, _, value = (authorization or "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


async def token_claims(authorization: str | None, introspector: TokenIntrospector, need: ScopeNeed) -> dict[str, Any]:
    """The token's claims when it will do for ``need``; otherwise :class:`BearerRefused`."""
    token = bearer_token(authorization)
    if token is None:
        # RFC 6750 §3.1: no credentials, so a bare challenge without an error code.
        raise BearerRefused(401, {}, {"WWW-Authenticate": "Bearer"})
    try:
        claims = await introspector.active_claims(token)
    except (IntrospectionUnavailable, StoreUnavailable):
        # hrss_isso, or the store of cached answers, could not be asked in time.
        raise BearerRefused(503, {"error": "temporarily_unavailable"}, {"Retry-After": "5"}) from None
    # A refresh token is not a bearer credential (RFC 6749 §1.5). A token bound
    # to a key (DPoP, RFC 9449 §7.1: ``cnf``) works only with a proof of that
    # key, which this API does not check yet: sent as a bearer it is refused,
    # or a stolen bound token would work here from anywhere.
    if claims is None or not claims.get("sub") or claims.get("token_type") == "refresh_token" or claims.get("cnf"):
        raise BearerRefused(401, {"error": "invalid_token"}, {"WWW-Authenticate": invalid_token_challenge()})
    if not admitted(claims.get("acr")):
        raise BearerRefused(
            401,
            {"error": "insufficient_user_authentication", "acr_values": TrustLevel.L2.acr},
            {"WWW-Authenticate": insufficient_challenge()},
        )
    # The scope comes last, after both 401s. A 401 says the credentials
    # will not do (RFC 9110 §15.5.2), a 403 that they are good and the
    # request is refused all the same (§15.5.4). An L1 token is not good
    # credentials here: a unit below L2 is not admitted at all
    # (DESIGN.md), whatever its token was issued for. A 403 to it would
    # send its client for a wider grant only to meet the step-up
    # challenge next; the step-up comes first, and the new authorization
    # request it starts can ask for the scope as well.
    if not need.met_by(claims.get("scope")):
        raise BearerRefused(
            403, {"error": "insufficient_scope", "scope": need.scope}, {"WWW-Authenticate": insufficient_scope_challenge(need)}
        )
    return claims
