"""办事大厅现场核验 (→ 五级（原L3）): an officer at a service hall checks the
unit's documents in person and records it at the staff console.

The unit must be in 法人基础库 with a living registration; the officer must
tick the licence and either the legal representative's ID or the handler's
ID with a sealed authorisation. The audit entry names the hall, the
documents, the note and the officer.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.gdzwfw_idp import messages as msg
from services.gdzwfw_idp.accounts import get_account, record_verification
from services.gdzwfw_idp.models import StaffAccount
from services.gdzwfw_idp.registry import LIVING, find_legal_person
from shared.clock import Clock
from shared.db import Database
from shared.trust import TrustLevel

__all__ = ["DOCUMENTS", "document_errors", "record_hall_check"]

# What an officer may tick; the first two (or the handler's pair) are required.
DOCUMENTS = {
    "licence": "营业执照（登记证书）原件",
    "rep_id": "法定代表人（负责人）身份证件原件",
    "handler_id": "经办人身份证件原件",
    "authorisation": "加盖单位公章的授权委托书",
}


def document_errors(checked: Iterable[str]) -> dict[str, str]:
    """Whether the ticked documents suffice: ``{"documents": why not}`` or ``{}``."""
    ticked = set(checked)
    if "licence" not in ticked:
        return {"documents": "须核验营业执照（登记证书）原件"}
    if "rep_id" not in ticked and not {"handler_id", "authorisation"} <= ticked:
        return {"documents": "须核验法定代表人身份证件原件，或经办人身份证件原件及授权委托书"}
    return {}


def record_hall_check(db: Database, clock: Clock, *, staff: StaffAccount, account_id: str, checked: list[str], note: str) -> dict[str, str]:
    """Raise the unit to L3 on the officer's word: ``{}``, or the errors to show."""
    errors = document_errors(checked)
    with db.transaction() as s:
        unit = get_account(s, account_id=account_id)
        if unit is None or unit.account_type != "legal_person":
            return errors or {"documents": "未找到该法人账号"}
        record = find_legal_person(s, uscc=unit.uscc or "")
        if record is None or record.status != LIVING:
            return errors or {"documents": "该单位在法人基础库中无存续登记，不能办理现场核验"}
        if errors:
            return errors
        record_verification(
            s,
            account=unit,
            level=TrustLevel.L3,
            method=msg.METHOD_HALL,
            evidence=f"{staff.hall}现场核验；核验材料：{'、'.join(DOCUMENTS[d] for d in checked)}" + (f"；备注：{note}" if note else ""),
            actor=f"办事大厅工作人员 {staff.name}（工号 {staff.login_name}）",
            at=clock.now(),
        )
    return {}
