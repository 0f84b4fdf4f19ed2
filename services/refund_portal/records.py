"""Queries on refund records, batches and the audit log (keyword-only), and
how a record is presented to a unit, to staff and to the API."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from sqlalchemy import ARRAY, String, any_, bindparam, func, select
from sqlalchemy.orm import Session

from services.refund_portal import messages
from services.refund_portal.models import AuditEntry, ImportBatch, PaymentBatch, RecordStatus, RefundRecord
from shared.clock import as_utc
from shared.db_async import AsyncReads, KeyedLookup
from shared.identifiers import mask_id_number
from shared.money import fen_to_capital, fen_to_yuan, format_fen

__all__ = [
    "UnitIdentity",
    "records_of_unit",
    "RecordRows",
    "record_from_row",
    "record_of_unit",
    "get_record",
    "list_records",
    "status_summary",
    "years_with_records",
    "history_of",
    "audit_page",
    "list_import_batches",
    "list_payment_batches",
    "records_in_batch",
    "present",
    "mask_account",
]


@dataclass(frozen=True)
class UnitIdentity:
    """The unit as its verified login says: a record is the unit's only when
    both its 统一社会信用代码 and its 单位管理码 match."""

    uscc: str
    unit_code: str

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> UnitIdentity | None:
        uscc, code = claims.get("uscc"), claims.get("unit_code")
        if not isinstance(uscc, str) or not isinstance(code, str) or not uscc or not code:
            return None
        return cls(uscc=uscc, unit_code=code)


def _of_unit(unit: UnitIdentity):
    return (RefundRecord.uscc == unit.uscc, RefundRecord.unit_code == unit.unit_code)


# The columns of a record, by attribute name, in the order the API's reads return them.
RECORD_FIELDS = tuple(RefundRecord.__mapper__.columns.keys())
_RECORD_ROWS = select(RefundRecord.uscc, *RefundRecord.__mapper__.columns.values()).order_by(RefundRecord.year.desc())


def records_of_unit(session: Session, *, unit: UnitIdentity) -> list[RefundRecord]:
    return list(session.execute(select(RefundRecord).where(*_of_unit(unit)).order_by(RefundRecord.year.desc())).scalars())


class RecordRows:
    """:func:`records_of_unit` on the event loop, for the API
    (:mod:`shared.db_async`): each record as a tuple of its columns
    (:data:`RECORD_FIELDS`; :func:`record_from_row` gives it the record's
    attributes). Read by 统一社会信用代码, so that the calls arriving together
    share one query; the 单位管理码 must match too."""

    def __init__(self, reads: AsyncReads) -> None:
        self._lookup = KeyedLookup(
            reads,
            one=_RECORD_ROWS.where(RefundRecord.uscc == bindparam("key")),
            many=_RECORD_ROWS.where(RefundRecord.uscc == any_(bindparam("keys", type_=ARRAY(String)))),
        )

    async def of_unit(self, unit: UnitIdentity) -> list[tuple]:
        return [row for row in await self._lookup.rows(unit.uscc) if row[_UNIT_CODE] == unit.unit_code]


_UNIT_CODE = RECORD_FIELDS.index("unit_code")


def record_from_row(row: tuple) -> SimpleNamespace:
    """Read-only values with a record's attributes, enough for :func:`present`."""
    return SimpleNamespace(**dict(zip(RECORD_FIELDS, row, strict=True)))


def record_of_unit(session: Session, *, unit: UnitIdentity, record_id: int) -> RefundRecord | None:
    return session.execute(select(RefundRecord).where(RefundRecord.id == record_id, *_of_unit(unit))).scalar_one_or_none()


def get_record(session: Session, *, record_id: int) -> RefundRecord | None:
    return session.get(RefundRecord, record_id)


def list_records(
    session: Session, *, year: int | None, status: str | None = None, query: str = "", limit: int = 200, offset: int = 0
) -> tuple[list[RefundRecord], int]:
    where = []
    if year is not None:
        where.append(RefundRecord.year == year)
    if status in RecordStatus.ALL:
        where.append(RefundRecord.status == status)
    if query:
        like = f"%{query}%"
        where.append(RefundRecord.org_name.like(like) | RefundRecord.uscc.like(like) | RefundRecord.unit_code.like(like))
    total = session.execute(select(func.count()).select_from(RefundRecord).where(*where)).scalar_one()
    rows = session.execute(select(RefundRecord).where(*where).order_by(RefundRecord.id).limit(limit).offset(offset)).scalars()
    return list(rows), total


