"""Demo refund records and staff accounts, development mode only (README
lists them). The records go through the real import, decision and payment
code, so the demo's audit log verifies like any other."""

from __future__ import annotations

import csv
import datetime as dt
import io

from sqlalchemy import select

from services.refund_portal.agency.imports import TEMPLATE_HEADER, apply_plan, plan_import
from services.refund_portal.agency.payments import create_batch, mark_paid
from services.refund_portal.audit import Actor, AuditKeys
from services.refund_portal.decisions import UnitDecision, decide
from services.refund_portal.models import ImportBatch
from services.refund_portal.policy import PolicyBook
from services.refund_portal.records import UnitIdentity, records_of_unit
from services.refund_portal.staff import create_staff, find_staff
from shared.clock import Clock, FrozenClock
from shared.db import Database
from shared.passwords import PasswordService
from shared.staff_totp import TotpSecretCipher
from shared.trust import TrustLevel

__all__ = ["DEMO_STAFF", "DEMO_STAFF_PASSWORD", "DEMO_STAFF_TOTP", "DEMO_RECORDS", "DEMO_YEAR", "load_demo_data", "demo_csv"]

DEMO_STAFF_PASSWORD = "Wg@staff2026"
DEMO_STAFF = [
    {"login_name": "wg_clerk", "display_name": "张敏", "role": "clerk"},
    {"login_name": "wg_supervisor", "display_name": "李娜", "role": "supervisor"},
    {"login_name": "wg_auditor", "display_name": "王强", "role": "auditor"},
]
# Their TOTP secrets (/agency/login asks for 动态口令), published on purpose:
# in development anyone may compute the code (`python -m devtools.totp <secret>`).
DEMO_STAFF_TOTP = {
    "wg_clerk": "OJSWM5LOMQWXOZZNMNWGK4TLFUYDAMBT",
    "wg_supervisor": "OJSWM5LOMQWXOZZNON2XAZLSOYWTAMBU",
    "wg_auditor": "OJSWM5LOMQWXOZZNMF2WI2LUN5ZC2MBV",
}
DEMO_YEAR = 2026
# One row per demo unit (the hrss_isso demo units), in the import's columns.
DEMO_RECORDS = [
    [
        "91440106MA5DL1A170",
        "广州市天河区示范科技有限公司",
        "44010600001",
        "中小微",
        "26",
        "12480.00",
        "6240.00",
        "0",
        "0",
        "中国建设银行广州天河支行",
        "44050158010100001234",
    ],
    [
        "91440104MA5DL2B24P",
        "广州市越秀区示范贸易有限公司",
        "44010400002",
        "中小微",
        "48",
        "38416.32",
        "19208.16",
        "2",
        "0",
        "中国工商银行广州越秀支行",
        "3602000109200123456",
    ],
    [
        "91440103MA5DL3C31X",
        "广州市荔湾区示范制造有限公司",
        "44010300003",
        "大型",
        "420",
        "403200.00",
        "201600.00",
        "12",
        "0",
        "中国农业银行广州荔湾支行",
        "44037001040012345",
    ],
]
# Last year's refund of 广州市越秀区示范贸易有限公司, already paid: the page shows history.
DEMO_PAST = [
    "91440104MA5DL2B24P",
    "广州市越秀区示范贸易有限公司",
    "44010400002",
    "中小微",
    "45",
    "35100.00",
    "17550.00",
    "1",
    "0",
    "中国工商银行广州越秀支行",
    "3602000109200123456",
]
SYSTEM = Actor(kind="system", id="demo-loader", name="演示数据")


def demo_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(TEMPLATE_HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _import(db: Database, *, policies: PolicyBook, year: int, rows: list[list[str]], clock: Clock, audit_keys: AuditKeys) -> None:
    rule = policies.rule_for(year)
    if rule is None:
        return
    with db.transaction() as s:
        plan = plan_import(s, year=year, rule=rule, filename=f"演示名单-{year}.csv", content=demo_csv(rows), max_rows=100)
        if plan.errors:  # pragma: no cover - the demo rows are valid
            raise RuntimeError(f"demo rows invalid: {plan.errors}")
        apply_plan(s, plan, mode="demo", actor=SYSTEM, staff_id=None, clock=clock, audit_keys=audit_keys)


def load_demo_data(
    db: Database, *, passwords: PasswordService, staff_cipher: TotpSecretCipher, policies: PolicyBook, clock: Clock, audit_keys: AuditKeys
) -> None:
    with db.transaction() as s:
        for spec in DEMO_STAFF:
            secret = staff_cipher.encrypt(DEMO_STAFF_TOTP[spec["login_name"]])
            staff = find_staff(s, login_name=spec["login_name"])
            if staff is None:
                create_staff(s, password_hash=passwords.hash(DEMO_STAFF_PASSWORD), totp_secret_encrypted=secret, clock=clock, **spec)
            elif staff.totp_secret_encrypted is None:  # a demo database from before the second factor
                staff.totp_secret_encrypted = secret
        if s.execute(select(ImportBatch.id).where(ImportBatch.mode == "demo")).first() is not None:
            return
    past = DEMO_YEAR - 1
    if policies.rule_for(past) is not None:
        # Last year's refund happened last year: its history is dated then.
        then = FrozenClock(dt.datetime(past, 6, 10, 2, 0, tzinfo=dt.UTC))
        _import(db, policies=policies, year=past, rows=[DEMO_PAST], clock=then, audit_keys=audit_keys)
        handler = Actor(kind="unit", id="demo-handler", name="演示经办人", acr=TrustLevel.L2.acr, address="127.0.0.1")
        unit = UnitIdentity(uscc=DEMO_PAST[0], unit_code=DEMO_PAST[2])
        then.advance(9 * 86400 + 3 * 3600)
        with db.transaction() as s:
            record = next(r for r in records_of_unit(s, unit=unit) if r.year == past)
            choice = UnitDecision("confirm", "", "demo")
            decide(s, unit=unit, record_id=record.id, choice=choice, actor=handler, clock=then, audit_keys=audit_keys)
        then.advance(25 * 86400)
        with db.transaction() as s:
            batch = create_batch(s, year=past, actor=SYSTEM, clock=then, audit_keys=audit_keys)
        then.advance(2 * 86400)
        with db.transaction() as s:
            mark_paid(s, batch_id=batch.id, reference=f"DEMO-{past}-0001", actor=SYSTEM, clock=then, audit_keys=audit_keys)
    _import(db, policies=policies, year=DEMO_YEAR, rows=DEMO_RECORDS, clock=clock, audit_keys=audit_keys)
