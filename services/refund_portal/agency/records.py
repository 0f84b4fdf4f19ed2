"""The records as the agency's staff see them: the year's overview by
status, the searchable list, one record with its full bank account and its
history, and the correction of its bank account."""

from __future__ import annotations

import json
from typing import Any

from services.refund_portal import messages
from services.refund_portal.audit import Actor, AuditKeys
from services.refund_portal.decisions import DecisionError, correct_bank_account
from services.refund_portal.models import AuditEntry, RecordStatus
from services.refund_portal.policy import PolicyBook
from services.refund_portal.records import get_record, history_of, list_records, present, status_summary, years_with_records
from shared.clock import Clock, as_utc
from shared.db import Database
from shared.money import format_fen

__all__ = ["describe", "default_year", "overview", "record_list", "record_detail", "correct_account", "PAGE_SIZE"]

PAGE_SIZE = 100
_ACCOUNT_CHARS = set("0123456789")


def describe(entry: AuditEntry) -> str:
    """An audit entry in words (an unreadable detail reads as none)."""
    try:
        detail = json.loads(entry.detail)
    except ValueError:
        detail = {}
    return messages.describe_entry(entry.action, detail)


def default_year(years_with: list[int], *, policies: PolicyBook, clock: Clock, year: int | None) -> int:
    """The year asked for; else the latest with records, with a rule, or this one."""
    if year is not None:
        return year
    return (years_with or policies.years or [as_utc(clock.now()).year])[0]


def overview(db: Database, *, policies: PolicyBook, clock: Clock, year: int | None) -> dict[str, Any]:
    """The year's records counted and summed by status."""
    with db.transaction() as s:
        years = years_with_records(s)
        chosen = default_year(years, policies=policies, clock=clock, year=year)
        summary = status_summary(s, year=chosen)
    cards = [
        {"status": st, "label": messages.STATUS[st], "count": summary.get(st, (0, 0))[0], "amount": format_fen(summary.get(st, (0, 0))[1])}
        for st in RecordStatus.ALL
    ]
    total = sum(c for c, _ in summary.values())
    return {"year": chosen, "years": sorted(set(years) | set(policies.years), reverse=True), "cards": cards, "total": total}


def record_list(
    db: Database, *, policies: PolicyBook, clock: Clock, year: int | None, status: str, query: str, page_no: int
) -> dict[str, Any]:
    """One page of the year's records, by status and a search."""
    with db.transaction() as s:
        years = years_with_records(s)
        chosen = default_year(years, policies=policies, clock=clock, year=year)
        rows, total = list_records(
            s, year=chosen, status=status or None, query=query.strip()[:50], limit=PAGE_SIZE, offset=(page_no - 1) * PAGE_SIZE
        )
        return {"year": chosen, "years": years, "rows": [present(r) for r in rows], "total": total}


def record_detail(db: Database, *, record_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The record as staff see it, and its history; None when there is none."""
    with db.transaction() as s:
        r = get_record(s, record_id=record_id)
        if r is None:
            return None
        view = present(r)
        # Staff see the full account: they pay into it and correct it.
        view["bank_account"] = r.bank_account
        view["decided_address"] = r.decided_address
        view["decided_channel"] = r.decided_channel
        view["payment_batch_id"] = r.payment_batch_id
        view["import_batch_id"] = r.import_batch_id
        view["line_no"] = r.line_no
        history = [
            {"seq": e.seq, "at": e.at, "what": describe(e), "who": e.actor_name, "kind": e.actor_kind, "acr": e.acr, "address": e.address}
            for e in history_of(s, record_id=record_id)
        ]
        return view, history


def correct_account(
    db: Database, *, record_id: int, bank_name: str, bank_account: str, reason: str, actor: Actor, clock: Clock, audit_keys: AuditKeys
) -> str | None:
    """Correct the record's bank account; the text saying why not, or None when done."""
    if not bank_name or len(bank_name) > 100:
        return messages.IMPORT["bank_name"]
    if not (8 <= len(bank_account) <= 30 and set(bank_account) <= _ACCOUNT_CHARS):
        return messages.IMPORT["bank_account"]
    with db.transaction() as s:
        try:
            correct_bank_account(
                s,
                record_id=record_id,
                bank_name=bank_name,
                bank_account=bank_account,
                reason=reason,
                actor=actor,
                clock=clock,
                audit_keys=audit_keys,
            )
        except DecisionError as exc:
            return messages.STAFF_ERROR.get(exc.code, messages.DECISION_ERROR.get(exc.code, exc.code)).format(
                status=messages.STATUS.get(exc.status or "", "")
            )
    return None
