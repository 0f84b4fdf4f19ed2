"""Account queries (keyword-only, one session passed in)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.gdzwfw_idp.models import Account, TrustLevelChange
from shared.trust import TrustLevel

__all__ = ["get_account", "find_by_login_name", "record_level_change", "latest_level_changes", "new_account_id"]


def new_account_id() -> str:
    return uuid.uuid4().hex


def get_account(db: Session, *, account_id: str) -> Account | None:
    return db.get(Account, account_id)


def find_by_login_name(db: Session, *, login_name: str) -> Account | None:
    return db.execute(select(Account).where(Account.login_name == login_name)).scalar_one_or_none()


def record_level_change(
    db: Session, *, account: Account, to_level: TrustLevel, method: str, evidence: str, actor: str, at: dt.datetime
) -> None:
    db.add(
        TrustLevelChange(
            account_id=account.id,
            from_level=account.trust_level,
            to_level=to_level.name,
            method=method,
            evidence=evidence,
            actor=actor,
            created_at=at,
        )
    )
    account.trust_level = to_level.name
    account.verification_method = method


def latest_level_changes(db: Session, *, account_id: str, limit: int = 10) -> list[TrustLevelChange]:
    return list(
        db.execute(
            select(TrustLevelChange)
            .where(TrustLevelChange.account_id == account_id)
            .order_by(TrustLevelChange.id.desc())
            .limit(limit)
        ).scalars()
    )
