"""The API's access token: an active hrss_isso access token, at L2 or higher,
issued with a scope the endpoint accepts. One check for both ways a request
arrives (the fast lane and FastAPI's dependency, :mod:`..deps`).

A token bound to a key (DPoP, RFC 9449: introspection's ``cnf.jkt``) works
only as ``Authorization: DPoP <token>`` beside a proof of that key for this
request (:class:`~shared.oauth.provider.dpop.ProofChecker`, the providers'
own check, its jti spent in the shared key-value store so replicas agree).
Sent as a bearer it is refused, or a stolen bound token would work here from
anywhere. A plain bearer token costs what it did: no proof, no store write.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers

from services.refund_portal.admission import (
    ScopeNeed,
    admitted,
    insufficient_challenge,
    insufficient_scope_challenge,
    invalid_token_challenge,
)
from shared.kvstore import KeyValueStore, StoreUnavailable
from shared.oauth.introspection import IntrospectionUnavailable, TokenIntrospector
from shared.oauth.provider.dpop import InvalidDPoPProofError, ProofChecker, resource_challenge
from shared.randomness import hash_secret
from shared.trust import TrustLevel

log = logging.getLogger("refund.api")

__all__ = ["BearerRefused", "ApiTokens", "presented_token"]

# The schemes this API takes, in the case-insensitive form they are compared in (RFC 9110 §11.1).
BEARER, DPOP = "bearer", "dpop"


class BearerRefused(Exception):
    """The API's own answer to a token that will not do: the JSON body and the
    RFC 6750 / RFC 9449 / RFC 9470 ``WWW-Authenticate`` challenge, as they are sent."""

    def __init__(self, status_code: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        super().__init__(body.get("error"))
        self.status_code = status_code
        self.body = body
        self.headers = headers


def presented_token(authorization: str | None) -> tuple[str, str] | None:
    """(scheme, token) of an ``Authorization: Bearer …`` or ``DPoP …`` header."""
    scheme, _, value = (authorization or "").partition(" ")
    scheme, value = scheme.lower(), value.strip()
    return (scheme, value) if value and scheme in (BEARER, DPOP) else None


class ApiTokens:
    def __init__(self, *, introspector: TokenIntrospector, proofs: ProofChecker, kv: KeyValueStore, public_url: str) -> None:
        """``public_url``: this service's external base URL, which a proof's ``htu`` names."""
        self.introspector, self.proofs, self.kv, self.public_url = introspector, proofs, kv, public_url

    async def claims(self, headers: Headers, *, method: str, path: str, need: ScopeNeed) -> dict[str, Any]:
        """The token's claims when it will do for ``need``; otherwise :class:`BearerRefused`."""
        presented = presented_token(headers.get("authorization"))
        if presented is None:
            # RFC 6750 §3.1, RFC 9449 §7.1: no credentials, so bare challenges
            # without an error code, one for each scheme this API takes.
            raise BearerRefused(401, {}, {"WWW-Authenticate": f"Bearer, {resource_challenge()}"})
        scheme, token = presented
        try:
            claims = await self.introspector.active_claims(token)
        except (IntrospectionUnavailable, StoreUnavailable) as exc:
            # hrss_isso, or the store of cached answers, could not be asked in time.
            log.warning("token check unavailable", extra={"fields": {"why": f"{type(exc).__name__}: {exc}"}})
            raise BearerRefused(503, {"error": "temporarily_unavailable"}, {"Retry-After": "5"}) from None
        # A refresh token is not a bearer credential (RFC 6749 §1.5).
        if claims is None or not claims.get("sub") or claims.get("token_type") == "refresh_token":
            raise _invalid_token(scheme)
        cnf = claims.get("cnf")
        bound_to = cnf.get("jkt") if isinstance(cnf, dict) else None
        if cnf is not None and not isinstance(bound_to, str):
            # Bound to something this API cannot check (an mTLS certificate, RFC 8705).
            raise _invalid_token(scheme)
        if bound_to is not None or scheme == DPOP:
            await self._check_proof(headers, method=method, path=path, token=token, bound_to=bound_to, scheme=scheme)
        if not admitted(claims.get("acr")):
            raise BearerRefused(
                401,
                {"error": "insufficient_user_authentication", "acr_values": TrustLevel.L2.acr},
                {"WWW-Authenticate": insufficient_challenge(_scheme_name(scheme))},
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
                403,
                {"error": "insufficient_scope", "scope": need.scope},
                {"WWW-Authenticate": insufficient_scope_challenge(need, _scheme_name(scheme))},
            )
        return claims

    async def _check_proof(self, headers: Headers, *, method: str, path: str, token: str, bound_to: str | None, scheme: str) -> None:
        if scheme != DPOP or bound_to is None:
            # §7.2: a bound token as a bearer, or a plain one under the DPoP scheme.
            why = "The access token is DPoP-bound: present it with a DPoP proof." if bound_to else "The access token is not DPoP-bound."
            raise _refused(InvalidDPoPProofError(why, error="invalid_token"))
        try:
            # In a thread: the signature check is CPU, and the jti is spent in the (blocking) store.
            await run_in_threadpool(
                self.proofs.check,
                headers.getlist("dpop"),
                method=method,
                url=self.public_url + path,
                spend=self._spend,
                access_token=token,
                bound_to=bound_to,
            )
        except InvalidDPoPProofError as refused:
            raise _refused(refused) from None
        except StoreUnavailable as exc:
            log.warning("dpop proof check unavailable", extra={"fields": {"why": f"{type(exc).__name__}: {exc}"}})
            raise BearerRefused(503, {"error": "temporarily_unavailable"}, {"Retry-After": "5"}) from None

    def _spend(self, key: str, until: int) -> bool:
        # The first count of a key is the proof's first use, on any replica (incr is atomic in both stores).
        return self.kv.incr("dpop-jti:" + hash_secret(key), max(until - self.proofs.clock.timestamp(), 1)) == 1


def _scheme_name(scheme: str) -> str:
    return "DPoP" if scheme == DPOP else "Bearer"


def _invalid_token(scheme: str) -> BearerRefused:
    return BearerRefused(401, {"error": "invalid_token"}, {"WWW-Authenticate": invalid_token_challenge(_scheme_name(scheme))})


def _refused(error: InvalidDPoPProofError) -> BearerRefused:
    """RFC 9449 §7.1: 401 with the DPoP challenge naming the error."""
    headers = {"WWW-Authenticate": resource_challenge(error.error)}
    if error.nonce:
        headers["DPoP-Nonce"] = error.nonce
    return BearerRefused(401, {"error": error.error, "error_description": error.description}, headers)
