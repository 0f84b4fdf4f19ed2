"""稳岗返还信息确认 on the unit's pages: its records with their history, and
a decision submitted through the explicit confirmation step (the version
the unit saw, the declaration it ticked)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from services.refund_portal import messages
from services.refund_portal.audit import Actor, AuditKeys
from services.refund_portal.decisions import DecisionError, UnitDecision, decide
from services.refund_portal.records import UnitIdentity, history_of, present, record_of_unit, records_of_unit
from shared.clock import Clock
from shared.db import Database

__all__ = ["DecisionOutcome", "records_with_history", "decidable_record", "submit_decision"]


def _history(entries) -> list[dict[str, Any]]:
    rows = []
    for e in entries:
        detail = json.loads(e.detail)
        rows.append({"at": e.at, "what": messages.describe_entry(e.action, detail), "who": e.actor_name, "kind": e.actor_kind})
    return rows


def records_with_history(db: Database, *, unit: UnitIdentity | None) -> list[dict[str, Any]]:
    """The unit's records, newest year first, each with what happened to it."""
    if unit is None:
        return []
    with db.transaction() as s:
        return [{**present(r), "history": _history(history_of(s, record_id=r.id))} for r in records_of_unit(s, unit=unit)]


def decidable_record(db: Database, *, unit: UnitIdentity | None, record_id: int) -> dict[str, Any] | None:
    """The unit's own record as shown on the confirmation step, or None."""
    if unit is None:
        return None
    with db.transaction() as s:
        r = record_of_unit(s, unit=unit, record_id=record_id)
        return present(r) if r else None


@dataclass(frozen=True)
class DecisionOutcome:
    """``record`` shown again (None: not the unit's), ``error`` the text
    to show (None: decided) with its HTTP ``status``."""

    record: dict[str, Any] | None
    error: str | None = None
    status: int = 200


def submit_decision(
    db: Database,
    *,
    unit: UnitIdentity | None,
    record_id: int,
    choice: UnitDecision,
    version: int,
    declared: bool,
    actor: Actor,
    clock: Clock,
    audit_keys: AuditKeys,
) -> DecisionOutcome:
    """The decision on the record as the unit saw it (``version``), once it
    ticked the declaration."""
    if unit is None:
        return DecisionOutcome(None, messages.DECISION_ERROR["not_found"], 404)
    with db.transaction() as s:
        current = record_of_unit(s, unit=unit, record_id=record_id)
        if current is None:
            return DecisionOutcome(None, messages.DECISION_ERROR["not_found"], 404)
        shown = present(current)
        if current.status != "pending":
            return DecisionOutcome(shown, messages.DECISION_ERROR["not_pending"].format(status=shown["status_label"]), 409)
        if current.version != version:
            # The agency changed the record (e.g. corrected the account) since the unit looked.
            return DecisionOutcome(shown, messages.DECISION_ERROR["stale"], 409)
        if not declared:
            return DecisionOutcome(shown, messages.DECISION_ERROR["declaration"], 400)
        try:
            done = decide(s, unit=unit, record_id=record_id, choice=choice, actor=actor, clock=clock, audit_keys=audit_keys)
        except DecisionError as exc:
            text = messages.DECISION_ERROR[exc.code].format(status=messages.STATUS.get(exc.status or "", ""))
            return DecisionOutcome(shown, text, 409 if exc.code == "not_pending" else 400)
        return DecisionOutcome(present(done))
