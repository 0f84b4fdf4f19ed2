"""The portal's API for other HRSS services: bearer tokens from hrss_isso,
checked by introspection, L2 enforced with the RFC 9470 challenge, and the
token's scope: ``refund.read`` (or ``refund.confirm``) to read,
``refund.confirm`` to decide."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from services.refund_portal.admission import (
    CONFIRM,
    READ,
    ScopeNeed,
    admitted,
    insufficient_challenge,
    insufficient_scope_challenge,
    invalid_token_challenge,
)
from services.refund_portal.audit import Actor
from services.refund_portal.decisions import NOTE_LIMIT, DecisionError, UnitDecision, decide
from services.refund_portal.pages import client_address, unit_actor
from services.refund_portal.records import UnitIdentity, present, records_of_unit
from shared.oauth.introspection import IntrospectionUnavailable, TokenIntrospector
from shared.trust import TrustLevel

__all__ = ["api_router"]

UNAUTHORIZED = {
    401: {
        "description": 'invalid_token (`WWW-Authenticate: Bearer error="invalid_token"`), or below L2 the RFC 9470 challenge '
        '`Bearer error="insufficient_user_authentication", acr_values="urn:gdzwfw:loa:L2"`'
    },
    503: {"description": "hrss_isso could not be asked (introspection unavailable); retry later"},
}


def refused(need: ScopeNeed) -> dict[int | str, dict[str, Any]]:
    """UNAUTHORIZED, and the RFC 6750 §3.1 answer to a token not issued for ``need``."""
    accepted = " or ".join(f"`{s}`" for s in [need.scope, *sorted(need.accepted - {need.scope})])
    return {
        **UNAUTHORIZED,
        403: {
            "model": ApiError,
            "description": f"insufficient_scope: the token (L2 or higher) was not issued with {accepted} "
            f'(`WWW-Authenticate: Bearer error="insufficient_scope", scope="{need.scope}"`)',
        },
    }


class Me(BaseModel):
    sub: str
    org_name: str | None
    uscc: str | None
    unit_code: str | None
    trust_level: str
    acr: str
    act: dict | None = None


class Basis(BaseModel):
    """How the amount was computed (the year's rule as applied)."""

    rule_year: int = Field(description="Refund year whose rule was applied.")
    premium_year: int = Field(description="Year whose premiums and layoffs count (the year before).")
    size: Literal["large", "sme"] = Field(description="大型企业 or 中小微企业.")
    ratio: str = Field(description="Refund ratio, an exact decimal, e.g. \"0.60\".")
    unit_premium_fen: int
    staff_premium_fen: int
    premium_total_fen: int
    computed_fen: int = Field(description="premium_total × ratio, rounded half up to the fen.")
    insured_count: int
    layoff_count: int
    layoff_rate: str
    layoff_rate_cap: str
    arrears_fen: int
    failed: list[str] = Field(description="Conditions not met: no_premium, layoff_rate, arrears. Empty when eligible.")


class Refund(BaseModel):
    id: int
    year: int = Field(description="Refund year (年度).")
    status: Literal["pending", "account_reported", "confirmed", "paid", "declined", "ineligible"] = Field(
        description="pending 待确认, account_reported 账户待核实, confirmed 已确认, paid 已发放, declined 已放弃, ineligible 不符合条件."
    )
    status_label: str
    org_name: str
    uscc: str
    unit_code: str
    amount_fen: int = Field(description="The refund in integer fen (分).")
    amount: str = Field(description="The refund in yuan as an exact decimal string, e.g. \"34574.69\".")
    amount_in_words: str = Field(description="The amount in 中文大写, as on official forms.")
    basis: Basis
    bank_name: str
    bank_account_masked: str
    decided_at: dt.datetime | None = None
    decided_by_name: str | None = None
    decided_acr: str | None = None
    paid_at: dt.datetime | None = None


class MyRefunds(BaseModel):
    uscc: str | None
    unit_code: str | None
    records: list[Refund]


class ConfirmationRequest(BaseModel):
    decision: Literal["confirm", "decline", "report_account"] = Field(
        default="confirm", description="confirm 确认, decline 放弃 (note required), report_account 银行账户有误 (note required)."
    )
    note: str = Field(default="", max_length=NOTE_LIMIT, description="The reason or remark (up to 200 characters).")


class ApiError(BaseModel):
    error: str
    error_description: str | None = None
    status: str | None = None


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def _refund(record) -> dict[str, Any]:
    view = present(record)
    return Refund.model_validate({**view, "basis": view["basis"]}).model_dump(mode="json")


def api_router(*, introspector: TokenIntrospector) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["unit"])

    async def authenticate(request: Request, need: ScopeNeed) -> dict[str, Any] | JSONResponse:
        """The token's claims when it is an active hrss_isso access token at
        L2 or higher issued with a scope ``need`` accepts; otherwise the
        response to send."""
        token = _bearer(request)
        if token is None:
            return JSONResponse({"error": "invalid_token"}, status_code=401, headers={"WWW-Authenticate": invalid_token_challenge()})
        try:
            claims = await introspector.active_claims(token)
        except IntrospectionUnavailable:
            return JSONResponse({"error": "temporarily_unavailable"}, status_code=503, headers={"Retry-After": "5"})
        # A refresh token is not a bearer credential (RFC 6749 §1.5).
        if claims is None or not claims.get("sub") or claims.get("token_type") == "refresh_token":
            return JSONResponse({"error": "invalid_token"}, status_code=401, headers={"WWW-Authenticate": invalid_token_challenge()})
        if not admitted(claims.get("acr")):
            return JSONResponse(
                {"error": "insufficient_user_authentication", "acr_values": TrustLevel.L2.acr},
                status_code=401,
                headers={"WWW-Authenticate": insufficient_challenge()},
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
            return JSONResponse(
                {"error": "insufficient_scope", "scope": need.scope},
                status_code=403,
                headers={"WWW-Authenticate": insufficient_scope_challenge(need)},
            )
        return claims

    @router.get("/me", response_model=Me, responses=refused(READ))
    async def me(request: Request) -> JSONResponse:
        """The unit behind the bearer token (L2 or higher, scope
        ``refund.read`` or ``refund.confirm``)."""
        claims = await authenticate(request, READ)
        if isinstance(claims, JSONResponse):
            return claims
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

    @router.get("/refunds/me", response_model=MyRefunds, responses=refused(READ), tags=["refunds"])
    async def my_refunds(request: Request) -> JSONResponse:
        """The unit's 稳岗返还 records, newest year first: amount in fen, as a
        decimal string and in 大写, the basis, the bank account masked.
        Scope ``refund.read`` or ``refund.confirm``."""
        claims = await authenticate(request, READ)
        if isinstance(claims, JSONResponse):
            return claims
        unit = UnitIdentity.from_claims(claims)

        def load() -> list[dict[str, Any]]:
            if unit is None:
                return []
            with request.app.state.db.transaction() as s:
                return [_refund(r) for r in records_of_unit(s, unit=unit)]

        records = await run_in_threadpool(load)
        return JSONResponse({"uscc": claims.get("uscc"), "unit_code": claims.get("unit_code"), "records": records})

    @router.post(
        "/refunds/{record_id}/confirmation",
        response_model=Refund,
        tags=["refunds"],
        responses={
            **refused(CONFIRM),
            400: {"model": ApiError, "description": "invalid_request: a note is required to decline or to report the account wrong"},
            404: {"model": ApiError, "description": "not_found: no such record of this unit (another unit's records are not found)"},
            409: {"model": ApiError, "description": "already_decided: the record is no longer 待确认; `status` says what it is"},
        },
    )
    async def confirmation(request: Request, record_id: int, body: ConfirmationRequest | None = None) -> JSONResponse:
        """The unit's decision on its pending record: confirm (the default),
        decline, or report the bank account wrong. Recorded with the handler
        (``act``), the level, the time and the caller's address; a record is
        decided once. Scope ``refund.confirm``."""
        claims = await authenticate(request, CONFIRM)
        if isinstance(claims, JSONResponse):
            return claims
        body = body or ConfirmationRequest()
        unit = UnitIdentity.from_claims(claims)
        state = request.app.state
        actor: Actor = unit_actor(claims, acr=claims.get("acr"), address=client_address(request))
        channel = f"api:{claims.get('client_id') or '-'}"

        def run() -> tuple[int, dict[str, Any]]:
            if unit is None:
                return 404, {"error": "not_found"}
            with state.db.transaction() as s:
                try:
                    record = decide(
                        s,
                        unit=unit,
                        record_id=record_id,
                        choice=UnitDecision(decision=body.decision, note=body.note, channel=channel, unit_sub=str(claims["sub"])),
                        actor=actor,
                        clock=state.clock,
                        audit_keys=state.audit_keys,
                    )
                except DecisionError as exc:
                    if exc.code == "not_found":
                        return 404, {"error": "not_found"}
                    if exc.code == "not_pending":
                        return 409, {"error": "already_decided", "status": exc.status}
                    return 400, {"error": "invalid_request", "error_description": exc.code}
                return 200, _refund(record)

        status, payload = await run_in_threadpool(run)
        return JSONResponse(payload, status_code=status)

    return router
