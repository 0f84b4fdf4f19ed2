"""What the API reads and decides for the unit behind a token."""

from __future__ import annotations

from typing import Any

from services.refund_portal.api.schemas import Refund
from services.refund_portal.audit import Actor, AuditKeys
from services.refund_portal.decisions import DecisionError, UnitDecision, decide
from services.refund_portal.models import RefundRecord
from services.refund_portal.records import UnitIdentity, present, records_of_unit
from shared.clock import Clock
from shared.db import Database

__all__ = ["refund_body", "refunds_of", "confirm"]


def refund_body(record: RefundRecord) -> dict[str, Any]:
    view = present(record)
    return Refund.model_validate({**view, "basis": view["basis"]}).model_dump(mode="json")


def refunds_of(db: Database, *, unit: UnitIdentity | None) -> list[dict[str, Any]]:
    """The unit's records as the API shows them, newest year first."""
    if unit is None:
        return []
    with db.transaction() as s:
        return [refund_body(r) for r in records_of_unit(s, unit=unit)]


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
