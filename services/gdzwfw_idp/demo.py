"""Demo data for development mode only (DESIGN.md § Demo data; README lists it).

The identifiers are fictional but valid: check characters computed per
GB 32100 / GB 11643, so they pass the same validators real input does.
"""

from __future__ import annotations

from pydantic import SecretStr

from services.gdzwfw_idp.accounts import find_by_login_name, new_account_id, record_level_change
from services.gdzwfw_idp.models import Account
from shared.clock import Clock
from shared.db import Database
from shared.passwords import PasswordService
from shared.settings import ClientConfig
from shared.trust import TrustLevel

__all__ = ["DEMO_PASSWORD", "DEMO_ACCOUNTS", "DEMO_CLIENTS", "load_demo_data"]

DEMO_PASSWORD = "Gd@demo2026"

DEMO_CLIENTS = [
    ClientConfig(
        client_id="demo-rp",
        client_secret=SecretStr("demo-rp-secret"),
        client_name="演示应用（demo-rp）",
        redirect_uris=["http://127.0.0.1:8099/cb"],
        post_logout_redirect_uris=["http://127.0.0.1:8099/"],
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
        scope="openid profile",
    )
]

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
        "uscc": "91440105MA5DL3C31T",
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


def load_demo_data(db: Database, *, passwords: PasswordService, clock: Clock) -> None:
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
