"""The agency's side: staff login with CSRF and lockout, role checks, payment
batches exported as CSV and XLSX, batches marked paid."""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import select

from services.refund_portal.audit import Actor
from services.refund_portal.decisions import UnitDecision, decide
from services.refund_portal.models import AuditEntry, PaymentBatch, RefundRecord
from services.refund_portal.records import UnitIdentity
from shared.totp import totp
from tests.refund_portal.conftest import AUDIT_KEYS, HANDLER, ROW_L1, ROW_L2, ROW_L3, UNIT_L2, UNIT_L3, Env, csrf_of


def confirm(env: Env, unit: dict) -> int:
    identity = UnitIdentity(uscc=unit["uscc"], unit_code=unit["unit_code"])
    with env.db.transaction() as s:
        rid = s.execute(select(RefundRecord.id).where(RefundRecord.uscc == unit["uscc"])).scalar_one()
        actor = Actor(kind="unit", id=HANDLER["sub"], name=HANDLER["name"], acr="urn:gdzwfw:loa:L2", address="10.0.0.8")
        choice = UnitDecision("confirm", "", "web")
        decide(s, unit=identity, record_id=rid, choice=choice, actor=actor, clock=env.clock, audit_keys=env.audit_keys)
    return rid


def status_of(env: Env, rid: int) -> str:
    with env.db.transaction() as s:
        return s.get(RefundRecord, rid).status


def create_batch(env: Env, year: int = 2026):
    page = env.client.get("/agency/payments", params={"year": year})
    return env.client.post("/agency/payments", data={"csrf_token": csrf_of(page.text), "year": str(year)}, follow_redirects=False)


# ---- login -------------------------------------------------------------------


