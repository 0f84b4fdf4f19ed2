"""The audit log: every import, confirmation and state change, each entry
chained to the previous one by SHA-256.

An entry's ``hash`` covers all its fields and the previous entry's hash, and
the one-row ``audit_head`` holds the last sequence number and hash. Editing
an entry, removing one from the middle or the end, or reordering them breaks
the chain; entries about a record also carry the state they left the record
in, so a silent edit of the record itself is found too. Rewriting the whole
chain consistently needs the head hash to be recomputed: operators who want
protection against that copy the head hash shown on the audit page elsewhere
(a dated note, a ticket) and compare it later.

    python -m services.refund_portal.audit verify
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.refund_portal.models import AuditEntry, AuditHead, RefundRecord
from shared.clock import Clock
from shared.db import Database

__all__ = ["GENESIS", "Actor", "AuditChain", "record_state", "verify_chain", "ChainReport", "ensure_head", "main"]

GENESIS = "0" * 64
HEAD_ID = 1


@dataclass(frozen=True)
class Actor:
    """Who acts: a unit (through its ``act`` handler), a staff member, or the system."""

    kind: str  # unit | staff | system
    id: str
    name: str
    acr: str | None = None
    address: str | None = None


def canonical_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _utc_text(value: dt.datetime) -> str:
    if value.tzinfo is None:  # SQLite hands back naive UTC
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def entry_hash(entry: AuditEntry) -> str:
    fields = [
        entry.seq,
        _utc_text(entry.at),
        entry.actor_kind,
        entry.actor_id,
        entry.actor_name,
        entry.acr,
        entry.address,
        entry.action,
        entry.record_id,
        entry.subject,
        entry.detail,
        entry.prev_hash,
    ]
    return hashlib.sha256(canonical_json(fields).encode("utf-8")).hexdigest()


def record_state(record: RefundRecord) -> dict[str, Any]:
    """What an entry about a record says the record looks like afterwards."""
    return {
        "status": record.status,
        "amount_fen": record.amount_fen,
        "bank_account_digest": hashlib.sha256(f"{record.bank_name}\n{record.bank_account}".encode()).hexdigest()[:32],
        "payment_batch_id": record.payment_batch_id,
    }


def ensure_head(db: Database) -> None:
    """Create the head row once (at startup), so appends only ever lock it."""
    try:
        with db.transaction() as s:
            if s.get(AuditHead, HEAD_ID) is None:
                s.add(AuditHead(id=HEAD_ID, seq=0, hash=GENESIS))
    except IntegrityError:
        pass  # another worker starting at the same moment created it


class AuditChain:
    """Appends to the log inside the caller's transaction. Opening it locks
    the head row, so concurrent writers chain one after another."""

    def __init__(self, session: Session, *, clock: Clock) -> None:
        self.session = session
        self.clock = clock
        head = session.execute(select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update()).scalar_one_or_none()
        if head is None:
            head = AuditHead(id=HEAD_ID, seq=0, hash=GENESIS)
            session.add(head)
        self.head = head

    def append(
        self,
        actor: Actor,
        action: str,
        *,
        detail: dict[str, Any] | None = None,
        record: RefundRecord | None = None,
        subject: str | None = None,
    ) -> AuditEntry:
        body = dict(detail or {})
        if record is not None:
            self.session.flush()  # the record's id and state as they now stand
            body["state"] = record_state(record)
        entry = AuditEntry(
            seq=self.head.seq + 1,
            at=self.clock.now(),
            actor_kind=actor.kind,
            actor_id=actor.id,
            actor_name=actor.name,
            acr=actor.acr,
            address=actor.address,
            action=action,
            record_id=record.id if record is not None else None,
            subject=subject,
            detail=canonical_json(body),
            prev_hash=self.head.hash,
        )
        entry.hash = entry_hash(entry)
        self.session.add(entry)
        self.head.seq, self.head.hash = entry.seq, entry.hash
        return entry


@dataclass
class ChainReport:
    entries: int = 0
    head_hash: str = GENESIS
    problems: list[tuple[int | None, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _entries(session: Session, chunk: int = 1000) -> Iterator[AuditEntry]:
    last = 0
    while True:
        rows = session.execute(select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(chunk)).scalars().all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


def verify_chain(session: Session) -> ChainReport:
    """Walk the whole chain; every problem is ``(seq, code)``:
    ``gap`` (an entry is missing), ``prev_hash`` (not chained to the one
    before), ``hash`` (its fields were changed), ``head`` (entries removed
    from the end), ``record_state`` / ``record_unlogged`` (a record differs
    from what the log last said about it)."""
    report = ChainReport()
    expected_prev, expected_seq = GENESIS, 1
    last_state: dict[int, dict[str, Any]] = {}
    for entry in _entries(session):
        if entry.seq != expected_seq:
            report.problems.append((entry.seq, "gap"))
        if entry.prev_hash != expected_prev:
            report.problems.append((entry.seq, "prev_hash"))
        if entry_hash(entry) != entry.hash:
            report.problems.append((entry.seq, "hash"))
        if entry.record_id is not None:
            try:
                state = json.loads(entry.detail).get("state")
            except ValueError:
                state = None
            if state is not None:
                last_state[entry.record_id] = state
        expected_prev, expected_seq = entry.hash, entry.seq + 1
        report.entries += 1
    report.head_hash = expected_prev
    head = session.get(AuditHead, HEAD_ID)
    head_seq, head_hash = (head.seq, head.hash) if head is not None else (0, GENESIS)
    if head_seq != expected_seq - 1 or head_hash != expected_prev:
        report.problems.append((head_seq, "head"))
    for record in session.execute(select(RefundRecord).order_by(RefundRecord.id)).scalars():
        logged = last_state.get(record.id)
        if logged is None:
            report.problems.append((None, f"record_unlogged:{record.id}"))
        elif logged != record_state(record):
            report.problems.append((None, f"record_state:{record.id}"))
    return report


def count_entries(session: Session) -> int:
    return session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()


def main(argv: list[str] | None = None) -> int:
    import argparse

    from services.refund_portal.settings import RefundSettings

    parser = argparse.ArgumentParser(prog="python -m services.refund_portal.audit")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("verify", help="check the audit log's hash chain and that records match their last entry")
    parser.parse_args(argv)
    db = Database(RefundSettings().database_url)
    try:
        with db.transaction() as s:
            report = verify_chain(s)
    finally:
        db.dispose()
    if report.ok:
        print(f"audit log OK: {report.entries} entries, head {report.head_hash}")
        return 0
    print(f"audit log BROKEN: {len(report.problems)} problem(s) in {report.entries} entries")
    for seq, code in report.problems:
        print(f"  entry {seq if seq is not None else '-'}: {code}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
