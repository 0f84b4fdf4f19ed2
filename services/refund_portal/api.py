"""The portal's API for other HRSS services: bearer tokens from hrss_isso,
checked by introspection, L2 enforced with the RFC 9470 challenge."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.refund_portal.admission import admitted, insufficient_challenge, invalid_token_challenge
from shared.oauth.introspection import IntrospectionUnavailable, TokenIntrospector
from shared.trust import TrustLevel

__all__ = ["api_router"]


class Me(BaseModel):
    sub: str
    org_name: str | None
    uscc: str | None
    unit_code: str | None
    trust_level: str
    acr: str
    act: dict | None = None


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def api_router(*, introspector: TokenIntrospector) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["unit"])

    @router.get(
        "/me",
        response_model=Me,
        responses={401: {"description": "invalid_token, or insufficient_user_authentication (RFC 9470) below L2"}},
    )
    async def me(request: Request) -> JSONResponse:
        """The unit behind the bearer token (L2 or higher)."""
        token = _bearer(request)
        if token is None:
            return JSONResponse({"error": "invalid_token"}, status_code=401, headers={"WWW-Authenticate": invalid_token_challenge()})
        try:
            claims = await introspector.active_claims(token)
        except IntrospectionUnavailable:
            return JSONResponse({"error": "temporarily_unavailable"}, status_code=503, headers={"Retry-After": "5"})
        if claims is None or not claims.get("sub"):
            return JSONResponse({"error": "invalid_token"}, status_code=401, headers={"WWW-Authenticate": invalid_token_challenge()})
        if not admitted(claims.get("acr")):
            return JSONResponse(
                {"error": "insufficient_user_authentication", "acr_values": TrustLevel.L2.acr},
                status_code=401,
                headers={"WWW-Authenticate": insufficient_challenge()},
            )
        level = TrustLevel.from_acr(claims["acr"])
        body = Me(
            sub=claims["sub"],
            org_name=claims.get("org_name"),
            uscc=claims.get("uscc"),
            unit_code=claims.get("unit_code"),
            trust_level=level.name,
            acr=level.acr,
            act=claims.get("act"),
        )
        return JSONResponse(body.model_dump(exclude_none=True))

    return router
