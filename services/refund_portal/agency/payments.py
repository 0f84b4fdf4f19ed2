"""Handing confirmed records to payment (拨付批次) and marking them paid,
and the export files the bank transfer is made from."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.refund_portal.agency.records import default_year
from services.refund_portal.audit import Actor, AuditChain, AuditKeys
from services.refund_portal.decisions import DecisionError
from services.refund_portal.models import PaymentBatch, RecordStatus, RefundRecord
from services.refund_portal.policy import PolicyBook
from services.refund_portal.records import list_payment_batches, list_records, present, records_in_batch, years_with_records
from shared.clock import Clock, as_utc
from shared.db import Database
from shared.money import fen_to_capital, fen_to_yuan, format_fen
from shared.web.app import beijing_time

__all__ = [
    "create_batch",
    "mark_paid",
    "ExportFile",
    "export_rows",
    "to_csv",
    "to_xlsx",
    "EXPORT_HEADER",
    "EXPORT_FORMATS",
    "payments_overview",
    "open_batch",
    "batch_detail",
    "export_batch",
    "mark_batch_paid",
]

EXPORT_HEADER = [
    "序号",
    "记录编号",
    "返还年度",
    "统一社会信用代码",
    "单位名称",
    "单位管理码",
    "开户银行",
    "银行账号",
    "返还金额（元）",
    "金额大写",
    "确认时间（北京时间）",
    "确认经办人",
    "拨付批次",
]


def create_batch(session: Session, *, year: int, actor: Actor, clock: Clock, audit_keys: AuditKeys) -> PaymentBatch:
    """All confirmed records of ``year`` not yet in a batch, in one new batch."""
    records = list(
        session.execute(
            select(RefundRecord)
            .where(RefundRecord.year == year, RefundRecord.status == RecordStatus.CONFIRMED, RefundRecord.payment_batch_id.is_(None))
            .order_by(RefundRecord.id)
            .with_for_update()
        ).scalars()
    )
    if not records:
        raise DecisionError("no_confirmed")
    batch = PaymentBatch(
        year=year,
        record_count=len(records),
        total_fen=sum(r.amount_fen for r in records),
        status="open",
        created_at=clock.now(),
        created_by=actor.name[:50],
    )
    session.add(batch)
    session.flush()
    chain = AuditChain(session, clock=clock, keys=audit_keys)
    for record in records:
        record.payment_batch_id = batch.id
        record.updated_at = clock.now()
        chain.append(actor, "record.batched", record=record, subject=f"payment:{batch.id}", detail={"year": year})
    chain.append(
        actor, "payment.created", subject=f"payment:{batch.id}", detail={"year": year, "count": len(records), "total_fen": batch.total_fen}
    )
    return batch


def mark_paid(session: Session, *, batch_id: int, reference: str, actor: Actor, clock: Clock, audit_keys: AuditKeys) -> PaymentBatch:
    """The bank has paid the batch: its records go 已确认 → 已发放."""
    reference = (reference or "").strip()
    if not reference:
        raise DecisionError("reference_required")
    now = clock.now()
    changed = session.execute(
        update(PaymentBatch)
        .where(PaymentBatch.id == batch_id, PaymentBatch.status == "open")
        .values(status="paid", paid_at=now, paid_by=actor.name[:50], paid_reference=reference[:100])
        .execution_options(synchronize_session=False)
    ).rowcount
    batch = session.get(PaymentBatch, batch_id)
    if batch is None:
        raise DecisionError("not_found")
    session.refresh(batch)
    if changed != 1:
        raise DecisionError("batch_paid")
    chain = AuditChain(session, clock=clock, keys=audit_keys)
    for record in records_in_batch(session, batch_id=batch_id):
        if record.status != RecordStatus.CONFIRMED:
            continue
        record.status = RecordStatus.PAID
        record.paid_at = now
        record.updated_at = now
        record.version += 1
        chain.append(
            actor,
            "record.paid",
            record=record,
            subject=f"payment:{batch_id}",
            detail={"from": RecordStatus.CONFIRMED, "to": RecordStatus.PAID, "reference": reference, "year": record.year},
        )
    chain.append(
        actor,
        "payment.paid",
        subject=f"payment:{batch_id}",
        detail={"count": batch.record_count, "total_fen": batch.total_fen, "reference": reference},
    )
    return batch


@dataclass(frozen=True)
class ExportFile:
    filename: str
    media_type: str
    content: bytes


def _cell(value: str) -> str:
    # Names come from imported files: never let a spreadsheet run one as a formula.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def export_rows(records: list[RefundRecord], *, batch_id: int) -> list[list[str]]:
    rows = []
    for index, r in enumerate(records, start=1):
        decided = as_utc(r.decided_at)
        rows.append(
            [
                str(index),
                str(r.id),
                str(r.year),
                r.uscc,
                _cell(r.org_name),
                r.unit_code,
                _cell(r.bank_name),
                r.bank_account,
                fen_to_yuan(r.amount_fen),
                fen_to_capital(r.amount_fen),
                beijing_time(decided) if decided else "",
                _cell(r.decided_by_name or ""),
                str(batch_id),
            ]
        )
    return rows


def to_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_HEADER)
    writer.writerows(rows)
    # With a BOM, Excel in a Chinese locale opens UTF-8 correctly.
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(rows: list[list[str]], *, title: str, generated_at: dt.datetime) -> bytes:
    from decimal import Decimal

    import openpyxl
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append(EXPORT_HEADER)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="EEF5FD")
        cell.alignment = Alignment(horizontal="center")
    money_col = EXPORT_HEADER.index("返还金额（元）")
    for row in rows:
        values: list[object] = list(row)
        values[0] = int(row[0])
        values[money_col] = Decimal(row[money_col])  # exact: written as the decimal text
        sheet.append(values)
        sheet.cell(row=sheet.max_row, column=money_col + 1).number_format = "#,##0.00"
        # Accounts and codes stay text: a number cell would lose digits.
        for col in (4, 6, 8):
            sheet.cell(row=sheet.max_row, column=col).number_format = "@"
    widths = [6, 10, 10, 22, 34, 14, 26, 24, 16, 36, 20, 14, 10]
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    book.properties.created = generated_at.replace(tzinfo=None)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# ---- what the agency's pages ask for -------------------------------------------

EXPORT_FORMATS = ("csv", "xlsx")
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def payments_overview(db: Database, *, policies: PolicyBook, clock: Clock, year: int | None) -> dict[str, Any]:
    """The batches, and the year's confirmed records waiting for one."""
    with db.transaction() as s:
        years = years_with_records(s)
        chosen = default_year(years, policies=policies, clock=clock, year=year)
        batches = list_payment_batches(s)
        waiting, _ = list_records(s, year=chosen, status=RecordStatus.CONFIRMED, limit=10000)
        waiting = [r for r in waiting if r.payment_batch_id is None]
        total = sum(r.amount_fen for r in waiting)
    return {"year": chosen, "years": years, "batches": batches, "waiting": len(waiting), "waiting_total": format_fen(total)}


