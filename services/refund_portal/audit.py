"""The audit log: every import, confirmation and state change, each entry
chained to the previous one and signed with HMAC-SHA256.

An entry's ``hash`` is an HMAC-SHA256 over all its fields, the previous
entry's hash and its ``key_id``, under the key of ``REFUND_AUDIT_KEYS`` that
``key_id`` names; the one-row ``audit_head`` holds the last sequence number
and hash. Editing an entry, removing one from the middle or reordering them
breaks the chain; entries about a record also carry the state they left the
record in, so a silent edit of the record itself is found too. Unlike the
plain SHA-256 chain this was before, someone who can write to the database
but does not hold a key cannot rewrite the chain consistently.

Keys rotate: the first one configured (newest first, as for the staff TOTP
keys and cryptography's MultiFernet) signs, the older ones verify what they
signed. An entry signed with an older key than an entry before it is
reported, so a retired key cannot add entries after the rotation, nor change
those before it (the first entry under the newer key covers their hashes).

Entries written before the log was keyed (``key_id`` NULL, plain SHA-256)
verify only as the chain's beginning up to ``REFUND_AUDIT_LEGACY_HEAD``, the
last of them as ``seq:hash``, which the operator copies from their own record
when upgrading. That anchor has to live outside the database: anything there
(a marker row, an entry the service writes to seal them) could be forged
together with a chain recomputed with plain SHA-256, which is exactly what
the key is there to catch. Any other unkeyed entry is reported.

What the key does not catch is entries removed from the end with the head row
set back to match (records they changed still differ from what the log last
said about them): operators who want that caught copy the head hash shown on
the audit page elsewhere (a dated note, a ticket) and compare it later.

    python -m services.refund_portal.audit verify
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.refund_portal.models import AuditEntry, AuditHead, RefundRecord
from shared.clock import Clock
from shared.db import Database

if TYPE_CHECKING:
    from services.refund_portal.settings import RefundSettings

__all__ = [
    "GENESIS",
    "Actor",
    "AuditKeys",
    "AuditChain",
    "record_state",
    "legacy_hash",
    "verify_chain",
    "ChainReport",
    "ensure_head",
    "main",
]

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


def _fields(entry: AuditEntry) -> list[Any]:
    return [
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


def legacy_hash(entry: AuditEntry) -> str:
    """The unkeyed SHA-256 of entries written before the log was keyed."""
    return hashlib.sha256(canonical_json(_fields(entry)).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AuditKeys:
    """The audit log's HMAC keys, newest first (the first one signs), and
    where the unkeyed entries of a log begun before them end, if they do."""

    keys: tuple[tuple[str, bytes], ...]
    legacy_head: tuple[int, str] | None = None

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("the audit log needs at least one key")

    @classmethod
    def configured(cls, keys: Mapping[str, SecretStr], legacy_head: tuple[int, str] | None = None) -> AuditKeys:
        return cls(tuple((kid, secret.get_secret_value().encode("utf-8")) for kid, secret in keys.items()), legacy_head)

    @classmethod
    def from_settings(cls, settings: RefundSettings) -> AuditKeys:
        return cls.configured(settings.audit_keys, settings.audit_legacy_anchor)

    @property
    def signing_id(self) -> str:
        return self.keys[0][0]

    def rank(self, key_id: str) -> int | None:
        """How new the key is (higher is newer: the configuration lists the
        newest first); None when unknown."""
        return next((len(self.keys) - i for i, (kid, _) in enumerate(self.keys) if kid == key_id), None)

    def mac(self, entry: AuditEntry) -> str | None:
        """The entry's HMAC under the key its ``key_id`` names; None when that key is not configured."""
        secret = next((s for kid, s in self.keys if kid == entry.key_id), None)
        if secret is None:
            return None
        # key_id is covered too: an entry cannot be passed off as another key's.
        message = canonical_json([*_fields(entry), entry.key_id]).encode("utf-8")
        return hmac.new(secret, message, hashlib.sha256).hexdigest()


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
    """Appends to the log inside the caller's transaction, signing with the
    newest key. Opening it locks the head row, so concurrent writers chain
    one after another."""

    def __init__(self, session: Session, *, clock: Clock, keys: AuditKeys) -> None:
        self.session = session
        self.clock = clock
        self.keys = keys
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
            key_id=self.keys.signing_id,
        )
        entry.hash = self.keys.mac(entry)
        self.session.add(entry)
        self.head.seq, self.head.hash = entry.seq, entry.hash
        return entry


