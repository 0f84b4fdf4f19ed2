"""The API's routes: the unit behind the token, its refund records, its
decision. ``refund.read`` (or ``refund.confirm``) to read, ``refund.confirm``
to decide; the guards are :data:`~services.refund_portal.deps.ReadToken`
and :data:`~services.refund_portal.deps.ConfirmToken`.

The two reads are answered by :mod:`.fast_lane` in the served app, before
the middleware; their routes here declare the contract (OpenAPI, /docs)
and run the same functions."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from services.refund_portal.admission import CONFIRM, READ
from services.refund_portal.api.refunds import confirm, me_body, my_refunds_body
from services.refund_portal.api.schemas import ApiError, ConfirmationRequest, Me, MyRefunds, Refund, refused
from services.refund_portal.decisions import UnitDecision, unit_actor
from services.refund_portal.deps import AuditKeysDep, ClientAddress, ConfirmToken, ReadToken, RecordRowsDep
from services.refund_portal.records import UnitIdentity
from shared.web.deps import ClockDep, DbDep
from shared.web.params import DbId

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["unit"])


@router.get("/me", response_model=Me, responses=refused(READ))
async def me(claims: ReadToken) -> JSONResponse:
    """The unit behind the bearer token (L2 or higher, scope
    ``refund.read`` or ``refund.confirm``)."""
    return JSONResponse(me_body(claims))


@router.get("/refunds/me", response_model=MyRefunds, responses=refused(READ), tags=["refunds"])
async def my_refunds(claims: ReadToken, records_of: RecordRowsDep) -> JSONResponse:
    """The unit's 稳岗返还 records, newest year first: amount in fen, as a
    decimal string and in 大写, the basis, the bank account masked.
    Scope ``refund.read`` or ``refund.confirm``."""
    return JSONResponse(await my_refunds_body(records_of, claims))


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
async def confirmation(
    record_id: DbId,
    claims: ConfirmToken,
    address: ClientAddress,
    db: DbDep,
    clock: ClockDep,
    audit_keys: AuditKeysDep,
    body: ConfirmationRequest | None = None,
) -> JSONResponse:
    """The unit's decision on its pending record: confirm (the default),
    decline, or report the bank account wrong. Recorded with the handler
    (``act``), the level, the time and the caller's address; a record is
    decided once. Scope ``refund.confirm``."""
    body = body or ConfirmationRequest()
    channel = f"api:{claims.get('client_id') or '-'}"
    status, payload = await run_in_threadpool(
        confirm,
        db,
        unit=UnitIdentity.from_claims(claims),
        record_id=record_id,
        choice=UnitDecision(decision=body.decision, note=body.note, channel=channel, unit_sub=str(claims["sub"])),
        actor=unit_actor(claims, acr=claims.get("acr"), address=address),
        clock=clock,
        audit_keys=audit_keys,
    )
    return JSONResponse(payload, status_code=status)
