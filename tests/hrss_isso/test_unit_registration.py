"""单位注册 in the seed's three steps — 1 单位所属实名人员信息 → 2 单位信息 →
3 注册完成 — with every field's rule, 「证件号已存在」, the 二级 requirement
and nothing half-created; then the unit account's own login (L1)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.hrss_isso import messages as msg
from services.hrss_isso.models import AuditEntry, Unit
from tests.hrss_isso.conftest import Isso, csrf_of
from tests.hrss_isso.flows import GOOD_PASSWORD, id_claims, unit_form, unit_tokens

STEP1 = "/isso/register/unit"
STEP2 = "/isso/register/unit/info"


def _step1(isso: Isso, browser: TestClient, login_name: str = "chenxiao", id_number: str = "440106199007150041"):
    return isso.post_form(STEP1, {"login_name": login_name, "id_number": id_number}, browser=browser)


def _ready_for_step2(isso: Isso) -> TestClient:
    browser = isso.new_browser()
    response = _step1(isso, browser)
    assert response.status_code == 303 and response.headers["location"] == STEP2
    return browser


def _register(isso: Isso, browser: TestClient, **overrides: str):
    form = unit_form(**overrides)
    sent = isso.send_sms(STEP2, "legal_rep_mobile", form["legal_rep_mobile"], browser=browser)
    assert sent.status_code == 200, sent.text
    form["sms_code"] = isso.sms_code(form["legal_rep_mobile"])
    return isso.post_form(STEP2, form, browser=browser)


# -- step 1 ---------------------------------------------------------------------------
def test_step_one_needs_a_level_two_personal_account_with_that_id(isso: Isso) -> None:
    page = isso.client.get(STEP1)
    assert "实名信息注册" in page.text and "单位所属实名人员信息" in page.text and 'aria-current="step"' in page.text
    # 操作指引 with the seed's questions and its links
    for text in (
        "个人注册、单位注册有什么区别？",
        "提示“证件号已存在”怎么办？",
        "提示“当前账号实名等级不足，请至少提升至二级实名后重试”怎么办？",
        "登录经办人账号进行绑定实名认证或使用带证认证、电子社保卡等第三方登录方式登录一次",
        'href="/isso/register"',
        'href="/isso/find-login-id"',
    ):
        assert text in page.text, text
    low = _step1(isso, isso.new_browser(), "liming", "440106198503120023")
    assert low.status_code == 400 and f'role="alert" id="form-error">{msg.LEVEL_TOO_LOW}<' in low.text
    mismatch = _step1(isso, isso.new_browser(), "chenxiao", "440106198503120023")
    assert mismatch.status_code == 400 and msg.STEP1_MISMATCH in mismatch.text
    bad_id = _step1(isso, isso.new_browser(), "chenxiao", "440106199007150042")
    assert bad_id.status_code == 400 and 'id="id_number-error"' in bad_id.text and "身份证号码校验位不正确" in bad_id.text
    empty = _step1(isso, isso.new_browser(), "", "440106199007150041")
    assert 'id="login_name-error" role="alert">请输入实名个人登录账号<' in empty.text
    assert _step1(isso, isso.new_browser()).status_code == 303


def test_step_two_is_only_reached_through_step_one(isso: Isso) -> None:
    browser = isso.new_browser()
    assert browser.get(STEP2, follow_redirects=False).headers["location"] == STEP1
    assert isso.post_form(STEP2, unit_form(), browser=browser, page=STEP1).status_code == 303
    assert isso.count(Unit) == 3


# -- step 2 and 3 ---------------------------------------------------------------------
def test_a_unit_registers_with_its_uscc_and_logs_in_with_its_account(isso: Isso) -> None:
    browser = _ready_for_step2(isso)
    page = browser.get(STEP2)
    for text in (
        "推荐使用统一社会信用代码注册",
        "如果证件类型为组织机构代码，第九位“-”请省略",
        "居民身份证（户口簿）",
        "广东省 广州市",
        "登录账号应为5-20位，可以使用大小写字母、数字和下划线，且应该以字母开始",
        "同时不能在键盘上连续超过3个字符",
        "陈晓（chenxiao，4401**********0041）",
    ):
        assert text in page.text, text
    done = _register(isso, browser)
    assert done.status_code == 303 and done.headers["location"] == "/isso/register/unit/done"
    final = browser.get("/isso/register/unit/done")
    assert "单位注册成功" in final.text and 'aria-current="step"><span class="num">3</span>注册完成' in final.text
    with isso.db() as s:
        unit = s.execute(select(Unit).where(Unit.login_name == "haizhu_fuwu")).scalar_one()
        assert unit.uscc == "91440101MA9XY7008U" and unit.org_code == "MA9XY7008" and unit.cert_type == "uscc"
        assert unit.unit_code.startswith("440100") and len(unit.unit_code) == 11 and unit.unit_code in final.text
        assert (unit.legal_rep_name, unit.legal_rep_id_number, unit.legal_rep_mobile, unit.region_code) == (
            "郑浩",
            "440106199309090099",
            "13600136001",
            "440100",
        )
        assert unit.password_hash.startswith("$argon2id$")
        assert s.execute(select(AuditEntry.action).where(AuditEntry.target == f"unit:{unit.id}")).scalar_one() == "unit.register"
    # The session forgets the registration once it is shown.
    login = isso.login("haizhu_fuwu", GOOD_PASSWORD, tab="unit", browser=isso.new_browser())
    assert login.status_code == 303 and login.headers["location"] == "http://127.0.0.1:8002/isso/"


def test_a_unit_registers_with_its_organisation_code_without_the_hyphen(isso: Isso) -> None:
    browser = _ready_for_step2(isso)
    hyphen = _register(isso, browser, cert_type="org_code", cert_number="D2143569-X")
    assert hyphen.status_code == 400
    assert '<div class="field-error" id="cert_number-error" role="alert">组织机构代码第九位“-”请省略</div>' in hyphen.text
    assert isso.count(Unit) == 3
    isso.clock.advance(61)
    done = _register(isso, browser, cert_type="org_code", cert_number="D2143569X")
    assert done.status_code == 303
    with isso.db() as s:
        unit = s.execute(select(Unit).where(Unit.org_code == "D2143569X")).scalar_one()
        assert unit.uscc is None and unit.cert_type == "org_code"
    claims = id_claims(isso, unit_tokens(isso, "haizhu_fuwu", GOOD_PASSWORD))
    assert claims["org_name"] == "广州市海珠区示范服务有限公司" and "uscc" not in claims and claims["unit_code"] == unit.unit_code


@pytest.mark.parametrize(
    ("cert_type", "cert_number"),
    [("uscc", "91440104MA5DL2B24P"), ("org_code", "MA5DL2B24")],
    ids=["same-uscc", "org-code-inside-a-registered-uscc"],
)
def test_a_registered_unit_is_refused_with_the_seeds_message(isso: Isso, cert_type: str, cert_number: str) -> None:
    browser = _ready_for_step2(isso)
    response = _register(isso, browser, cert_type=cert_type, cert_number=cert_number)
    assert response.status_code == 400
    assert f'id="cert_number-error" role="alert">{msg.ID_EXISTS}<' in response.text
    assert isso.count(Unit) == 3


BAD_UNIT_FIELDS = [
    ("cert_type", "passport", "请选择证件类型"),
    ("cert_number", "91440101MA9XY70081", "统一社会信用代码校验位不正确，请核对后重新输入"),
    ("cert_number", "9144010", "统一社会信用代码应为18位"),
    ("org_name", "", "请输入单位名称"),
    ("org_name", "甲", msg.ORG_NAME_RULE),
    ("region_code", "110100", "请选择单位所在地"),
    ("address", "", "请输入详细地址"),
    ("address", "一号", msg.ADDRESS_RULE),
    ("legal_rep_name", "Zheng", msg.LEGAL_REP_NAME_RULE),
    ("legal_rep_id_type", "护照", "请选择法定代表人证件类型"),
    ("legal_rep_id_number", "440106199309090098", "身份证号码校验位不正确"),
    ("legal_rep_mobile", "1360013600", msg.MOBILE_RULE),
    ("login_name", "_haizhu", msg.LOGIN_ACCOUNT_RULE),
    ("login_name", "hz", msg.LOGIN_ACCOUNT_RULE),
    ("password", "haizhufuwu2026", msg.PASSWORD_RULE.format(n=3)),
    ("password", "Asdf@2026x", msg.PASSWORD_RULE.format(n=3)),
    ("password2", "Other@2026x", msg.PASSWORD_MISMATCH),
    ("sms_code", "", msg.SMS_REQUIRED),
]


@pytest.mark.parametrize(("name", "value", "message"), BAD_UNIT_FIELDS, ids=[f"{n}={v}" for n, v, _ in BAD_UNIT_FIELDS])
def test_every_unit_field_rule_is_refused_next_to_its_field(isso: Isso, name: str, value: str, message: str) -> None:
    browser = _ready_for_step2(isso)
    response = isso.post_form(STEP2, unit_form(**{"sms_code": "123456", name: value}), browser=browser)
    assert response.status_code == 400
    assert f'<div class="field-error" id="{name}-error" role="alert">{message}</div>' in response.text
    # The values typed stay (passwords never come back).
    assert GOOD_PASSWORD not in response.text
    assert isso.count(Unit) == 3


def test_a_wrong_sms_code_or_a_taken_user_name_creates_nothing(isso: Isso) -> None:
    browser = _ready_for_step2(isso)
    isso.send_sms(STEP2, "legal_rep_mobile", "13600136001", browser=browser)
    wrong = isso.post_form(STEP2, unit_form(sms_code="999999" if isso.sms_code("13600136001") != "999999" else "888888"), browser=browser)
    assert wrong.status_code == 400 and "短信验证码不正确" in wrong.text
    taken = isso.post_form(STEP2, unit_form(sms_code=isso.sms_code("13600136001"), login_name="chenxiao"), browser=browser)
    assert taken.status_code == 400 and msg.LOGIN_NAME_TAKEN in taken.text
    assert isso.count(Unit) == 3


def test_abandoning_after_step_one_leaves_nothing(isso: Isso) -> None:
    browser = _ready_for_step2(isso)
    browser.get(STEP2)
    browser.get(f"{STEP1}?restart=1")
    assert browser.get(STEP2, follow_redirects=False).status_code == 303
    assert isso.count(Unit) == 3


# -- the unit account's login ---------------------------------------------------------------
def test_a_unit_account_login_is_level_one_without_act(isso: Isso) -> None:
    browser = isso.new_browser()
    claims = id_claims(isso, unit_tokens(isso, "liwan_zhizao", browser=browser, acr_values="urn:gdzwfw:loa:L2"))
    assert claims["acr"] == "urn:gdzwfw:loa:L1" and claims["trust_level"] == "L1"
    assert claims["idp"] == "hrss" and claims["unit_code"] == "44010300003" and claims["uscc"] == "91440103MA5DL3C31X"
    assert "act" not in claims
    home = browser.get("/isso/")
    assert "单位账号密码" in home.text and "三级（原L1）" in home.text


def test_unit_login_locks_too(isso: Isso) -> None:
    for _ in range(isso.settings.login_max_failures):
        isso.login("liwan_zhizao", "Wrong@pass26", tab="unit")
    assert "账号已被锁定" in isso.login("liwan_zhizao", tab="unit").text


def test_a_personal_account_cannot_log_in_on_the_unit_tab(isso: Isso) -> None:
    response = isso.login("chenxiao", tab="unit")
    assert response.status_code == 400 and "账号或密码错误" in response.text
    assert csrf_of(response.text)


def test_step_one_is_judged_again_when_the_unit_is_created(isso: Isso) -> None:
    from sqlalchemy import update

    from services.hrss_isso.models import Person

    browser = _ready_for_step2(isso)
    with isso.db() as s:
        s.execute(update(Person).where(Person.login_name == "chenxiao").values(realname_level=1))
    response = _register(isso, browser)
    assert response.status_code == 400 and msg.LEVEL_TOO_LOW in response.text
    assert isso.count(Unit) == 3


def test_the_guides_links_show_chinese_only(isso: Isso) -> None:
    # The seed names its pages by route (「twoWaysToRegister」, 「findLoginId」); users read only the Chinese.
    init = isso.new_browser()
    start = init.get("/isso/federation/gdzwfw/start?kind=unit", follow_redirects=False)
    claims = {
        "sub": "gd-legal-new",
        "account_type": "legal_person",
        "uscc": "91440106MA5DLUN43N",
        "org_name": "广州市天河区示范新创有限公司",
        "acr": "urn:gdzwfw:loa:L2",
        "amr": ["pwd"],
    }
    assert isso.fake_gdzwfw.login(init, start, **claims).headers["location"].endswith("/isso/init")
    for page in (isso.client.get(STEP1), init.get("/isso/init")):
        assert page.status_code == 200 and 'href="/isso/register"' in page.text
        assert not re.search(r"（[A-Za-z]+）", page.text), re.search(r"（[A-Za-z]+）", page.text)
