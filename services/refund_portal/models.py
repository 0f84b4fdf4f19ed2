"""refund_portal storage: refund records (稳岗返还记录), the imports that
created them, payment batches, the agency's staff accounts, the hash-chained
audit log, and the portal's sessions and introspection cache.

Money columns are integer fen (``*_fen``); times are UTC.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import declarative_base
from shared.kvstore import define_kv_table

__all__ = [
    "Base",
    "metadata",
    "kv_table",
    "StaffAccount",
    "ImportBatch",
    "ImportUpload",
    "RefundRecord",
    "PaymentBatch",
    "AuditEntry",
    "AuditHead",
    "RecordStatus",
]

Base = declarative_base()
metadata = Base.metadata


kv_table = define_kv_table(metadata)


class RecordStatus:
    """待确认 → 已确认 → 已发放, or 已放弃; 账户待核实 while the agency checks
    a bank account the unit reported wrong; 不符合条件 when the rule refunds nothing."""

    PENDING = "pending"
    ACCOUNT_REPORTED = "account_reported"
    CONFIRMED = "confirmed"
    PAID = "paid"
    DECLINED = "declined"
    INELIGIBLE = "ineligible"

    ALL = (PENDING, ACCOUNT_REPORTED, CONFIRMED, PAID, DECLINED, INELIGIBLE)


class StaffAccount(Base):
    """An agency (社保经办机构) staff account for the management side."""

    __tablename__ = "staff_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    login_name: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(50))
    role: Mapped[str] = mapped_column(String(20))  # clerk | supervisor | auditor
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # The console's second factor (shared.staff_totp), encrypted under
    # REFUND_STAFF_TOTP_KEYS; None until enrolled, and no login without it.
    totp_secret_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)


class ImportBatch(Base):
    """One accepted import of a year's eligibility list (免申即享名单)."""

    __tablename__ = "import_batch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    filename: Mapped[str] = mapped_column(String(200))
    file_sha256: Mapped[str] = mapped_column(String(64), index=True)
    mode: Mapped[str] = mapped_column(String(20))  # all | good_only | demo
    rows_total: Mapped[int] = mapped_column(Integer)
    rows_imported: Mapped[int] = mapped_column(Integer)
    rows_unchanged: Mapped[int] = mapped_column(Integer)
    rows_rejected: Mapped[int] = mapped_column(Integer)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"), nullable=True)
    staff_name: Mapped[str] = mapped_column(String(50))
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ImportUpload(Base):
    """A refused file, kept for a while so the operator can choose to import
    its good rows only without choosing the file again."""

    __tablename__ = "import_upload"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_account.id", ondelete="CASCADE"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    file_sha256: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


class ImportJob(Base):
    """A list import running in the background: its state and counts, in the
    database so that whichever replica the browser asks can report it. The
    file itself is the :class:`ImportUpload` named by ``upload_id``; the
    records are written in one transaction when the rows are checked, so a
    job that fails or is cut off leaves nothing behind."""

    __tablename__ = "import_job"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_account.id", ondelete="CASCADE"), index=True)
    upload_id: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(200))
    year: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(10))  # all | good_only
    state: Mapped[str] = mapped_column(String(10))  # queued | reading | writing | finished
    rows_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    error_rows: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON, once finished
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class PaymentBatch(Base):
    """Confirmed records handed to payment together (拨付批次)."""

    __tablename__ = "payment_batch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    record_count: Mapped[int] = mapped_column(Integer)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))  # open | paid
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(50))
    paid_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    paid_by: Mapped[str | None] = mapped_column(String(50), nullable=True)
    paid_reference: Mapped[str | None] = mapped_column(String(100), nullable=True)


class RefundRecord(Base):
    """One unit's refund for one year, as imported and as decided since."""

    __tablename__ = "refund_record"
    __table_args__ = (UniqueConstraint("year", "uscc"), UniqueConstraint("year", "unit_code"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    uscc: Mapped[str] = mapped_column(String(18), index=True)
    unit_code: Mapped[str] = mapped_column(String(20))
    org_name: Mapped[str] = mapped_column(String(200))
    size: Mapped[str] = mapped_column(String(8))  # large | sme
    insured_count: Mapped[int] = mapped_column(Integer)
    unit_premium_fen: Mapped[int] = mapped_column(BigInteger)
    staff_premium_fen: Mapped[int] = mapped_column(BigInteger)
    layoff_count: Mapped[int] = mapped_column(Integer)
    arrears_fen: Mapped[int] = mapped_column(BigInteger)
    bank_name: Mapped[str] = mapped_column(String(100))
    bank_account: Mapped[str] = mapped_column(String(40))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    basis: Mapped[str] = mapped_column(Text)  # JSON: the rule's figures as applied
    status: Mapped[str] = mapped_column(String(20), index=True)
    # SHA-256 of the row as imported: re-importing the same row changes nothing.
    row_digest: Mapped[str] = mapped_column(String(64))
    import_batch_id: Mapped[int] = mapped_column(ForeignKey("import_batch.id"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    payment_batch_id: Mapped[int | None] = mapped_column(ForeignKey("payment_batch.id"), nullable=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # The unit's decision: who (the ``act`` handler), at which level, when, from where.
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decided_by_sub: Mapped[str | None] = mapped_column(String(100), nullable=True)
    decided_by_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    decided_acr: Mapped[str | None] = mapped_column(String(40), nullable=True)
    decided_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_channel: Mapped[str | None] = mapped_column(String(60), nullable=True)
    decision_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    paid_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)


class AuditEntry(Base):
    """One entry of the audit log. ``hash`` is HMAC-SHA256, under the key
    named by ``key_id``, over the entry's fields and ``prev_hash``, so editing
    or removing an entry breaks the chain, and rewriting it takes the key
    (``python -m services.refund_portal.audit verify``). ``key_id`` is NULL
    only for entries written before the log was keyed: plain SHA-256."""

    __tablename__ = "audit_entry"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor_kind: Mapped[str] = mapped_column(String(10))  # unit | staff | system
    actor_id: Mapped[str] = mapped_column(String(100))
    actor_name: Mapped[str] = mapped_column(String(200))
    acr: Mapped[str | None] = mapped_column(String(40), nullable=True)
    address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    action: Mapped[str] = mapped_column(String(40), index=True)
    record_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    subject: Mapped[str | None] = mapped_column(String(60), nullable=True)  # e.g. import:3, payment:2
    detail: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[str | None] = mapped_column(String(20), nullable=True)  # REFUND_AUDIT_KEYS id; NULL: legacy SHA-256


class AuditHead(Base):
    """The chain's last entry, one row: appends lock it, so entries are
    numbered and chained one at a time even across replicas."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
