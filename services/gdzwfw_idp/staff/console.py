"""What the staff console shows: units found by a search, one unit's record."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from services.gdzwfw_idp.accounts import get_account, latest_level_changes
from services.gdzwfw_idp.models import Account
from services.gdzwfw_idp.registry import find_legal_person
from shared.db import Database

__all__ = ["find_units", "unit_record"]


def find_units(db: Database, *, q: str) -> list[Account]:
    """Legal persons by exact USCC or login name, or by part of the name (20 at most)."""
    if not q:
        return []
    with db.transaction() as s:
        found = list(
            s.execute(
                select(Account)
                .where(
                    Account.account_type == "legal_person",
                    or_(Account.uscc == q.upper(), Account.org_name.contains(q), Account.login_name == q),
                )
                .order_by(Account.org_name)
                .limit(20)
            ).scalars()
        )
        s.expunge_all()
        return found


def unit_record(db: Database, *, account_id: str) -> dict[str, Any] | None:
    """The unit, its 法人基础库 record and its last ten level changes (None: no such legal person)."""
    with db.transaction() as s:
        unit = get_account(s, account_id=account_id)
        if unit is None or unit.account_type != "legal_person":
            return None
        record = find_legal_person(s, uscc=unit.uscc or "")
        changes = latest_level_changes(s, account_id=unit.id, limit=10)
        s.expunge_all()
    return {"unit": unit, "record": record, "changes": changes}
