"""State changes of a refund record, each with its reason and its actor.

    待确认 ──confirm──▶ 已确认 ──(payment batch paid)──▶ 已发放
       │  ╲──decline──▶ 已放弃
       ╰──report_account──▶ 账户待核实 ──(agency corrects the account)──▶ 待确认

A record leaves 待确认 exactly once per decision: the change is one
conditional ``UPDATE … WHERE status = 'pending'``, so of any number of
simultaneous confirmations exactly one changes the row and the others find
it already decided. The audit entry is written in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from services.refund_portal.audit import Actor, AuditChain, AuditKeys
from services.refund_portal.models import RecordStatus, RefundRecord
from services.refund_portal.records import UnitIdentity, get_record, record_of_unit
from shared.clock import Clock

__all__ = ["DECISIONS", "DecisionError", "UnitDecision", "unit_actor", "decide", "correct_bank_account", "NOTE_LIMIT"]

NOTE_LIMIT = 200
# decision → (new status, audit action, whether a note is required)
DECISIONS = {
    "confirm": (RecordStatus.CONFIRMED, "record.confirmed", False),
    "decline": (RecordStatus.DECLINED, "record.declined", True),
    "report_account": (RecordStatus.ACCOUNT_REPORTED, "record.account_reported", True),
}


class DecisionError(Exception):
    """``code`` keys messages.DECISION_ERROR / STAFF_ERROR; ``status`` is the
    record's current status where that explains the refusal."""

    def __init__(self, code: str, *, status: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class UnitDecision:
    decision: str  # confirm | decline | report_account
    note: str
    channel: str  # web | api:<client_id>
    unit_sub: str = ""  # the unit's subject at hrss_isso


def unit_actor(unit: dict[str, Any], *, acr: str | None, address: str) -> Actor:
    """The handler (``act``) acting for the unit; the unit itself when no
    handler was named."""
    act = unit.get("act") if isinstance(unit.get("act"), dict) else None
    if act and act.get("sub"):
        return Actor(kind="unit", id=str(act["sub"]), name=str(act.get("name") or act["sub"]), acr=acr, address=address)
    return Actor(kind="unit", id=str(unit.get("sub")), name=f"{unit.get('org_name') or ''}（单位账号）", acr=acr, address=address)


def check_note(decision: str, note: str) -> str:
    note = (note or "").strip()
    if decision not in DECISIONS:
        raise DecisionError("unknown_decision")
    if len(note) > NOTE_LIMIT:
        raise DecisionError("note_too_long")
    if DECISIONS[decision][2] and not note:
        raise DecisionError("note_required")
    return note


def decide(
    session: Session, *, unit: UnitIdentity, record_id: int, choice: UnitDecision, actor: Actor, clock: Clock, audit_keys: AuditKeys
) -> RefundRecord:
    """The unit's decision on its own pending record."""
    note = check_note(choice.decision, choice.note)
    record = record_of_unit(session, unit=unit, record_id=record_id)
    if record is None:
        raise DecisionError("not_found")
    new_status, action, _ = DECISIONS[choice.decision]
    now = clock.now()
    values: dict = {"status": new_status, "updated_at": now, "decision_note": note or None}
    if choice.decision != "report_account":
        values.update(
            decided_at=now,
            decided_by_sub=actor.id[:100],
            decided_by_name=actor.name[:100],
            decided_acr=actor.acr,
            decided_address=(actor.address or "")[:64] or None,
            decided_channel=choice.channel[:60],
        )
    _change(session, record, allowed=(RecordStatus.PENDING,), values=values, refused="not_pending")
    AuditChain(session, clock=clock, keys=audit_keys).append(
        actor,
        action,
        record=record,
        subject=f"unit:{unit.uscc}",
        detail={
            "from": RecordStatus.PENDING,
            "to": new_status,
            "reason": note or None,
            "channel": choice.channel,
            "unit_sub": choice.unit_sub or None,
            "year": record.year,
        },
    )
    return record


def _change(session: Session, record: RefundRecord, *, allowed: tuple[str, ...], values: dict, refused: str) -> None:
    """Write ``values`` (and a new version) to the record while its status is
    one of ``allowed``, else DecisionError(``refused``). The condition is in
    the UPDATE: of two concurrent changes the second matches no row."""
    changed = session.execute(
        update(RefundRecord)
        .where(RefundRecord.id == record.id, RefundRecord.status.in_(allowed))
        .values(**values, version=RefundRecord.version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(record)
    if changed != 1:
        raise DecisionError(refused, status=record.status)


def correct_bank_account(
    session: Session,
    *,
    record_id: int,
    bank_name: str,
    bank_account: str,
    reason: str,
    actor: Actor,
    clock: Clock,
    audit_keys: AuditKeys,
) -> RefundRecord:
    """The agency corrects a record's bank account (after the unit reported
    it wrong, or before it decided); the record is 待确认 again."""
    reason = (reason or "").strip()
    if not reason:
        raise DecisionError("reason_required")
    if len(reason) > NOTE_LIMIT:
        raise DecisionError("note_too_long")
    record = get_record(session, record_id=record_id)
    if record is None:
        raise DecisionError("not_found")
    before = record.status
    values = {"bank_name": bank_name, "bank_account": bank_account, "status": RecordStatus.PENDING, "updated_at": clock.now()}
    _change(session, record, allowed=(RecordStatus.PENDING, RecordStatus.ACCOUNT_REPORTED), values=values, refused="not_correctable")
    AuditChain(session, clock=clock, keys=audit_keys).append(
        actor,
        "record.account_corrected",
        record=record,
        detail={"from": before, "to": RecordStatus.PENDING, "reason": reason, "year": record.year},
    )
    return record
