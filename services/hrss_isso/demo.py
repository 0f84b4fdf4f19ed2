"""Demo data for development mode only (the README lists it).

Units: the three demo legal persons of gdzwfw_idp, linked in advance by USCC
(the provider's ``sub`` is bound at the first federated login), now with
unit accounts too. Personal accounts: one handler at each stage of the
seed's part 二, so every step can be tried from where it starts. Staff: one
reviewer of the social-insurance agency and one without the review role.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from services.hrss_isso.accounts.persons import new_person, raise_level
from services.hrss_isso.accounts.units import LEGAL_REP_ID_TYPE, new_unit_id, org_code_of
from services.hrss_isso.authorisation_codes.materials import store_material
from services.hrss_isso.models import AuthorizationApplication, Person, ProvincialLink, Staff, Unit, UnitBinding
from services.hrss_isso.runtime import IssoServices
from services.hrss_isso.staff.accounts import create_staff
from shared.clock import Clock
from shared.db import Database
from shared.oauth.provider.demo import DEMO_FAPI, DEMO_RP
from shared.settings import ClientConfig

__all__ = [
    "DEMO_UNITS",
    "demo_clients",
    "DEMO_PERSONS",
    "DEMO_STAFF",
    "DEMO_STAFF_TOTP",
    "DEMO_PASSWORD",
    "DEMO_AUTHORIZATION_CODE",
    "load_demo_data",
]

DEMO_PASSWORD = "Hrss@demo2026"
DEMO_AUTHORIZATION_CODE = "GDHR2345"


def demo_clients(api_scopes: list[str]) -> list[ClientConfig]:
    """demo-rp and demo-fapi, registered here also for the APIs' scopes so
    that they can try the refund portal's API with the tokens they get
    (README); at gdzwfw_idp, which serves no such API, they stay as they are."""
    return [client.model_copy(update={"scope": " ".join([*client.scope.split(), *api_scopes])}) for client in (DEMO_RP, DEMO_FAPI)]


DEMO_UNITS = [
    {
        "unit_code": "44010600001",
        "uscc": "91440106MA5DL1A170",
        "org_name": "广州市天河区示范科技有限公司",
        "login_name": "tianhe_keji",
        "legal_rep_name": "张明",
        "legal_rep_id_number": "440106198001010019",
    },
    {
        "unit_code": "44010400002",
        "uscc": "91440104MA5DL2B24P",
        "org_name": "广州市越秀区示范贸易有限公司",
        "login_name": "yuexiu_maoyi",
        "legal_rep_name": "李华",
        "legal_rep_id_number": "440104198505120024",
    },
    {
        "unit_code": "44010300003",
        "uscc": "91440103MA5DL3C31X",
        "org_name": "广州市荔湾区示范制造有限公司",
        "login_name": "liwan_zhizao",
        "legal_rep_name": "王强",
        "legal_rep_id_number": "440105197503030035",
    },
]

# login, name, ID number, mobile, 实名 level, and what the demo shows
DEMO_PERSONS = [
    (
        "chenxiao",
        "陈晓",
        "440106199007150041",
        "13800138001",
        2,
        "二级；越秀 44010400002 已授权码实名（L2），天河 44010600001 已绑定未授权（L1）",
    ),
    ("liming", "李明", "440106198503120023", "13800138002", 1, "一级；可做人口库实名核验（证件有效期至 2031-03-12）"),
    ("wangfang", "王芳", "44010419880521003X", "13800138003", 2, "二级；荔湾 44010300003 发来绑定申请待确认"),
    ("zhaolei", "赵磊", "440105199208080047", "13800138004", 2, "二级；已绑定荔湾 44010300003，授权码申请待审核"),
    (
        "sunli",
        "孙丽",
        "440304198701010050",
        "13800138005",
        2,
        f"二级；已绑定荔湾 44010300003，授权码已批准（{DEMO_AUTHORIZATION_CODE}）待输入",
    ),
]

DEMO_STAFF = [
    ("staff_review", "张审核", "广州市社会保险基金管理中心", ["authcode_review"]),
    ("staff_viewer", "李查看", "广州市社会保险基金管理中心", ["authcode_view"]),
]
# Their TOTP secrets (/isso/staff/login asks for 动态口令), published on purpose:
# in development anyone may compute the code (`python -m devtools.totp <secret>`).
DEMO_STAFF_TOTP = {"staff_review": "NFZXG3ZNON2GCZTGFVZGK5TJMV3S2MBR", "staff_viewer": "NFZXG3ZNON2GCZTGFV3GSZLXMVZC2MBS"}

# The smallest well-formed files of each kind, standing in for scans.
_DEMO_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Count 0/Kids[]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
_DEMO_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000185d114090000000049454e44ae426082"
)


def load_demo_data(db: Database, *, services: IssoServices, clock: Clock, gdzwfw_issuer: str) -> None:
    _load_accounts(db, services=services, clock=clock, gdzwfw_issuer=gdzwfw_issuer)
    # Also for a demo database from before the second factor: its staff get their secrets now.
    with db.transaction() as s:
        for staff in s.execute(select(Staff).where(Staff.login_name.in_(DEMO_STAFF_TOTP), Staff.totp_secret_encrypted.is_(None))).scalars():
            staff.totp_secret_encrypted = services.staff_login.cipher.encrypt(DEMO_STAFF_TOTP[staff.login_name])


def _load_accounts(db: Database, *, services: IssoServices, clock: Clock, gdzwfw_issuer: str) -> None:
    now = clock.now()
    password_hash = services.passwords.hash(DEMO_PASSWORD)
    with db.transaction() as s:
        units: dict[str, Unit] = {}
        for spec in DEMO_UNITS:
            unit = s.execute(select(Unit).where(Unit.uscc == spec["uscc"])).scalar_one_or_none()
            if unit is None:
                unit = Unit(
                    id=new_unit_id(),
                    status="active",
                    created_at=now,
                    unit_code=spec["unit_code"],
                    uscc=spec["uscc"],
                    org_name=spec["org_name"],
                )
                s.add(unit)
                s.flush()
                s.add(ProvincialLink(unit_id=unit.id, issuer=gdzwfw_issuer.rstrip("/"), uscc=spec["uscc"], subject=None, linked_at=now))
            if unit.login_name is None:
                unit.org_code = org_code_of(spec["uscc"])
                unit.cert_type = "uscc"
                unit.region_code = "440100"
                unit.address = "广州市示范路1号"
                unit.legal_rep_name = spec["legal_rep_name"]
                unit.legal_rep_id_type = LEGAL_REP_ID_TYPE
                unit.legal_rep_id_number = spec["legal_rep_id_number"]
                unit.legal_rep_mobile = "13900139000"
                unit.login_name = spec["login_name"]
                unit.password_hash = password_hash
            units[spec["unit_code"]] = unit
        if s.execute(select(Person.id).where(Person.login_name == "chenxiao")).first() is not None:
            return
        persons: dict[str, Person] = {}
        for login, name, id_number, mobile, level, _ in DEMO_PERSONS:
            person = new_person(
                s, login_name=login, password_hash=password_hash, name=name, id_number=id_number, mobile=mobile, evidence="演示数据", at=now
            )
            if level >= 2:
                raise_level(s, person=person, to_level=level, method="人口库实名核验", evidence="演示数据", at=now)
            persons[login] = person
        reviewer = None
        for login, name, agency, roles in DEMO_STAFF:
            secret = services.staff_login.cipher.encrypt(DEMO_STAFF_TOTP[login])
            staff = create_staff(
                s,
                login_name=login,
                password_hash=password_hash,
                totp_secret_encrypted=secret,
                name=name,
                agency=agency,
                roles=roles,
                now=now,
            )
            reviewer = reviewer or staff
        s.flush()

        def bind(login: str, unit_code: str, status: str) -> UnitBinding:
            binding = UnitBinding(
                unit_id=units[unit_code].id,
                person_id=persons[login].id,
                status=status,
                requested_at=now,
                decided_at=None if status == "pending" else now,
            )
            s.add(binding)
            return binding

        def application(
            login: str, unit_code: str, status: str, *, code: str | None = None, used: bool = False
        ) -> AuthorizationApplication:
            app = AuthorizationApplication(
                id=uuid.uuid4().hex,
                batch_id=uuid.uuid4().hex,
                person_id=persons[login].id,
                unit_id=units[unit_code].id,
                channel="online",
                status=status,
                submitted_at=now,
            )
            if status == "approved":
                app.reviewer_id, app.reviewed_at = reviewer.id, now
                app.code_hash = services.authorizations.hash_code(code or services.authorizations.new_code())
                app.code_expires_at = now + services.authorizations.code_ttl
                app.code_used_at = now if used else None
            s.add(app)
            return app

        done = application("chenxiao", "44010400002", "approved", used=True)
        authorised = bind("chenxiao", "44010400002", "active")
        authorised.authorized_at, authorised.authorization_id = now, done.id
        bind("chenxiao", "44010600001", "active")
        bind("wangfang", "44010300003", "pending")
        bind("zhaolei", "44010300003", "active")
        pending = application("zhaolei", "44010300003", "submitted")
        for kind, name, data, content_type in (
            ("licence", "营业执照.pdf", _DEMO_PDF, "application/pdf"),
            ("id_document", "身份证.png", _DEMO_PNG, "image/png"),
            ("mandate", "单位委托书.pdf", _DEMO_PDF, "application/pdf"),
        ):
            store_material(
                s,
                batch_id=pending.batch_id,
                kind=kind,
                original_name=name,
                content_type=content_type,
                data=data,
                uploaded_by=persons["zhaolei"].id,
                at=now,
            )
        bind("sunli", "44010300003", "active")
        application("sunli", "44010300003", "approved", code=DEMO_AUTHORIZATION_CODE)
        s.flush()
