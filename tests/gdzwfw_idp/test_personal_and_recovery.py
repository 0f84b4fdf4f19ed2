"""个人注册 (checked against 人口库) and 找回密码/账号 (by the bound mobile)."""

from __future__ import annotations

from services.gdzwfw_idp import messages as msg
from services.gdzwfw_idp.demo import DEMO_PASSWORD
from tests.gdzwfw_idp.conftest import Idp
from tests.gdzwfw_idp.journeys import account_row, audit_rows, csrf, latest_sms_code, login

MOBILE = "13700001111"


def person_form(**overrides: str) -> dict[str, str]:
    form = {
        "login_name": "lin_xh01",
        "password": "Abc@12345",
        "password_confirm": "Abc@12345",
        "person_name": "林小红",
        "id_number": "440106199205120089",
        "mobile": MOBILE,
        "agree": "yes",
    }
    form.update(overrides)
    return form


def register_person(idp: Idp, **overrides: str):
    browser = idp.new_browser()
    page = browser.get("/register/personal")
    form = person_form(**overrides)
    browser.post("/sms/send", data={"csrf_token": csrf(page.text), "mobile": form["mobile"], "purpose": "register-person"})
    form.setdefault("sms_code", latest_sms_code(idp, form["mobile"]))
    return browser, browser.post("/register/personal", data={"csrf_token": csrf(page.text), **form}, follow_redirects=False)


def test_a_natural_person_registers_at_l1_by_the_population_registry(idp: Idp) -> None:
    browser, response = register_person(idp)
    assert response.status_code == 303 and response.headers["location"] == "/register/done"
    done = browser.get("/register/done")
    assert "个人注册" in done.text and "林小红" in done.text and "人口库" in done.text
    account = account_row(idp, login_name="lin_xh01")
    assert account.account_type == "natural_person" and account.trust_level == "L1" and account.id_number == "440106199205120089"
    assert [(a.to_level, a.method) for a in audit_rows(idp, account.id)] == [("L1", "人口库")]
    assert "三级（原L1）" in login(idp, "lin_xh01", password="Abc@12345", tab="personal").get("/account").text


def test_a_name_that_does_not_match_the_id_number_is_refused(idp: Idp) -> None:
    _, response = register_person(idp, person_name="林小明")
    assert response.status_code == 400 and msg.POPULATION_MISMATCH in response.text
    assert account_row(idp, login_name="lin_xh01") is None


def test_an_id_number_not_in_the_registry_is_refused(idp: Idp) -> None:
    _, response = register_person(idp, id_number="440106199001010013", person_name="张三")
    assert response.status_code == 400 and msg.POPULATION_MISMATCH in response.text


def test_an_id_number_registered_before_is_refused(idp: Idp) -> None:
    _, response = register_person(idp, id_number="440106199007150041", person_name="陈晓")  # demo_person
    assert response.status_code == 400 and msg.ID_NUMBER_TAKEN in response.text


def test_a_taken_login_account_is_refused(idp: Idp) -> None:
    _, response = register_person(idp, login_name="demo_person")
    assert response.status_code == 400 and msg.LOGIN_NAME_TAKEN in response.text


def test_personal_registration_without_sms_code_is_refused(idp: Idp) -> None:
    _, response = register_person(idp, sms_code="")
    assert response.status_code == 400 and msg.SMS_CODE_MISSING in response.text


# -- 找回密码 --------------------------------------------------------------------------
def reset(idp: Idp, *, login_name: str = "demo_l2", mobile: str = "13800138000", new: str = "New@pass2026", code: str | None = None):
    browser = idp.new_browser()
    page = browser.get("/recover/password")
    browser.post("/sms/send", data={"csrf_token": csrf(page.text), "mobile": mobile, "purpose": "reset-password", "login_name": login_name})
    if code is None:
        code = latest_sms_code(idp, mobile)
    return browser.post(
        "/recover/password",
        data={
            "csrf_token": csrf(page.text),
            "login_name": login_name,
            "mobile": mobile,
            "sms_code": code,
            "new_password": new,
            "new_password_confirm": new,
        },
    )


def test_a_password_is_reset_with_the_bound_mobile(idp: Idp) -> None:
    response = reset(idp)
    assert response.status_code == 200 and "登录密码已重置" in response.text
    login(idp, "demo_l2", password="New@pass2026")
    browser = idp.new_browser()
    page = browser.get("/login")
    refused = browser.post(
        "/login",
        data={"csrf_token": csrf(page.text), "interaction": "", "tab": "legal", "login_name": "demo_l2", "password": DEMO_PASSWORD},
    )
    assert refused.status_code == 400


def test_reset_clears_a_lockout(idp: Idp) -> None:
    limiter = idp.app.state.idp.login_service.per_account
    for _ in range(idp.settings.login_max_failures):
        limiter.hit("demo_l2")
    assert limiter.is_blocked("demo_l2")
    assert reset(idp).status_code == 200
    assert not limiter.is_blocked("demo_l2")


def test_reset_with_another_number_is_refused(idp: Idp) -> None:
    response = reset(idp, mobile="13911112222", code="123456")
    assert response.status_code == 400 and "请先获取短信验证码" in response.text


def test_reset_needs_a_password_that_follows_the_rules(idp: Idp) -> None:
    response = reset(idp, new="weakpass")
    assert response.status_code == 400 and "请输入8-20位字符，仅含数字、大写字母、小写字母、特殊字符中的三种及以上" in response.text


# -- 找回账号 --------------------------------------------------------------------------
def test_accounts_are_found_by_mobile(idp: Idp) -> None:
    browser = idp.new_browser()
    page = browser.get("/recover/account")
    browser.post("/sms/send", data={"csrf_token": csrf(page.text), "mobile": "13800138000", "purpose": "find-account"})
    response = browser.post(
        "/recover/account", data={"csrf_token": csrf(page.text), "mobile": "13800138000", "sms_code": latest_sms_code(idp, "13800138000")}
    )
    assert response.status_code == 200
    for name in ("demo_l1", "demo_l2", "demo_l3", "demo_unlinked", "demo_person"):
        assert f"<td>{name}</td>" in response.text


def test_finding_accounts_needs_the_code(idp: Idp) -> None:
    browser = idp.new_browser()
    page = browser.get("/recover/account")
    response = browser.post("/recover/account", data={"csrf_token": csrf(page.text), "mobile": "13800138000", "sms_code": "123456"})
    assert response.status_code == 400 and "demo_l1" not in response.text
