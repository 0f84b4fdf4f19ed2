"""法人注册 through the pages: 1 输入基础信息 → 2 实名核验 → 3 注册完成.

The account exists only after step 3; every refusal is shown next to its
field; the unit is checked against 法人基础库; duplicates are refused; the
applicant's face check is a one-time QR session.
"""

from __future__ import annotations

import json
import re

from sqlalchemy import func, select

from services.gdzwfw_idp import messages as msg
from services.gdzwfw_idp.models import Account, TrustLevelChange
from shared.account_rules import GDZWFW_PASSWORD_MESSAGE
from shared.web.sessions import session_store_key
from tests.gdzwfw_idp.conftest import ISSUER, Idp
from tests.gdzwfw_idp.journeys import (
    NEW_PASSWORD,
    NEW_UNIT,
    account_row,
    approve_face,
    audit_rows,
    csrf,
    latest_sms_code,
    legal_form,
    login,
    qr_sid,
    start_legal_registration,
)


def account_count(idp: Idp) -> int:
    with idp.app.state.db.transaction() as db:
        return db.execute(select(func.count()).select_from(Account)).scalar_one()


def field_error(html: str, field: str) -> str | None:
    """The message rendered inside that field's own block (next to it)."""
    match = re.search(rf'<div class="field-error" id="{field}-error" role="alert">([^<]+)</div>', html)
    return match.group(1) if match else None


# -- the happy path -------------------------------------------------------------------
def test_step_one_shows_the_seed_fields_the_progress_and_the_notice(idp: Idp) -> None:
    page = idp.client.get("/register/legal")
    assert page.status_code == 200
    for label in (
        "法人登录账号",
        "登录密码",
        "确认密码",
        "单位/企业名称",
        "单位/企业证件号码",
        "统一社会信用代码",
        "证件地址",
        "法定代表人姓名",
        "法定代表人证件",
        "申请人信息",
        "手机号码",
        "短信验证码",
    ):
        assert label in page.text, label
    assert "请输入6-20位字符，仅包含数字、字母、下划线中的两种或以上的组合" in page.text
    assert "请账号申请人使用微信扫描以下小程序码，通过人脸识别添加实名信息" in page.text
    # The code itself is drawn by the browser from the session's address (tests/browser/test_qr_codes.py).
    assert "刷新小程序码" in page.text and f'data-qr-text="{ISSUER}/m/face?s={qr_sid(page.text)}"' in page.text
    assert '<li class="current" aria-current="step"><span class="num">1</span>输入基础信息</li>' in page.text
    assert "2</span>实名核验" in page.text and "3</span>注册完成" in page.text
    assert '《<a href="/agreement/service"' in page.text and "隐私政策" in page.text
    assert "注意说明" in page.text and "若无法完成线上注册，也可选择前往就近的办事大厅现场核验注册账号" in page.text
    assert "无需注册，微信扫码<br>使用电子营业执照直接登录" in page.text
    # The 证件地址 selects start at 广东省 and offer its 21 cities.
    assert page.text.count('<option value="') >= 22


def test_a_legal_person_registers_to_l1_by_the_registry(idp: Idp) -> None:
    browser = idp.new_browser()
    step1 = start_legal_registration(idp, browser)
    assert step1.status_code == 303 and step1.headers["location"] == "/register/legal/verify"
    assert account_count(idp) == 5  # the demo accounts only: nothing persisted yet

    step2 = browser.get("/register/legal/verify")
    assert '<li class="current" aria-current="step"><span class="num">2</span>实名核验</li>' in step2.text
    assert "4401**********0021" in step2.text and "440105198203150021" not in step2.text  # masked
    assert "林**（4401**********0089）" in step2.text
    done = browser.post("/register/legal/verify", data={"csrf_token": csrf(step2.text)}, follow_redirects=False)
    assert done.headers["location"] == "/register/done"
    page = browser.get("/register/done")
    assert "注册完成" in page.text and "三级（原L1）" in page.text and "法人基础库" in page.text

    account = account_row(idp, login_name="haizhu_wl01")
    assert account.account_type == "legal_person" and account.trust_level == "L1" and account.verification_method == "法人基础库"
    assert (account.uscc, account.org_name, account.legal_rep_name) == (NEW_UNIT["uscc"], NEW_UNIT["org_name"], NEW_UNIT["legal_rep_name"])
    assert (account.address_province, account.address_city, account.address_district, account.address_detail) == (
        "广东省",
        "广州市",
        "海珠区",
        "新港中路500号",
    )
    assert (account.applicant_name, account.applicant_id_number, account.mobile) == ("林小红", "440106199205120089", "13912345678")
    assert account.password_hash.startswith("$argon2id$")
    (entry,) = audit_rows(idp, account.id)
    assert (entry.from_level, entry.to_level, entry.method) == (None, "L1", "法人基础库")
    assert "法人基础库" in entry.evidence and entry.actor == "本人注册（账号 haizhu_wl01）"

    # The new account logs in with its password and sees its level.
    logged_in = login(idp, "haizhu_wl01", password=NEW_PASSWORD)
    assert "三级（原L1）" in logged_in.get("/account/verification").text


