"""What the 实名核验 page shows of an account: its latest level changes, the
methods it has passed (已核验), and the certificates bound to it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.gdzwfw_idp.accounts import latest_level_changes, verified_methods
from services.gdzwfw_idp.models import CertificateBinding
from shared.db import Database

__all__ = ["verification_record", "actor_of"]


def verification_record(db: Database, *, account_id: str) -> dict[str, Any]:
    with db.transaction() as s:
        changes = latest_level_changes(s, account_id=account_id, limit=20)
        done = verified_methods(s, account_id=account_id)
        bindings = list(
            s.execute(
                select(CertificateBinding).where(CertificateBinding.account_id == account_id).order_by(CertificateBinding.id.desc())
            ).scalars()
        )
        s.expunge_all()
    return {"changes": changes, "done": done, "bindings": bindings}


def actor_of(login_name: str) -> str:
    """How the audit log names the unit verifying itself."""
    return f"本人（账号 {login_name}）"
