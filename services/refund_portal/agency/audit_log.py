"""The audit log as the agency reads it: a page of entries, newest first,
and whether the whole chain verifies (see :mod:`services.refund_portal.audit`)."""

from __future__ import annotations

from typing import Any

from services.refund_portal.agency.records import describe
from services.refund_portal.audit import AuditKeys, count_entries, verify_chain
from services.refund_portal.records import audit_page
from shared.db import Database

__all__ = ["audit_log"]


def audit_log(db: Database, *, keys: AuditKeys, before: int | None, record_id: int | None) -> dict[str, Any]:
    """Entries before ``before`` (of one record, if asked), their total, the
    chain's report and where the next older page starts."""
    with db.transaction() as s:
        entries = [
            {
                "seq": e.seq,
                "at": e.at,
                "kind": e.actor_kind,
                "who": e.actor_name,
                "actor_id": e.actor_id,
                "acr": e.acr,
                "address": e.address,
                "what": describe(e),
                "record_id": e.record_id,
                "subject": e.subject,
                "hash": e.hash,
                "key_id": e.key_id,
            }
            for e in audit_page(s, before=before, record_id=record_id)
        ]
        total = count_entries(s)
    with db.transaction() as s:
        report = verify_chain(s, keys)
    older = entries[-1]["seq"] if entries and entries[-1]["seq"] > 1 else None
    return {"entries": entries, "total": total, "report": report, "older": older}
