"""三级（原L1）证件真实性核验 → 修改信息: the unit's record is read again from
法人基础库 and the account takes its name and legal representative."""

from __future__ import annotations

from services.gdzwfw_idp import messages as msg
from services.gdzwfw_idp.accounts import get_account, record_verification
from services.gdzwfw_idp.models import LegalPersonRecord
from services.gdzwfw_idp.registry import LIVING, find_legal_person
from shared.clock import Clock
from shared.db import Database
from shared.trust import TrustLevel

__all__ = ["registry_record", "recheck"]


def registry_record(db: Database, *, uscc: str) -> LegalPersonRecord | None:
    with db.transaction() as s:
        record = find_legal_person(s, uscc=uscc)
        if record is not None:
            s.expunge(record)
        return record


def recheck(db: Database, clock: Clock, *, account_id: str, actor: str) -> str | None:
    """Update the account from its living registry record: None, or why not."""
    with db.transaction() as s:
        account = get_account(s, account_id=account_id)
        record = find_legal_person(s, uscc=account.uscc or "")
        if record is None:
            return msg.REGISTRY_NOT_FOUND
        if record.status != LIVING:
            return msg.REGISTRY_CLOSED.format(status=record.status)
        changed = [
            field
            for field, old, new in (
                ("单位名称", account.org_name, record.org_name),
                ("法定代表人", account.legal_rep_name, record.legal_rep_name),
            )
            if new != old
        ]
        account.org_name, account.legal_rep_name, account.legal_rep_id_number = (
            record.org_name,
            record.legal_rep_name,
            record.legal_rep_id_number,
        )
        record_verification(
            s,
            account=account,
            level=TrustLevel.L1,
            method=msg.METHOD_REGISTRY,
            evidence="证件真实性核验（修改信息）：按法人基础库更新" + ("、".join(changed) if changed else "，信息无变化"),
            actor=actor,
            at=clock.now(),
        )
    return None
