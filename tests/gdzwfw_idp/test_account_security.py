"""账号安全设置: 修改密码 (by current password or SMS code), 修改手机号 (current
password + a code to the new number), 修改邮箱 (current password)."""

from __future__ import annotations

from services.gdzwfw_idp import messages as msg
from services.gdzwfw_idp.demo import DEMO_PASSWORD
from tests.gdzwfw_idp.conftest import Idp
from tests.gdzwfw_idp.journeys import account_row, csrf, latest_sms_code, login

NEW = "Chg@pass2026"


def test_the_page_has_the_three_settings(idp: Idp) -> None:
    page = login(idp, "demo_l2").get("/account/security")
    assert page.status_code == 200
    for text in ("账号安全设置", "修改密码", "修改手机号", "修改邮箱", "138****8000"):
        assert text in page.text


def test_change_password_with_the_current_password(idp: Idp) -> None:
    browser = login(idp, "demo_l2")
    page = browser.get("/account/security")
    response = browser.post(
        "/account/security/password",
        data={
            "csrf_token": csrf(page.text),
            "verify_by": "password",
            "current_password": DEMO_PASSWORD,
            "new_password": NEW,
            "new_password_confirm": NEW,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert "登录密码已修改" in browser.get("/account/security").text
    login(idp, "demo_l2", password=NEW)


def test_a_wrong_current_password_is_refused_and_counts_towards_the_lockout(idp: Idp) -> None:
    browser = login(idp, "demo_l2")
    page = browser.get("/account/security")
    response = browser.post(
        "/account/security/password",
        data={
            "csrf_token": csrf(page.text),
            "verify_by": "password",
            "current_password": "Wrong@2026",
            "new_password": NEW,
            "new_password_confirm": NEW,
        },
    )
    assert response.status_code == 400 and msg.CURRENT_PASSWORD_WRONG + "，您还可以尝试4次" in response.text
    assert idp.app.state.idp.passwords.verify(account_row(idp, login_name="demo_l2").password_hash, DEMO_PASSWORD)


def test_change_password_with_an_sms_code(idp: Idp) -> None:
    browser = login(idp, "demo_l2")
    page = browser.get("/account/security")
    sent = browser.post("/sms/send", data={"csrf_token": csrf(page.text), "purpose": "change-password", "mobile": "ignored"}).json()
    assert sent["sent"] and "138****8000" in sent["message"]  # always the bound number
    code = latest_sms_code(idp, "13800138000")
    response = browser.post(
        "/account/security/password",
        data={"csrf_token": csrf(page.text), "verify_by": "sms", "sms_code": code, "new_password": NEW, "new_password_confirm": NEW},
        follow_redirects=False,
    )
    assert response.status_code == 303
    login(idp, "demo_l2", password=NEW)


def test_change_password_with_a_wrong_sms_code_is_refused(idp: Idp) -> None:
    browser = login(idp, "demo_l2")
    page = browser.get("/account/security")
    response = browser.post(
        "/account/security/password",
        data={"csrf_token": csrf(page.text), "verify_by": "sms", "sms_code": "123456", "new_password": NEW, "new_password_confirm": NEW},
    )
    assert response.status_code == 400 and "请先获取短信验证码" in response.text


def test_a_new_password_must_follow_the_rules(idp: Idp) -> None:
    browser = login(idp, "demo_l2")
    page = browser.get("/account/security")
    response = browser.post(
        "/account/security/password",
        data={
            "csrf_token": csrf(page.text),
            "verify_by": "password",
            "current_password": DEMO_PASSWORD,
            "new_password": "short",
            "new_password_confirm": "short",
        },
    )
    assert response.status_code == 400 and "请输入8-20位字符" in response.text


def test_change_mobile(idp: Idp) -> None:
    browser = login(idp, "demo_l2")
    page = browser.get("/account/security")
    browser.post("/sms/send", data={"csrf_token": csrf(page.text), "purpose": "change-mobile", "mobile": "13600006666"})
    code = latest_sms_code(idp, "13600006666")
    response = browser.post(
        "/account/security/mobile",
        data={"csrf_token": csrf(page.text), "current_password": DEMO_PASSWORD, "mobile": "13600006666", "sms_code": code},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert account_row(idp, login_name="demo_l2").mobile == "13600006666"


def test_change_mobile_needs_the_code_sent_to_the_new_number(idp: Idp) -> None:
    browser = login(idp, "demo_l2")
    page = browser.get("/account/security")
    browser.post("/sms/send", data={"csrf_token": csrf(page.text), "purpose": "change-mobile", "mobile": "13600006666"})
    code = latest_sms_code(idp, "13600006666")
    response = browser.post(
        "/account/security/mobile",
        data={"csrf_token": csrf(page.text), "current_password": DEMO_PASSWORD, "mobile": "13600007777", "sms_code": code},
    )
    assert response.status_code == 400
    wrong_password = browser.post(
        "/account/security/mobile",
        data={"csrf_token": csrf(page.text), "current_password": "Wrong@2026", "mobile": "13600006666", "sms_code": code},
    )
    assert wrong_password.status_code == 400 and msg.CURRENT_PASSWORD_WRONG in wrong_password.text
    assert account_row(idp, login_name="demo_l2").mobile == "13800138000"


def test_change_email(idp: Idp) -> None:
    browser = login(idp, "demo_l2")
    page = browser.get("/account/security")
    bad = browser.post(
        "/account/security/email", data={"csrf_token": csrf(page.text), "current_password": DEMO_PASSWORD, "email": "not-an-email"}
    )
    assert bad.status_code == 400 and msg.EMAIL_INVALID in bad.text
    ok = browser.post(
        "/account/security/email",
        data={"csrf_token": csrf(page.text), "current_password": DEMO_PASSWORD, "email": "hr@example.com"},
        follow_redirects=False,
    )
    assert ok.status_code == 303 and account_row(idp, login_name="demo_l2").email == "hr@example.com"
    assert "hr@example.com" in browser.get("/account").text


def test_security_settings_need_a_login(idp: Idp) -> None:
    assert idp.new_browser().get("/account/security", follow_redirects=False).headers["location"] == "/login"