@dataclass
class ChainReport:
    entries: int = 0
    head_hash: str = GENESIS
    problems: list[tuple[int | None, str]] = field(default_factory=list)
    legacy: int = 0  # unkeyed entries accepted up to REFUND_AUDIT_LEGACY_HEAD

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


def verify_chain(session: Session, keys: AuditKeys) -> ChainReport:
    """Walk the whole chain; every problem is ``(seq, code)``:
    ``gap`` (an entry is missing), ``prev_hash`` (not chained to the one
    before), ``hash`` (its fields were changed, or it was recomputed without
    the key), ``unkeyed`` (a plain SHA-256 entry where only keyed ones may
    be: what recomputing the chain without the key gives), ``legacy_head``
    (the unkeyed entries do not end at REFUND_AUDIT_LEGACY_HEAD),
    ``key_unknown:<id>`` (signed with a key not configured), ``key_order``
    (signed with an older key than an entry before it), ``head`` (entries
    removed from the end), ``record_state`` / ``record_unlogged`` (a record
    differs from what the log last said about it)."""
    report = ChainReport()
    expected_prev, expected_seq = GENESIS, 1
    last_state: dict[int, dict[str, Any]] = {}
    legacy_seq, legacy_hash_pinned = keys.legacy_head or (0, None)
    legacy_anchored = keys.legacy_head is None
    newest_rank = -1
    for entry in _entries(session):
        if entry.seq != expected_seq:
            report.problems.append((entry.seq, "gap"))
        if entry.prev_hash != expected_prev:
            report.problems.append((entry.seq, "prev_hash"))
        if entry.key_id is None:
            if entry.seq > legacy_seq:
                report.problems.append((entry.seq, "unkeyed"))
            elif legacy_hash(entry) != entry.hash:
                report.problems.append((entry.seq, "hash"))
            else:
                report.legacy += 1
            if entry.seq == legacy_seq and entry.hash == legacy_hash_pinned:
                legacy_anchored = True
        else:
            rank = keys.rank(entry.key_id)
            if rank is None:
                report.problems.append((entry.seq, f"key_unknown:{entry.key_id}"))
            else:
                if keys.mac(entry) != entry.hash:
                    report.problems.append((entry.seq, "hash"))
                if rank < newest_rank:
                    report.problems.append((entry.seq, "key_order"))
                newest_rank = max(newest_rank, rank)
        if entry.record_id is not None:
            try:
                state = json.loads(entry.detail).get("state")
            except ValueError:
                state = None
            if state is not None:
                last_state[entry.record_id] = state
        expected_prev, expected_seq = entry.hash, entry.seq + 1
        report.entries += 1
    if not legacy_anchored:
        # The pinned entry is missing, keyed, or not the one the operator recorded.
        report.problems.append((legacy_seq, "legacy_head"))
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
    sub.add_parser("verify", help="check the audit log's HMAC chain and that records match their last entry")
    parser.parse_args(argv)
    settings = RefundSettings()
    db = Database(settings.database_url)
    try:
        with db.transaction() as s:
            report = verify_chain(s, AuditKeys.from_settings(settings))
    finally:
        db.dispose()
    if report.ok:
        legacy = f" ({report.legacy} of them unkeyed SHA-256 from before the keys)" if report.legacy else ""
        print(f"audit log OK: {report.entries} entries{legacy}, head {report.head_hash}")
        return 0
    print(f"audit log BROKEN: {len(report.problems)} problem(s) in {report.entries} entries")
    for seq, code in report.problems:
        print(f"  entry {seq if seq is not None else '-'}: {code}")
    if settings.audit_legacy_head is None and any(code == "unkeyed" for _, code in report.problems):
        # After upgrading a log begun before the keys. The log cannot tell
        # such entries from a rewrite, so the hash must come from elsewhere.
        print(
            "  note: unkeyed entries are plain SHA-256. If they were written before REFUND_AUDIT_KEYS existed, set\n"
            "  REFUND_AUDIT_LEGACY_HEAD=<seq>:<hash> from your own record of the head made before the upgrade."
        )
    return 1


if __name__ == "__main__":
    sys.exit(main())
