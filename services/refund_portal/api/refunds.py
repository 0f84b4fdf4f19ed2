"""What the API reads and decides for the unit behind a token."""

from __future__ import annotations

import datetime as dt
import functools
import json
from types import SimpleNamespace
from typing import Any

from services.refund_portal import messages
from services.refund_portal.api.schemas import Basis, Me
from services.refund_portal.audit import Actor, AuditKeys
from services.refund_portal.decisions import DecisionError, UnitDecision, decide
from services.refund_portal.models import RefundRecord
from services.refund_portal.records import RecordRows, UnitIdentity, mask_account, record_from_row
from shared.clock import Clock, as_utc
from shared.db import Database
from shared.money import fen_to_capital, fen_to_yuan
from shared.trust import TrustLevel

__all__ = ["refund_body", "me_body", "my_refunds_body", "confirm"]


_BASIS_FIELDS = tuple(Basis.model_fields)


def refund_body(record: RefundRecord | SimpleNamespace) -> dict[str, Any]:
    """A record as the API shows it (the :class:`~.schemas.Refund` schema).

    Built directly rather than through :func:`~services.refund_portal.records.present`
    and the pydantic model: the pages' view computes a dozen labels the API
    does not send, and the two made up most of an API call's CPU
    (``make bench-chain --profile``). A test holds this body equal to the
    schema's own validation and dump of ``present``."""
    basis = json.loads(record.basis)
    return {
        "id": record.id,
        "year": record.year,
        "status": record.status,
        "status_label": messages.STATUS.get(record.status, record.status),
        "org_name": record.org_name,
        "uscc": record.uscc,
        "unit_code": record.unit_code,
        "amount_fen": record.amount_fen,
        "amount": fen_to_yuan(record.amount_fen),
        "amount_in_words": fen_to_capital(record.amount_fen),
        "basis": {name: basis[name] for name in _BASIS_FIELDS if name in basis},
        "bank_name": record.bank_name,
        "bank_account_masked": mask_account(record.bank_account),
        "decided_at": _json_time(record.decided_at),
        "decided_by_name": record.decided_by_name,
        "decided_acr": record.decided_acr,
        "paid_at": _json_time(record.paid_at),
    }


@functools.lru_cache(maxsize=4096)
def _body_of_row(row: tuple) -> dict[str, Any]:
    # A pure function of the row's every column (its version included), so a
    # changed record is a new key: the API's records are built once per
    # content instead of on every call. Callers only serialize the result.
    return refund_body(record_from_row(row))


def _json_time(value: dt.datetime | None) -> str | None:
    # As pydantic writes an aware UTC time: ISO 8601 with "Z".
    return None if value is None else as_utc(value).isoformat().replace("+00:00", "Z")


def me_body(claims: dict[str, Any]) -> dict[str, Any]:
    """The unit behind the token, as ``GET /api/v1/me`` shows it."""
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
    return body.model_dump(exclude_none=True)


async def my_refunds_body(records_of: RecordRows, claims: dict[str, Any]) -> dict[str, Any]:
    """The unit's records as ``GET /api/v1/refunds/me`` shows them, newest year first."""
    unit = UnitIdentity.from_claims(claims)
    records = [] if unit is None else [_body_of_row(row) for row in await records_of.of_unit(unit)]
    return {"uscc": claims.get("uscc"), "unit_code": claims.get("unit_code"), "records": records}


def confirm(
    db: Database, *, unit: UnitIdentity | None, record_id: int, choice: UnitDecision, actor: Actor, clock: Clock, audit_keys: AuditKeys
) -> tuple[int, dict[str, Any]]:
    """The unit's decision → (HTTP status, body): the record decided, or the API's error."""
    if unit is None:
        return 404, {"error": "not_found"}
    with db.transaction() as s:
        try:
            record = decide(s, unit=unit, record_id=record_id, choice=choice, actor=actor, clock=clock, audit_keys=audit_keys)
        except DecisionError as exc:
            if exc.code == "not_found":
                return 404, {"error": "not_found"}
            if exc.code == "not_pending":
                return 409, {"error": "already_decided", "status": exc.status}
            return 400, {"error": "invalid_request", "error_description": exc.code}
        return 200, refund_body(record)