def status_summary(session: Session, *, year: int) -> dict[str, tuple[int, int]]:
    """status → (count, amount in fen)."""
    rows = session.execute(
        select(RefundRecord.status, func.count(), func.coalesce(func.sum(RefundRecord.amount_fen), 0))
        .where(RefundRecord.year == year)
        .group_by(RefundRecord.status)
    ).all()
    return {status: (int(count), int(total)) for status, count, total in rows}


def years_with_records(session: Session) -> list[int]:
    return [y for (y,) in session.execute(select(RefundRecord.year).distinct().order_by(RefundRecord.year.desc())).all()]


def history_of(session: Session, *, record_id: int) -> list[AuditEntry]:
    return list(session.execute(select(AuditEntry).where(AuditEntry.record_id == record_id).order_by(AuditEntry.seq)).scalars())


def audit_page(session: Session, *, before: int | None, limit: int = 50, record_id: int | None = None) -> list[AuditEntry]:
    q = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
    if before is not None:
        q = q.where(AuditEntry.seq < before)
    if record_id is not None:
        q = q.where(AuditEntry.record_id == record_id)
    return list(session.execute(q).scalars())


def list_import_batches(session: Session, *, limit: int = 50) -> list[ImportBatch]:
    return list(session.execute(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(limit)).scalars())


def list_payment_batches(session: Session, *, limit: int = 50) -> list[PaymentBatch]:
    return list(session.execute(select(PaymentBatch).order_by(PaymentBatch.id.desc()).limit(limit)).scalars())


def records_in_batch(session: Session, *, batch_id: int) -> list[RefundRecord]:
    return list(session.execute(select(RefundRecord).where(RefundRecord.payment_batch_id == batch_id).order_by(RefundRecord.id)).scalars())


def mask_account(account: str) -> str:
    """Bank accounts show like ID numbers: ``3602***********3456``."""
    return mask_id_number(account)


def _percent(rate: str) -> str:
    return f"{(Decimal(rate) * 100).quantize(Decimal('0.01'))}%" if rate else "—"


def present(record: RefundRecord) -> dict[str, Any]:
    """A record as pages and the API show it (the bank account masked)."""
    basis = json.loads(record.basis)
    failed = list(basis.get("failed") or [])
    return {
        "id": record.id,
        "year": record.year,
        "premium_year": basis.get("premium_year", record.year - 1),
        "uscc": record.uscc,
        "unit_code": record.unit_code,
        "org_name": record.org_name,
        "status": record.status,
        "status_label": messages.STATUS.get(record.status, record.status),
        "amount_fen": record.amount_fen,
        "amount": fen_to_yuan(record.amount_fen),
        "amount_text": format_fen(record.amount_fen),
        "amount_in_words": fen_to_capital(record.amount_fen),
        "size": record.size,
        "size_label": messages.SIZE.get(record.size, record.size),
        "basis": basis,
        "ratio_percent": f"{_ratio_percent(basis.get('ratio', '0'))}%",
        "layoff_rate_percent": _percent(basis.get("layoff_rate", "")),
        "layoff_rate_cap_percent": _percent(basis.get("layoff_rate_cap", "")),
        "unit_premium_text": format_fen(record.unit_premium_fen),
        "staff_premium_text": format_fen(record.staff_premium_fen),
        "premium_total_text": format_fen(int(basis.get("premium_total_fen", 0))),
        "computed_text": format_fen(int(basis.get("computed_fen", 0))),
        "arrears_text": format_fen(record.arrears_fen),
        "ineligible_reasons": messages.ineligible_reasons(failed),
        "insured_count": record.insured_count,
        "layoff_count": record.layoff_count,
        "bank_name": record.bank_name,
        "bank_account_masked": mask_account(record.bank_account),
        "decided_at": as_utc(record.decided_at),
        "decided_by_name": record.decided_by_name,
        "decided_acr": record.decided_acr,
        "decision_note": record.decision_note,
        "paid_at": as_utc(record.paid_at),
        "version": record.version,
        "can_decide": record.status == RecordStatus.PENDING,
    }


def _ratio_percent(ratio: str) -> str:
    value = (Decimal(ratio) * 100).normalize()
    return format(value, "f")
