"""Demo data for development mode only (DESIGN.md § Demo data; README lists it).

The identifiers are fictional but valid: check characters computed per
GB 32100 / GB 11643, so they pass the same validators real input does.
"""

from __future__ import annotations

from sqlalchemy import select

from services.gdzwfw_idp.accounts import add_handler, find_by_login_name, is_handler, new_account_id, record_level_change
from services.gdzwfw_idp.models import Account, StaffAccount
from services.gdzwfw_idp.staff.accounts import ROLE_AUDITOR, ROLE_HALL_OFFICER, StaffService
from shared.clock import Clock
from shared.db import Database
from shared.oauth.provider.demo import DEMO_FAPI, DEMO_RP
from shared.passwords import PasswordService
from shared.trust import TrustLevel

__all__ = ["DEMO_PASSWORD", "DEMO_ACCOUNTS", "DEMO_CLIENTS", "DEMO_HANDLERS", "DEMO_STAFF", "DEMO_STAFF_PASSWORD", "load_demo_data"]

DEMO_PASSWORD = "Gd@demo2026"
DEMO_STAFF_PASSWORD = "Gd@staff2026"

# 经办人: demo_person handles demo_l2 (try 我经办的法人 and 经办人登录).
DEMO_HANDLERS = [("demo_l2", "demo_person")]

# 办事大厅 staff (/staff/login). The TOTP secrets are published on purpose: in
# development anyone may compute the code (`python -m devtools.totp <secret>`).
DEMO_STAFF: list[dict] = [
    {
        "login_name": "hall_officer",
        "name": "林办事",
        "hall": "广州市天河区政务服务中心",
        "role": ROLE_HALL_OFFICER,
        "secret": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
    },
    {
        "login_name": "hall_auditor",
        "name": "梁审计",
        "hall": "广东省政务服务中心",
        "role": ROLE_AUDITOR,
        "secret": "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU",
    },
]

DEMO_CLIENTS = [DEMO_RP, DEMO_FAPI]

DEMO_ACCOUNTS: list[dict] = [
    {
        "login_name": "demo_l1",
        "account_type": "legal_person",
        "org_name": "广州市天河区示范科技有限公司",
        "uscc": "91440106MA5DL1A170",
        "legal_rep_name": "张明",
        "legal_rep_id_number": "440106198001010019",
        "level": TrustLevel.L1,
        "method": "法人基础库",
    },
    {
        "login_name": "demo_l2",
        "account_type": "legal_person",
        "org_name": "广州市越秀区示范贸易有限公司",
        "uscc": "91440104MA5DL2B24P",
        "legal_rep_name": "李华",
        "legal_rep_id_number": "440104198505120024",
        "level": TrustLevel.L2,
        "method": "企业/单位网银证书核验",
    },
    {
        "login_name": "demo_l3",
        "account_type": "legal_person",
        "org_name": "广州市荔湾区示范制造有限公司",
        "uscc": "91440103MA5DL3C31X",
        "legal_rep_name": "王强",
        "legal_rep_id_number": "440105197503030035",
        "level": TrustLevel.L3,
        "method": "办事大厅现场核验",
    },
    {
        # Not linked at hrss_isso: walks into the ISSO's first-login initialisation.
        "login_name": "demo_unlinked",
        "account_type": "legal_person",
        "org_name": "广州市天河区示范新创有限公司",
        "uscc": "91440106MA5DLUN43N",
        "legal_rep_name": "陈晓",
        "legal_rep_id_number": "440106199007150041",
        "level": TrustLevel.L2,
        "method": "电子营业执照核验",
    },
    {
        "login_name": "demo_person",
        "account_type": "natural_person",
        "person_name": "陈晓",
        "id_number": "440106199007150041",
        "level": TrustLevel.L2,
        "method": "微信扫码人脸识别",
    },
]


def load_demo_data(db: Database, *, passwords: PasswordService, clock: Clock, staff: StaffService | None = None) -> None:
    """Idempotent: accounts that exist are left as they are."""
    with db.transaction() as s:
        for spec in DEMO_ACCOUNTS:
            if find_by_login_name(s, login_name=spec["login_name"]) is not None:
                continue
            account = Account(
                id=new_account_id(),
                account_type=spec["account_type"],
                login_name=spec["login_name"],
                password_hash=passwords.hash(DEMO_PASSWORD),
                status="active",
                trust_level=TrustLevel.L1.name,
                verification_method="",
                mobile="13800138000",
                org_name=spec.get("org_name"),
                uscc=spec.get("uscc"),
                legal_rep_name=spec.get("legal_rep_name"),
                legal_rep_id_number=spec.get("legal_rep_id_number"),
                person_name=spec.get("person_name"),
                id_number=spec.get("id_number"),
                created_at=clock.now(),
            )
            s.add(account)
            s.flush()
            account.trust_level = None  # the audit entry records the first level as a change from nothing
            record_level_change(
                s,
                account=account,
                to_level=spec["level"],
                method=spec["method"],
                evidence="演示数据（仅开发环境加载）",
                actor="demo-loader",
                at=clock.now(),
            )
    with db.transaction() as s:
        for unit_login, handler_login in DEMO_HANDLERS:
            unit = find_by_login_name(s, login_name=unit_login)
            handler = find_by_login_name(s, login_name=handler_login)
            if unit and handler and not is_handler(s, legal_person_id=unit.id, handler_id=handler.id):
                add_handler(s, legal_person=unit, handler=handler, at=clock.now())
        if staff is not None:
            for spec in DEMO_STAFF:
                if s.execute(select(StaffAccount.id).where(StaffAccount.login_name == spec["login_name"])).first() is None:
                    staff.create(
                        s,
                        login_name=spec["login_name"],
                        name=spec["name"],
                        hall=spec["hall"],
                        role=spec["role"],
                        password=DEMO_STAFF_PASSWORD,
                        secret=spec["secret"],
                    )
