"""The audit trail: who did what to which account, binding or application."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.hrss_isso.models import AuditEntry

__all__ = ["record", "entries_for"]


def record(db: Session, *, at: dt.datetime, actor_type: str, actor_id: str, action: str, target: str, **detail: Any) -> None:
    db.add(
        AuditEntry(
            at=at,
            actor_type=actor_type,
            actor_id=actor_id,
            action=action,
            target=target,
            detail=json.dumps(detail, ensure_ascii=False, default=str),
        )
    )


def entries_for(db: Session, *, target: str, limit: int = 50) -> list[AuditEntry]:
    return list(db.execute(select(AuditEntry).where(AuditEntry.target == target).order_by(AuditEntry.id.desc()).limit(limit)).scalars())
