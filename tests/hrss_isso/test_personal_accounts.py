"""个人注册 way 1 (证件号码 + 手机号码 with an SMS code), its rules, 实名
levels through the population registry, 找回登录账号, 忘记密码 and the
personal login with lockout. Every refused form leaves the store as it was."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from services.hrss_isso import messages as msg
from services.hrss_isso.models import Person, RealnameChange
from tests.hrss_isso.conftest import DEMO_PASSWORD, Isso, csrf_of
from tests.hrss_isso.flows import GOOD_PASSWORD, person_form, person_id, register_person


def _person(isso: Isso, login_name: str) -> Person | None:
    with isso.db() as s:
        person = s.execute(select(Person).where(Person.login_name == login_name)).scalar_one_or_none()
        if person is not None:
            s.expunge(person)
        return person


# -- 个人注册 (way 1) -----------------------------------------------------------------
def test_registration_with_id_number_and_mobile_gives_level_one(isso: Isso) -> None:
    browser = isso.new_browser()
    done = register_person(isso, browser)
    assert done.status_code == 303 and done.headers["location"] == "/isso/register/done"
    page = browser.get("/isso/register/done")
    assert "注册成功" in page.text and "一级实名" in page.text and "zhouting" in page.text
    person = _person(isso, "zhouting")
    assert person.realname_level == 1 and person.name == "周婷" and person.id_number == "44010619950214006X"
    assert person.password_hash.startswith("$argon2id$")
    with isso.db() as s:
        changes = s.execute(select(RealnameChange.to_level, RealnameChange.method).where(RealnameChange.person_id == person.id)).all()
    assert [tuple(c) for c in changes] == [(1, "注册")]
    # Registered and logged in: the personal centre shows the level.
    assert "一级实名" in browser.get("/isso/account").text


def test_the_sms_code_is_sent_to_the_outbox_and_answered_as_json(isso: Isso) -> None:
    sent = isso.send_sms("/isso/register/person", "mobile", "13700137001")
    assert sent.status_code == 200
    assert sent.json() == {"ok": True, "message": "验证码已发送至137****7001，5分钟内有效"}
    assert "【广东人社】您的验证码为" in isso.outbox("13700137001")[0]
    again = isso.send_sms("/isso/register/person", "mobile", "13700137001")
    assert again.status_code == 400 and again.json()["message"] == "验证码已发送，请60秒后再重新获取"
    bad = isso.send_sms("/isso/register/person", "mobile", "1370013700")
    assert bad.status_code == 400 and bad.json()["message"] == msg.MOBILE_RULE


def test_sms_send_without_script_renders_the_form_again_with_the_message(isso: Isso) -> None:
    response = isso.post_form("/isso/register/person", {"action": "send_sms", "mobile": "13700137001", "name": "周婷"})
    assert response.status_code == 200
    assert "验证码已发送至137****7001" in response.text and 'value="周婷"' in response.text


BAD_FIELDS = [
    ("name", "Z", msg.PERSON_NAME_RULE),
    ("name", "周", msg.PERSON_NAME_RULE),
    ("id_number", "440106199502140061", "身份证号码校验位不正确"),
    ("id_number", "44010619950230006X", "身份证号码的出生日期不存在"),
    ("id_number", "4401061995021400", "身份证号码应为18位"),
    ("mobile", "23700137001", msg.MOBILE_RULE),
    ("login_name", "1zhouting", msg.LOGIN_ACCOUNT_RULE),
    ("login_name", "zhou", msg.LOGIN_ACCOUNT_RULE),
    ("login_name", "zhou-ting", msg.LOGIN_ACCOUNT_RULE),
    ("login_name", "z" * 21, msg.LOGIN_ACCOUNT_RULE),
    ("password", "Gz2026", msg.PASSWORD_RULE.format(n=3)),
    ("password", "gzhr2026x", msg.PASSWORD_RULE.format(n=3)),
    ("password", "Abcd1357x", msg.PASSWORD_RULE.format(n=3)),  # abcd: a run of 4 letters
    ("password", "Gzhr1234x", msg.PASSWORD_RULE.format(n=3)),  # 1234: a run of 4 digits
    ("password", "Qwer@Gz26", msg.PASSWORD_RULE.format(n=3)),  # qwer: a run of 4 keys
    ("password2", "Gzhr@2026y", msg.PASSWORD_MISMATCH),
]


@pytest.mark.parametrize(("name", "value", "message"), BAD_FIELDS, ids=[f"{n}={v}" for n, v, _ in BAD_FIELDS])
def test_every_registration_rule_is_refused_next_to_its_field(isso: Isso, name: str, value: str, message: str) -> None:
    before = isso.count(Person)
    response = isso.post_form("/isso/register/person", person_form(**{name: value}, sms_code="123456"))
    assert response.status_code == 400
    assert f'<div class="field-error" id="{name}-error" role="alert">{message}</div>' in response.text
    assert isso.count(Person) == before


def test_keyboard_runs_up_to_the_setting_are_accepted(make_isso) -> None:
    isso = make_isso()
    # xyz and 789 are runs of 3: allowed with the default of 3.
    assert register_person(isso, password="Xyz@789gq", password2="Xyz@789gq").status_code == 303
    four = make_isso(password_max_keyboard_run=4)
    response = register_person(four, password="Abcd1357x", password2="Abcd1357x")
    assert response.status_code == 303
    page = four.client.get("/isso/register/person")
    assert "不能在键盘上连续超过4个字符" in page.text


def test_a_wrong_expired_or_spent_sms_code_creates_nothing(isso: Isso) -> None:
    browser = isso.new_browser()
    before = isso.count(Person)
    isso.send_sms("/isso/register/person", "mobile", "13700137001", browser=browser)
    code = isso.sms_code("13700137001")
    wrong = isso.post_form("/isso/register/person", person_form(sms_code="000000" if code != "000000" else "111111"), browser=browser)
    assert wrong.status_code == 400 and "短信验证码不正确" in wrong.text
    isso.clock.advance(301)
    expired = isso.post_form("/isso/register/person", person_form(sms_code=code), browser=browser)
    assert expired.status_code == 400 and "短信验证码已过期，请重新获取" in expired.text
    assert isso.count(Person) == before
    isso.send_sms("/isso/register/person", "mobile", "13700137001", browser=browser)
    code = isso.sms_code("13700137001")
    assert isso.post_form("/isso/register/person", person_form(sms_code=code), browser=browser).status_code == 303
    reused = isso.post_form(
        "/isso/register/person", person_form(sms_code=code, login_name="zhouting2", id_number="440106199309090099", name="郑浩")
    )
    assert reused.status_code == 400 and "请先获取短信验证码" in reused.text
    assert isso.count(Person) == before + 1


def test_an_id_number_or_login_name_already_registered_is_refused(isso: Isso) -> None:
    taken_id = register_person(isso, id_number="440106199007150041", name="陈晓")
    assert taken_id.status_code == 400
    assert f'id="id_number-error" role="alert">{msg.ID_EXISTS}<' in taken_id.text
    isso.clock.advance(61)
    taken_login = register_person(isso, login_name="chenxiao")
    assert taken_login.status_code == 400 and msg.PERSON_LOGIN_TAKEN in taken_login.text
    # Unit user names share the namespace.
    isso.clock.advance(61)
    assert msg.PERSON_LOGIN_TAKEN in register_person(isso, login_name="liwan_zhizao").text
    assert _person(isso, "zhouting") is None


def test_the_guide_panel_and_both_ways_are_offered(isso: Isso) -> None:
    ways = isso.client.get("/isso/register")
    assert "证件号码 + 手机号码注册" in ways.text and "省统一身份认证注册" in ways.text
    assert 'href="/isso/federation/gdzwfw/start?kind=personal"' in ways.text
    form = isso.client.get("/isso/register/person")
    assert "操作指引" in form.text and "个人注册、单位注册有什么区别？" in form.text


# -- 实名 levels -----------------------------------------------------------------------
def _login(isso: Isso, login_name: str, password: str = DEMO_PASSWORD):
    browser = isso.new_browser()
    response = isso.login(login_name, password, browser=browser)
    assert response.status_code == 303, response.text[:500]
    return browser


def _verify(isso: Isso, browser, **data):
    return isso.post_form("/isso/account/realname", data, browser=browser, page="/isso/account")


def test_population_registry_check_raises_to_level_two(isso: Isso) -> None:
    browser = _login(isso, "liming")
    assert "一级实名" in browser.get("/isso/account").text
    wrong = _verify(isso, browser, valid_until="2031-03-13")
    assert wrong.status_code == 400 and msg.REALNAME_FAILED in wrong.text
    assert _person(isso, "liming").realname_level == 1
    missing = _verify(isso, browser, valid_until="")
    assert missing.status_code == 400 and msg.VALID_UNTIL_RULE in missing.text
    ok = _verify(isso, browser, valid_until="2031-03-12")
    assert ok.status_code == 303
    person = _person(isso, "liming")
    assert person.realname_level == 2 and person.realname_method == "人口库实名核验"
    page = browser.get("/isso/account")
    assert msg.REALNAME_DONE in page.text and "二级实名" in page.text
    with isso.db() as s:
        last = (
            s.execute(select(RealnameChange).where(RealnameChange.person_id == person.id).order_by(RealnameChange.id.desc()))
            .scalars()
            .first()
        )
        assert (last.from_level, last.to_level) == (1, 2) and "4401**********0023" in last.evidence


def test_registry_refuses_expired_cards_deregistered_people_and_unknown_numbers(isso: Isso) -> None:
    cases = [
        ("qianjin", "钱进", "440103198001010079", "13700137011", {"valid_until": "2020-01-01"}, msg.REALNAME_CARD_EXPIRED),
        ("wumin", "吴敏", "440106197006060088", "13700137012", {"long_term": "1"}, msg.REALNAME_DEREGISTERED),
        ("liuyang", "刘洋", "440106200001010019", "13700137013", {"valid_until": "2030-01-01"}, msg.REALNAME_NO_RECORD),
    ]
    for login_name, name, id_number, mobile, data, message in cases:
        browser = isso.new_browser()
        assert register_person(isso, browser, login_name=login_name, name=name, id_number=id_number, mobile=mobile).status_code == 303
        refused = _verify(isso, browser, **data)
        assert refused.status_code == 400 and message in refused.text, login_name
        assert _person(isso, login_name).realname_level == 1


def test_registry_checks_are_limited(isso: Isso) -> None:
    browser = _login(isso, "liming")
    for _ in range(isso.settings.check_max_failures):
        assert msg.REALNAME_FAILED in _verify(isso, browser, valid_until="2031-01-01").text
    blocked = _verify(isso, browser, valid_until="2031-03-12")
    assert "尝试次数过多，请15分钟后再试" in blocked.text
    assert _person(isso, "liming").realname_level == 1


# -- 找回登录账号 and 忘记密码 ---------------------------------------------------------
def test_find_login_name_by_id_number_and_mobile(isso: Isso) -> None:
    browser = isso.new_browser()
    isso.send_sms("/isso/find-login-id", "mobile", "13800138002", browser=browser)
    code = isso.sms_code("13800138002")
    found = isso.post_form(
        "/isso/find-login-id",
        {"action": "submit", "id_number": "440106198503120023", "mobile": "13800138002", "sms_code": code},
        browser=browser,
    )
    assert found.status_code == 200 and "您的个人登录账号为：<strong>liming</strong>" in found.text

    isso.clock.advance(61)
    isso.send_sms("/isso/find-login-id", "mobile", "13800138009", browser=browser)
    code = isso.sms_code("13800138009")
    other = isso.post_form(
        "/isso/find-login-id",
        {"action": "submit", "id_number": "440106198503120023", "mobile": "13800138009", "sms_code": code},
        browser=browser,
    )
    assert other.status_code == 400 and msg.FIND_LOGIN_NOT_FOUND in other.text and "liming" not in other.text


def test_forgot_password_resets_it_after_an_sms_to_the_registered_mobile(isso: Isso) -> None:
    browser = isso.new_browser()
    mismatch = isso.post_form("/isso/forgot-password", {"login_name": "liming", "id_number": "440106199007150041"}, browser=browser)
    assert mismatch.status_code == 400 and msg.RESET_MISMATCH in mismatch.text
    assert isso.outbox("13800138002") == []
    step1 = isso.post_form("/isso/forgot-password", {"login_name": "liming", "id_number": "440106198503120023"}, browser=browser)
    assert step1.status_code == 303
    page = browser.get("/isso/forgot-password/reset")
    assert "短信验证码已发送至138****8002" in page.text
    code = isso.sms_code("13800138002")
    weak = browser.post(
        "/isso/forgot-password/reset",
        data={"csrf_token": csrf_of(page.text), "action": "submit", "sms_code": code, "password": "weak", "password2": "weak"},
    )
    assert weak.status_code == 400 and "密码应为8-30位" in weak.text
    done = browser.post(
        "/isso/forgot-password/reset",
        data={
            "csrf_token": csrf_of(page.text),
            "action": "submit",
            "sms_code": code,
            "password": GOOD_PASSWORD,
            "password2": GOOD_PASSWORD,
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert msg.RESET_DONE in browser.get(done.headers["location"]).text
    assert isso.login("liming", DEMO_PASSWORD).status_code == 400
    assert isso.login("liming", GOOD_PASSWORD, browser=isso.new_browser()).status_code == 303


# -- 个人登录 (账号密码) with lockout ------------------------------------------------------
def test_personal_login_leads_to_the_unit_chooser(isso: Isso) -> None:
    browser = isso.new_browser()
    response = isso.login("chenxiao", browser=browser)
    assert response.status_code == 303 and response.headers["location"].endswith("/isso/login/units")
    chooser = browser.get(response.headers["location"])
    assert "选择绑定的单位" in chooser.text and msg.CHOOSE_UNIT_BUTTON in chooser.text
    assert "广州市越秀区示范贸易有限公司" in chooser.text and "广州市天河区示范科技有限公司" in chooser.text


def test_personal_login_locks_after_repeated_wrong_passwords(isso: Isso) -> None:
    for left in range(4, 0, -1):
        wrong = isso.login("chenxiao", "Wrong@pass26")
        assert wrong.status_code == 400 and f"账号或密码错误，您还可以尝试{left}次" in wrong.text
    locked = isso.login("chenxiao", "Wrong@pass26")
    assert "账号已被锁定，请15分钟后再试" in locked.text
    # Even the right password is refused while locked.
    assert "账号已被锁定" in isso.login("chenxiao", DEMO_PASSWORD).text
    isso.clock.advance(isso.settings.login_lock_seconds + 1)
    assert isso.login("chenxiao", DEMO_PASSWORD, browser=isso.new_browser()).status_code == 303


def test_unknown_accounts_fail_like_wrong_passwords(isso: Isso) -> None:
    response = isso.login("nobody_here", "Wrong@pass26")
    assert response.status_code == 400 and "账号或密码错误" in response.text
    assert person_id(isso, "chenxiao")


def test_the_sms_outbox_page_exists_only_in_development(make_isso) -> None:
    development = make_isso()
    assert development.client.get("/dev/sms").status_code == 200
    test_env = make_isso(environment="test")
    assert test_env.client.get("/dev/sms").status_code == 404
    # No demo accounts outside development either.
    assert test_env.count(Person) == 0