def test_the_wizard_keeps_no_secret_in_clear(idp: Idp) -> None:
    browser = idp.new_browser()
    start_legal_registration(idp, browser)
    # The browser's session and the wizard it owns, read through the store's
    # interface so that the check holds for the SQL table and for Redis alike.
    kv = idp.app.state.kv
    session = kv.get(session_store_key(browser.cookies["gdzwfw_sid"]))
    values = json.dumps([session, kv.get(f"reg-wizard:{session['qr_owner']}")], ensure_ascii=False)
    assert NEW_PASSWORD not in values
    assert "$argon2id$" in values


# -- nothing before step 3 -----------------------------------------------------------------
def test_abandoning_at_step_two_leaves_no_account(idp: Idp) -> None:
    browser = idp.new_browser()
    assert start_legal_registration(idp, browser).status_code == 303
    browser.get("/register/legal/verify")
    assert account_count(idp) == 5
    assert account_row(idp, uscc=NEW_UNIT["uscc"]) is None
    with idp.app.state.db.transaction() as db:
        assert db.execute(select(func.count()).select_from(TrustLevelChange)).scalar_one() == 5


def test_step_two_without_step_one_goes_back_to_step_one(idp: Idp) -> None:
    assert idp.client.get("/register/legal/verify", follow_redirects=False).headers["location"] == "/register/legal"
    page = idp.client.get("/register/legal")
    assert (
        idp.client.post("/register/legal/verify", data={"csrf_token": csrf(page.text)}, follow_redirects=False).headers["location"]
        == "/register/legal"
    )


def test_an_unfinished_registration_expires(idp: Idp) -> None:
    browser = idp.new_browser()
    assert start_legal_registration(idp, browser).status_code == 303
    idp.clock.advance(idp.settings.wizard_ttl + 1)
    assert browser.get("/register/legal/verify", follow_redirects=False).headers["location"] == "/register/legal"


# -- 法人基础库 ---------------------------------------------------------------------------
def registry_refusal(idp: Idp, **overrides: str) -> str:
    browser = idp.new_browser()
    step1 = start_legal_registration(idp, browser, **overrides)
    assert step1.status_code == 303, step1.text[:1500]
    step2 = browser.get("/register/legal/verify")
    refused = browser.post("/register/legal/verify", data={"csrf_token": csrf(step2.text)}, follow_redirects=False)
    assert refused.status_code == 400
    assert "实名核验未通过" in refused.text and "账号尚未创建" in refused.text
    assert account_count(idp) == 5
    return refused.text


def test_registry_refuses_a_wrong_unit_name(idp: Idp) -> None:
    assert msg.REGISTRY_NAME_MISMATCH in registry_refusal(idp, org_name="广州市海珠区示范快递有限公司")


def test_registry_accepts_brackets_in_either_width(make_idp) -> None:
    idp = make_idp()
    browser = idp.new_browser()
    assert start_legal_registration(idp, browser, org_name="广州市海珠区示范物流有限公司 ").status_code == 303


def test_registry_refuses_a_wrong_legal_representative(idp: Idp) -> None:
    assert msg.REGISTRY_REP_NAME_MISMATCH in registry_refusal(idp, legal_rep_name="赵明")


def test_registry_refuses_a_wrong_legal_representative_id(idp: Idp) -> None:
    assert msg.REGISTRY_REP_ID_MISMATCH in registry_refusal(idp, legal_rep_id_number="440105198203150013")


def test_registry_refuses_an_unknown_uscc(idp: Idp) -> None:
    assert msg.REGISTRY_NOT_FOUND in registry_refusal(idp, uscc="91440106MA5DLH0090")


def test_registry_refuses_a_deregistered_unit(idp: Idp) -> None:
    text = registry_refusal(
        idp,
        uscc="91440113MA5DLF0033",
        org_name="广州市番禺区示范旧厂有限公司",
        legal_rep_name="冯军",
        legal_rep_id_number="440113197007070062",
    )
    assert "该单位在法人基础库中的登记状态为“注销”，不能注册法人账号" in text