def open_batch(db: Database, *, year: int, actor: Actor, clock: Clock, audit_keys: AuditKeys) -> int:
    """:func:`create_batch` in its own transaction → the new batch's id."""
    with db.transaction() as s:
        return create_batch(s, year=year, actor=actor, clock=clock, audit_keys=audit_keys).id


def batch_detail(db: Database, *, batch_id: int) -> tuple[PaymentBatch, list[dict[str, Any]]] | None:
    with db.transaction() as s:
        batch = s.get(PaymentBatch, batch_id)
        if batch is None:
            return None
        s.expunge(batch)
        return batch, [present(r) for r in records_in_batch(s, batch_id=batch_id)]


def export_batch(
    db: Database,
    *,
    batch_id: int,
    format: str,
    actor: Actor,
    clock: Clock,
    audit_keys: AuditKeys,  # noqa: A002
) -> ExportFile | None:
    """The batch's transfer list as CSV or XLSX; who took it, and when, is logged."""
    with db.transaction() as s:
        batch = s.get(PaymentBatch, batch_id)
        if batch is None:
            return None
        rows = export_rows(records_in_batch(s, batch_id=batch_id), batch_id=batch_id)
        # Bank details leave the system: who took them, and when, is logged.
        AuditChain(s, clock=clock, keys=audit_keys).append(
            actor, "payment.exported", subject=f"payment:{batch_id}", detail={"format": format, "count": len(rows)}
        )
        year = batch.year
    name = f"稳岗返还拨付清单-{year}年度-批次{batch_id}"
    if format == "csv":
        return ExportFile(f"{name}.csv", "text/csv; charset=utf-8", to_csv(rows))
    return ExportFile(f"{name}.xlsx", _XLSX, to_xlsx(rows, title=f"{year}年度批次{batch_id}", generated_at=clock.now()))


def mark_batch_paid(db: Database, *, batch_id: int, reference: str, actor: Actor, clock: Clock, audit_keys: AuditKeys) -> str | None:
    """:func:`mark_paid` in its own transaction → None, or the refusal's code."""
    with db.transaction() as s:
        try:
            mark_paid(s, batch_id=batch_id, reference=reference, actor=actor, clock=clock, audit_keys=audit_keys)
        except DecisionError as exc:
            return exc.code
    return None
