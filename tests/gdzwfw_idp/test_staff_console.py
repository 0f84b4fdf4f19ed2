"""办事大厅现场核验 → 五级（原L3） at the staff console: password + TOTP
(RFC 6238, each code once), roles, the documents recorded in the audit."""

from __future__ import annotations

from services.gdzwfw_idp.demo import DEMO_STAFF, DEMO_STAFF_PASSWORD
from shared.totp import totp
from tests.gdzwfw_idp.conftest import Idp
from tests.gdzwfw_idp.journeys import account_row, audit_rows, csrf

OFFICER, AUDITOR = DEMO_STAFF[0], DEMO_STAFF[1]


def staff_login(idp: Idp, staff: dict, *, password: str = DEMO_STAFF_PASSWORD, code: str | None = None):
    browser = idp.new_browser()
    page = browser.get("/staff/login")
    code = code if code is not None else totp(staff["secret"], idp.clock.timestamp())
    response = browser.post(
        "/staff/login",
        data={"csrf_token": csrf(page.text), "login_name": staff["login_name"], "password": password, "totp": code},
        follow_redirects=False,
    )
    return browser, response


def test_an_officer_raises_a_unit_to_l3_with_the_documents_recorded(idp: Idp) -> None:
    browser, response = staff_login(idp, OFFICER)
    assert response.status_code == 303 and response.headers["location"] == "/staff"
    found = browser.get("/staff", params={"q": "91440106MA5DL1A170"})
    unit = account_row(idp, login_name="demo_l1")
    assert f"/staff/units/{unit.id}" in found.text
    page = browser.get(f"/staff/units/{unit.id}")
    assert "广州市天河区示范科技有限公司" in page.text and "4401**********0019" in page.text and "存续" in page.text
    done = browser.post(
        f"/staff/units/{unit.id}/hall-check",
        data={"csrf_token": csrf(page.text), "documents": ["licence", "rep_id"], "note": "法定代表人本人到场"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    account = account_row(idp, login_name="demo_l1")
    assert account.trust_level == "L3" and account.verification_method == "办事大厅现场核验"
    last = audit_rows(idp, account.id)[-1]
    assert (last.from_level, last.to_level, last.method) == ("L1", "L3", "办事大厅现场核验")
    assert (
        "营业执照（登记证书）原件" in last.evidence
        and "法定代表人（负责人）身份证件原件" in last.evidence
        and "法定代表人本人到场" in last.evidence
    )
    assert last.actor == "办事大厅工作人员 林办事（工号 hall_officer）" and OFFICER["hall"] in last.evidence


def test_the_documents_are_required(idp: Idp) -> None:
    browser, _ = staff_login(idp, OFFICER)
    unit = account_row(idp, login_name="demo_l1")
    page = browser.get(f"/staff/units/{unit.id}")
    for documents in ([], ["rep_id"], ["licence"], ["licence", "handler_id"]):
        refused = browser.post(f"/staff/units/{unit.id}/hall-check", data={"csrf_token": csrf(page.text), "documents": documents})
        assert refused.status_code == 400, documents
    assert (
        browser.post(
            f"/staff/units/{unit.id}/hall-check",
            data={"csrf_token": csrf(page.text), "documents": ["licence", "handler_id", "authorisation"]},
            follow_redirects=False,
        ).status_code
        == 303
    )
    assert account_row(idp, login_name="demo_l1").trust_level == "L3"


def test_an_auditor_may_look_but_not_raise(idp: Idp) -> None:
    browser, response = staff_login(idp, AUDITOR)
    assert response.status_code == 303
    unit = account_row(idp, login_name="demo_l1")
    page = browser.get(f"/staff/units/{unit.id}")
    # Offered no action the server would refuse: no hall-check form at all.
    assert "只能查看，不能办理现场核验" in page.text and f'action="/staff/units/{unit.id}/hall-check"' not in page.text
    refused = browser.post(f"/staff/units/{unit.id}/hall-check", data={"csrf_token": csrf(page.text), "documents": ["licence", "rep_id"]})
    assert refused.status_code == 403
    assert account_row(idp, login_name="demo_l1").trust_level == "L1"


def test_the_console_needs_a_staff_login(idp: Idp) -> None:
    unit = account_row(idp, login_name="demo_l1")
    assert idp.new_browser().get("/staff", follow_redirects=False).headers["location"] == "/staff/login"
    assert idp.new_browser().get(f"/staff/units/{unit.id}", follow_redirects=False).headers["location"] == "/staff/login"
    # A user's login is not a staff login.
    from tests.gdzwfw_idp.journeys import login

    assert login(idp, "demo_l1").get("/staff", follow_redirects=False).headers["location"] == "/staff/login"


def test_a_wrong_password_or_code_is_refused(idp: Idp) -> None:
    _, wrong_password = staff_login(idp, OFFICER, password="Wrong@2026")
    assert wrong_password.status_code == 400 and "工号、密码或动态口令错误" in wrong_password.text
    _, wrong_code = staff_login(idp, OFFICER, code="000000" if totp(OFFICER["secret"], idp.clock.timestamp()) != "000000" else "111111")
    assert wrong_code.status_code == 400
    _, other_secret = staff_login(idp, OFFICER, code=totp(AUDITOR["secret"], idp.clock.timestamp()))
    assert other_secret.status_code == 400


def test_a_code_from_two_steps_ago_is_refused_but_one_step_is_tolerated(idp: Idp) -> None:
    now = idp.clock.timestamp()
    _, stale = staff_login(idp, OFFICER, code=totp(OFFICER["secret"], now - 60))
    assert stale.status_code == 400
    _, drift = staff_login(idp, OFFICER, code=totp(OFFICER["secret"], now - 30))
    assert drift.status_code == 303


def test_a_totp_code_is_accepted_once(idp: Idp) -> None:
    code = totp(OFFICER["secret"], idp.clock.timestamp())
    assert staff_login(idp, OFFICER, code=code)[1].status_code == 303
    replay = staff_login(idp, OFFICER, code=code)[1]
    assert replay.status_code == 400 and "该动态口令已使用" in replay.text
    idp.clock.advance(30)
    assert staff_login(idp, OFFICER)[1].status_code == 303


def test_staff_lockout(idp: Idp) -> None:
    for _ in range(idp.settings.login_max_failures):
        staff_login(idp, OFFICER, password="Wrong@2026")
    _, locked = staff_login(idp, OFFICER)
    assert locked.status_code == 400 and "验证失败次数过多" in locked.text


def test_totp_secrets_are_encrypted_at_rest(idp: Idp) -> None:
    from sqlalchemy import select

    from services.gdzwfw_idp.models import StaffAccount

    with idp.app.state.db.transaction() as db:
        stored = db.execute(select(StaffAccount.totp_secret_encrypted)).scalars().all()
    assert stored and all(OFFICER["secret"] not in s and AUDITOR["secret"] not in s for s in stored)