def test_without_a_registry_registration_cannot_complete(make_idp, tmp_path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("uscc,org_name,org_type,legal_rep_name,legal_rep_id_number,status,address\n", encoding="utf-8")
    idp = make_idp(legal_person_registry_csv=str(empty))
    assert msg.REGISTRY_UNAVAILABLE in registry_refusal(idp)


# -- duplicates ------------------------------------------------------------------------------
def test_a_registered_uscc_and_login_account_are_refused_at_step_one(idp: Idp) -> None:
    response = start_legal_registration(idp, idp.new_browser(), login_name="demo_l2", uscc="91440104MA5DL2B24P")
    assert response.status_code == 400
    assert field_error(response.text, "login_name") == msg.LOGIN_NAME_TAKEN
    assert field_error(response.text, "uscc") == msg.USCC_TAKEN


def test_a_unit_registered_meanwhile_is_refused_at_step_three(idp: Idp) -> None:
    first, second = idp.new_browser(), idp.new_browser()
    assert start_legal_registration(idp, first).status_code == 303
    # The second browser uses another account name and mobile for the same unit.
    assert start_legal_registration(idp, second, login_name="haizhu_wl02", mobile="13912340000").status_code == 303
    register_page = first.get("/register/legal/verify")
    assert first.post("/register/legal/verify", data={"csrf_token": csrf(register_page.text)}, follow_redirects=False).status_code == 303
    page = second.get("/register/legal/verify")
    refused = second.post("/register/legal/verify", data={"csrf_token": csrf(page.text)}, follow_redirects=False)
    assert refused.status_code == 400 and msg.USCC_TAKEN in refused.text
    assert account_count(idp) == 6


# -- errors next to their fields -----------------------------------------------------------
def test_every_error_is_shown_next_to_its_field(idp: Idp) -> None:
    browser = idp.new_browser()
    page = browser.get("/register/legal")
    form = legal_form(
        login_name="ab",
        password="weak",
        password_confirm="other",
        uscc="123",
        city="",
        district="",
        legal_rep_id_number="1",
        mobile="12",
        agree=None,
    )
    response = browser.post("/register/legal", data={"csrf_token": csrf(page.text), **form})
    assert response.status_code == 400
    assert field_error(response.text, "login_name") == "请输入6-20位字符，仅包含数字、字母、下划线中的两种或以上的组合"
    assert field_error(response.text, "password") == GDZWFW_PASSWORD_MESSAGE
    assert field_error(response.text, "password_confirm") == msg.PASSWORD_MISMATCH
    assert field_error(response.text, "uscc") == "统一社会信用代码应为18位"
    assert field_error(response.text, "region") == msg.ADDRESS_REGION_INVALID
    assert field_error(response.text, "legal_rep_id_number") == "身份证号码应为18位"
    assert field_error(response.text, "mobile") == "请输入正确的11位手机号码"
    assert field_error(response.text, "applicant") == msg.APPLICANT_MISSING
    assert field_error(response.text, "agree") == msg.AGREEMENT_MISSING
    # What was typed stays (but never a password).
    assert 'value="ab"' in response.text and 'value="weak"' not in response.text
    assert account_count(idp) == 5


def test_the_sms_code_is_required_and_checked(idp: Idp) -> None:
    browser = idp.new_browser()
    page = browser.get("/register/legal")
    approve_face(browser, page.text)
    missing = browser.post("/register/legal", data={"csrf_token": csrf(page.text), **legal_form()})
    assert field_error(missing.text, "sms_code") == msg.SMS_CODE_MISSING
    wrong = browser.post("/register/legal", data={"csrf_token": csrf(page.text), **legal_form(sms_code="000000")})
    assert field_error(wrong.text, "sms_code") == "请先获取短信验证码"


def test_a_verified_mobile_is_not_asked_again_after_another_mistake(idp: Idp) -> None:
    browser = idp.new_browser()
    page = browser.get("/register/legal")
    approve_face(browser, page.text)
    browser.post("/sms/send", data={"csrf_token": csrf(page.text), "mobile": "13912345678", "purpose": "register-legal"})
    code = latest_sms_code(idp, "13912345678")
    first = browser.post(
        "/register/legal", data={"csrf_token": csrf(page.text), **legal_form(sms_code=code, password="weak", password_confirm="weak")}
    )
    assert first.status_code == 400 and field_error(first.text, "sms_code") is None
    assert "该手机号码已通过短信验证" in first.text
    again = browser.post("/register/legal", data={"csrf_token": csrf(page.text), **legal_form()}, follow_redirects=False)
    assert again.status_code == 303


def test_the_form_needs_its_csrf_token(idp: Idp) -> None:
    response = idp.client.post("/register/legal", data=legal_form())
    assert response.status_code == 400 and "页面已过期" in response.text


# -- the face check's QR session ---------------------------------------------------------------
def test_a_face_check_qr_can_be_used_only_once(idp: Idp) -> None:
    browser = idp.new_browser()
    page = browser.get("/register/legal")
    sid = qr_sid(page.text)
    assert approve_face(browser, page.text).json()["status"] == "approved"
    phone = idp.new_browser()
    again = phone.get("/m/face", params={"s": sid})
    assert msg.QR_USED in again.text  # nothing pending any more
    # A second scan (here from the first browser, which holds a form token) is refused.
    second = browser.post("/m/face", data={"csrf_token": csrf(page.text), "s": sid, "id_number": "440105199506300095"})
    assert second.status_code == 400 and msg.QR_USED in second.text
    # The page's result was taken once too.
    status = browser.post("/qr/status", data={"csrf_token": csrf(page.text), "kind": "face", "s": sid}).json()
    assert status["status"] == "used"


def test_a_face_check_qr_expires(idp: Idp) -> None:
    browser = idp.new_browser()
    page = browser.get("/register/legal")
    sid = qr_sid(page.text)
    phone = idp.new_browser()
    scanned = phone.get("/m/face", params={"s": sid})
    idp.clock.advance(idp.settings.qr_ttl + 1)
    late = phone.post("/m/face", data={"csrf_token": csrf(scanned.text), "s": sid, "id_number": "440106199205120089"})
    assert late.status_code == 400 and msg.QR_EXPIRED in late.text
    assert browser.post("/qr/status", data={"csrf_token": csrf(page.text), "kind": "face", "s": sid}).json()["status"] == "expired"


def test_a_face_check_result_belongs_to_the_browser_that_showed_the_qr(idp: Idp) -> None:
    owner, other = idp.new_browser(), idp.new_browser()
    page = owner.get("/register/legal")
    sid = qr_sid(page.text)
    phone = idp.new_browser()
    scanned = phone.get("/m/face", params={"s": sid})
    phone.post("/m/face", data={"csrf_token": csrf(scanned.text), "s": sid, "id_number": "440106199205120089"})
    other_page = other.get("/register/legal")
    stolen = other.post("/qr/status", data={"csrf_token": csrf(other_page.text), "kind": "face", "s": sid}).json()
    assert stolen["status"] == "expired"
    assert owner.post("/qr/status", data={"csrf_token": csrf(page.text), "kind": "face", "s": sid}).json()["status"] == "approved"


def test_the_face_check_accepts_only_people_in_the_population_registry(idp: Idp) -> None:
    browser = idp.new_browser()
    page = browser.get("/register/legal")
    sid = qr_sid(page.text)
    phone = idp.new_browser()
    scanned = phone.get("/m/face", params={"s": sid})
    refused = phone.post("/m/face", data={"csrf_token": csrf(scanned.text), "s": sid, "id_number": "440106199001010013"})
    assert refused.status_code == 400 and "人口库中无此人" in refused.text
    assert browser.post("/qr/status", data={"csrf_token": csrf(page.text), "kind": "face", "s": sid}).json()["status"] == "pending"


def test_a_new_qr_can_be_fetched_for_the_page(idp: Idp) -> None:
    browser = idp.new_browser()
    page = browser.get("/register/legal")
    fresh = browser.post("/qr/new", data={"csrf_token": csrf(page.text), "kind": "face"}).json()
    assert fresh["sid"] != qr_sid(page.text) and fresh["text"] == f"{ISSUER}/m/face?s={fresh['sid']}"
    assert (
        browser.post("/qr/new", data={"csrf_token": csrf(page.text), "kind": "licence", "purpose": "verify"}).status_code == 400
    )  # not logged in


def test_changing_a_verified_mobile_asks_for_a_new_code(idp: Idp) -> None:
    browser = idp.new_browser()
    page = browser.get("/register/legal")
    approve_face(browser, page.text)
    browser.post("/sms/send", data={"csrf_token": csrf(page.text), "mobile": "13912345678", "purpose": "register-legal"})
    code = latest_sms_code(idp, "13912345678")
    first = browser.post("/register/legal", data={"csrf_token": csrf(page.text), **legal_form(sms_code=code, agree=None)})
    assert first.status_code == 400 and 'id="sms_code"' in first.text  # the code box stays, for a change of number
    changed = browser.post("/register/legal", data={"csrf_token": csrf(page.text), **legal_form(mobile="13912340000")})
    assert field_error(changed.text, "sms_code") == msg.SMS_CODE_MISSING