def test_agency_pages_require_a_staff_login(env: Env) -> None:
    response = env.client.get("/agency/records?year=2026", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/agency/login?next=/agency/records%3Fyear%3D2026"
    # A unit's login is not a staff login.
    env.login_unit(UNIT_L2)
    assert env.client.get("/agency/", follow_redirects=False).status_code == 303


def test_staff_login_goes_where_it_was_asked_and_only_inside_the_agency(env: Env) -> None:
    page = env.client.get("/agency/login", params={"next": "/agency/payments"})
    response = env.client.post(
        "/agency/login",
        data={
            "csrf_token": csrf_of(page.text),
            "login_name": "wg_clerk",
            "password": "Wg@staff2026",
            "totp": env.staff_code("wg_clerk"),
            "next": "/agency/payments",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/agency/payments"
    assert "张敏" in env.client.get("/agency/").text
    page = env.client.get("/agency/login", params={"next": "https://evil.example/"})
    assert 'value="/agency/"' in page.text


def test_staff_login_needs_the_forms_csrf_token(env: Env) -> None:
    env.client.get("/agency/login")
    response = env.client.post("/agency/login", data={"csrf_token": "forged", "login_name": "wg_clerk", "password": "Wg@staff2026"})
    assert response.status_code == 400 and "页面已过期" in response.text
    assert env.client.get("/agency/", follow_redirects=False).status_code == 303


def test_wrong_passwords_lock_the_account(env: Env) -> None:
    for left in (4, 3, 2, 1):
        response = env.login_staff("wg_clerk", "Wrong@pass1")
        assert response.status_code == 400 and f"您还可以尝试{left}次" in response.text
    locked = env.login_staff("wg_clerk", "Wrong@pass1")
    assert "账号已被锁定，请15分钟后再试" in locked.text
    # Even the right password is refused while locked…
    assert "账号已被锁定" in env.login_staff("wg_clerk").text
    # …and accepted once the lock has passed.
    env.clock.advance(901)
    assert env.login_staff("wg_clerk").status_code == 303


def test_an_unknown_account_reads_like_a_wrong_password(env: Env) -> None:
    response = env.login_staff("nobody", "Wrong@pass1")
    assert response.status_code == 400 and "账号、密码或动态口令错误" in response.text


def test_a_deactivated_account_is_logged_out(env: Env) -> None:
    from services.refund_portal.models import StaffAccount

    assert env.login_staff("wg_clerk").status_code == 303
    with env.db.transaction() as s:
        s.get(StaffAccount, env.staff_ids["wg_clerk"]).active = False
    assert env.client.get("/agency/", follow_redirects=False).status_code == 303


def test_logout_ends_the_staff_session(env: Env) -> None:
    assert env.login_staff("wg_clerk").status_code == 303
    page = env.client.get("/agency/")
    assert env.client.post("/agency/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False).status_code == 303
    assert env.client.get("/agency/", follow_redirects=False).status_code == 303


# ---- roles ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("login", "path", "allowed"),
    [
        ("wg_auditor", "/agency/imports", False),
        ("wg_auditor", "/agency/audit", True),
        ("wg_auditor", "/agency/records", True),
        ("wg_clerk", "/agency/audit", False),
        ("wg_clerk", "/agency/imports", True),
        ("wg_supervisor", "/agency/audit", True),
        ("wg_supervisor", "/agency/imports", True),
    ],
)
def test_pages_follow_the_role(env: Env, login: str, path: str, allowed: bool) -> None:
    env.login_staff(login)
    response = env.client.get(path)
    assert (response.status_code == 200) is allowed
    if not allowed:
        assert response.status_code == 403 and "无权办理此项业务" in response.text


def test_an_auditor_cannot_import_export_or_correct(env: Env) -> None:
    env.import_rows([ROW_L2])
    rid = confirm(env, UNIT_L2)
    env.login_staff("wg_auditor")
    token = env.csrf("/agency/")
    assert env.client.post("/agency/payments", data={"csrf_token": token, "year": "2026"}).status_code == 403
    correction = {"csrf_token": token, "bank_name": "x", "bank_account": "123456789", "reason": "x"}
    assert env.client.post(f"/agency/records/{rid}/bank-account", data=correction).status_code == 403
    with env.db.transaction() as s:
        assert s.execute(select(PaymentBatch)).first() is None
    # Nor is the auditor offered those actions on any page it reads: the only form that posts is the logout.
    for path in ("/agency/", "/agency/records", f"/agency/records/{rid}", "/agency/payments", "/agency/audit"):
        page = env.client.get(path)
        assert page.status_code == 200, path
        assert re.findall(r'<form method="post" action="([^"]+)"', page.text) == ["/agency/logout"], path
        assert 'href="/agency/imports"' not in page.text, path


def test_a_clerk_prepares_a_batch_but_only_a_supervisor_marks_it_paid(env: Env) -> None:
    env.import_rows([ROW_L2])
    rid = confirm(env, UNIT_L2)
    env.login_staff("wg_clerk")
    batch_url = create_batch(env).headers["location"]
    page = env.client.get(batch_url)
    assert "标记批次已发放需由审核员办理" in page.text
    paid = env.client.post(f"{batch_url}/paid", data={"csrf_token": csrf_of(page.text), "reference": "R1", "acknowledge": "yes"})
    assert paid.status_code == 403 and status_of(env, rid) == "confirmed"


# ---- payment batches and export ------------------------------------------------


def test_confirmed_records_are_batched_exported_and_marked_paid(env: Env) -> None:
    env.import_rows([ROW_L2, ROW_L3, ROW_L1])
    confirmed = [confirm(env, UNIT_L2), confirm(env, UNIT_L3)]
    env.login_staff("wg_supervisor")
    overview = env.client.get("/agency/payments?year=2026")
    assert 'id="waiting-count">2<' in overview.text and "216,014.69" in overview.text

    response = create_batch(env)
    assert response.status_code == 303
    batch_url = response.headers["location"]
    batch_id = int(batch_url.rsplit("/", 1)[-1])

    exported = env.client.get(f"{batch_url}/export", params={"format": "csv"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert "filename*=UTF-8''" in exported.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["序号", "记录编号", "返还年度", "统一社会信用代码"]
    by_uscc = {r[3]: r for r in rows[1:]}
    assert set(by_uscc) == {ROW_L2[0], ROW_L3[0]}  # the pending one is not in it
    assert by_uscc[ROW_L2[0]][7] == "3602000109200123456"  # the full account: the bank pays into it
    assert by_uscc[ROW_L2[0]][8] == "34574.69" and by_uscc[ROW_L2[0]][9] == "叁万肆仟伍佰柒拾肆元陆角玖分"
    assert by_uscc[ROW_L2[0]][10] == "2026-11-28 09:00" and by_uscc[ROW_L2[0]][11] == "陈晓"

    xlsx = env.client.get(f"{batch_url}/export", params={"format": "xlsx"})
    assert xlsx.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    assert values[0][3] == "统一社会信用代码"
    cells = {r[3]: r for r in values[1:]}
    assert cells[ROW_L3[0]][7] == "44037001040012345" and isinstance(cells[ROW_L3[0]][7], str)
    assert Decimal(str(cells[ROW_L3[0]][8])) == Decimal("181440.00")

    # A second batch finds nothing left to pay.
    again = create_batch(env)
    assert "没有待拨付的已确认记录" in env.client.get(again.headers["location"]).text

    page = env.client.get(batch_url)
    no_tick = env.client.post(f"{batch_url}/paid", data={"csrf_token": csrf_of(page.text), "reference": "ICBC-20261128-001"})
    assert no_tick.status_code == 400 and "请勾选" in no_tick.text
    no_ref = env.client.post(f"{batch_url}/paid", data={"csrf_token": csrf_of(page.text), "reference": " ", "acknowledge": "yes"})
    assert no_ref.status_code == 400 and "请填写银行回单号" in no_ref.text
    assert all(status_of(env, rid) == "confirmed" for rid in confirmed)

    paid = env.client.post(
        f"{batch_url}/paid",
        data={"csrf_token": csrf_of(page.text), "reference": "ICBC-20261128-001", "acknowledge": "yes"},
        follow_redirects=False,
    )
    assert paid.status_code == 303
    assert all(status_of(env, rid) == "paid" for rid in confirmed)
    twice = env.client.post(f"{batch_url}/paid", data={"csrf_token": csrf_of(page.text), "reference": "X", "acknowledge": "yes"})
    assert twice.status_code == 400 and "已标记为已发放" in twice.text
    with env.db.transaction() as s:
        batch = s.get(PaymentBatch, batch_id)
        assert batch.status == "paid" and batch.paid_reference == "ICBC-20261128-001" and batch.paid_by == "李娜"
        actions = [a for (a,) in s.execute(select(AuditEntry.action).order_by(AuditEntry.seq))]
        assert actions.count("record.paid") == 2 and actions.count("payment.exported") == 2 and "payment.paid" in actions

    # The unit sees its money paid.
    env.login_unit(UNIT_L2)
    assert "返还资金已发放至您单位账户" in env.client.get("/").text


def test_export_cells_cannot_become_spreadsheet_formulas(env: Env) -> None:
    from services.refund_portal.agency.payments import export_rows

    record = RefundRecord(
        id=1, year=2026, uscc="x", org_name='=HYPERLINK("http://evil")', unit_code="1", bank_name="+bank", bank_account="1", amount_fen=1
    )
    row = export_rows([record], batch_id=1)[0]
    assert row[4].startswith("'=") and row[6] == "'+bank"


def test_the_overview_counts_records_by_status(env: Env) -> None:
    env.import_rows([ROW_L2, ROW_L3, ROW_L1])
    confirm(env, UNIT_L2)
    env.login_staff("wg_auditor")
    page = env.client.get("/agency/?year=2026").text
    assert re.search(r'data-status="pending">.*?<span class="n">2</span>', page, re.S)
    assert re.search(r'data-status="confirmed">.*?<span class="n">1</span>\s*<span class="amt">金额合计 ¥34,574.69', page, re.S)


def test_records_can_be_searched(env: Env) -> None:
    env.import_rows([ROW_L2, ROW_L3])
    env.login_staff("wg_auditor")
    page = env.client.get("/agency/records", params={"year": 2026, "q": "荔湾"}).text
    assert "广州市荔湾区示范制造有限公司" in page and "广州市越秀区示范贸易有限公司" not in page


def test_the_staff_command_creates_an_account_that_can_log_in(
    env: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from services.refund_portal.staff import main

    monkeypatch.setenv("REFUND_DATABASE_URL", env.settings.database_url)
    for key, value in {
        "ENVIRONMENT": "test",
        "SECRET_KEY": "x" * 40,
        "PUBLIC_URL": "http://p",
        "ISSO_ISSUER": "http://i",
        "ISSO_CLIENT_SECRET": "s",
        "GDZWFW_VERIFICATION_URL": "http://v",
        "NEW_STAFF_PASSWORD": "Gz@finance2026",
        "AUDIT_KEYS": json.dumps(AUDIT_KEYS),
    }.items():
        monkeypatch.setenv(f"REFUND_{key}", value)
    assert main(["create", "--login", "gz_finance", "--name", "周婷", "--role", "supervisor"]) == 0
    printed = capsys.readouterr().out
    env.staff_secrets["gz_finance"] = re.search(r"动态口令密钥.*: ([A-Z2-7]{32})$", printed, re.M).group(1)
    assert f"secret={env.staff_secrets['gz_finance']}" in printed and "otpauth://totp/" in printed
    assert main(["create", "--login", "gz_finance", "--name", "周婷", "--role", "supervisor"]) == 1
    assert main(["create", "--login", "x!", "--name", "x", "--role", "clerk"]) == 2
    assert env.login_staff("gz_finance", "Gz@finance2026").status_code == 303
    # A new secret (a lost phone): the old one's codes stop working.
    assert main(["enrol-totp", "--login", "nobody"]) == 1
    assert main(["enrol-totp", "--login", "gz_finance"]) == 0
    old = env.staff_secrets["gz_finance"]
    env.staff_secrets["gz_finance"] = re.search(r": ([A-Z2-7]{32})$", capsys.readouterr().out, re.M).group(1)
    assert env.login_staff("gz_finance", "Gz@finance2026", code=totp(old, env.clock.timestamp() + 30)).status_code == 400
    assert env.login_staff("gz_finance", "Gz@finance2026").status_code == 303
    assert "周婷" in env.client.get("/agency/").text
