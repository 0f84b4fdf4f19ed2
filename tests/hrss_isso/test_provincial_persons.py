"""个人注册 way 2 and 二级 through the province: a personal login at
gdzwfw_idp (account_type natural_person, faked at the transport with a real
key) registers, logs in or links an HRSS personal account — never one that
someone else registered under the same ID number."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from services.hrss_isso import messages as msg
from services.hrss_isso.models import Person, PersonProvincialLink
from tests.hrss_isso.conftest import GDZWFW, Isso, csrf_of
from tests.hrss_isso.flows import GOOD_PASSWORD

ZHOU = {
    "sub": "gd-person-zhou",
    "account_type": "natural_person",
    "name": "周婷",
    "id_number": "44010619950214006X",
    "acr": "urn:gdzwfw:loa:L2",
    "amr": ["pwd"],
}


def _start(isso: Isso, browser, kind: str = "personal"):
    return browser.get(f"/isso/federation/gdzwfw/start?kind={kind}", follow_redirects=False)


def _level(isso: Isso, login_name: str) -> int:
    with isso.db() as s:
        return s.execute(select(Person.realname_level).where(Person.login_name == login_name)).scalar_one()


def test_a_new_provincial_person_registers_at_level_two(isso: Isso) -> None:
    browser = isso.new_browser()
    callback = isso.fake_gdzwfw.login(browser, _start(isso, browser), **ZHOU)
    assert callback.status_code == 303 and callback.headers["location"].endswith("/isso/register/provincial")
    form = browser.get(callback.headers["location"])
    assert "省统一身份认证注册" in form.text and 'value="周婷"' in form.text and "4401**********006X" in form.text
    assert "44010619950214006X" not in form.text
    sent = browser.post(
        "/isso/register/provincial",
        data={"csrf_token": csrf_of(form.text), "action": "send_sms", "mobile": "13700137021"},
        headers={"Accept": "application/json"},
    )
    assert sent.json()["ok"] is True
    done = browser.post(
        "/isso/register/provincial",
        data={
            "csrf_token": csrf_of(form.text),
            "action": "submit",
            # Name and ID number come from the province, whatever the form says.
            "name": "别人",
            "id_number": "440106199007150041",
            "mobile": "13700137021",
            "sms_code": isso.sms_code("13700137021"),
            "login_name": "zhouting",
            "password": GOOD_PASSWORD,
            "password2": GOOD_PASSWORD,
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text[:2000]
    with isso.db() as s:
        person = s.execute(select(Person).where(Person.login_name == "zhouting")).scalar_one()
        assert (person.name, person.id_number, person.realname_level, person.realname_method) == (
            "周婷",
            "44010619950214006X",
            2,
            "省统一身份认证",
        )
        link = s.execute(select(PersonProvincialLink).where(PersonProvincialLink.person_id == person.id)).scalar_one()
        assert (link.issuer, link.subject) == (GDZWFW, "gd-person-zhou")
    assert "二级实名" in browser.get("/isso/register/done").text

    # The next provincial login goes straight to the unit chooser.
    again = isso.new_browser()
    callback = isso.fake_gdzwfw.login(again, _start(isso, again), **ZHOU)
    assert callback.status_code == 303 and callback.headers["location"].endswith("/isso/login/units")
    assert "周婷，您好" in again.get("/isso/login/units").text


def test_abandoning_the_provincial_registration_leaves_nothing(isso: Isso) -> None:
    before = isso.count(Person)
    browser = isso.new_browser()
    isso.fake_gdzwfw.login(browser, _start(isso, browser), **ZHOU)
    browser.get("/isso/register/provincial")
    assert isso.count(Person) == before and isso.count(PersonProvincialLink) == 0


def test_an_existing_account_with_the_same_id_number_is_not_taken_over(isso: Isso) -> None:
    browser = isso.new_browser()
    chen = {**ZHOU, "sub": "gd-person-chen", "name": "陈晓", "id_number": "440106199007150041"}
    callback = isso.fake_gdzwfw.login(browser, _start(isso, browser), **chen)
    assert callback.status_code == 409
    assert "您的证件号码已注册个人账号" in callback.text and "通过省统一身份认证实名" in callback.text
    assert isso.count(PersonProvincialLink) == 0
    assert browser.get("/isso/login/units", follow_redirects=False).status_code == 303  # not logged in


def test_a_logged_in_level_one_person_reaches_level_two_by_one_provincial_login(isso: Isso) -> None:
    browser = isso.new_browser()
    assert isso.login("liming", browser=browser).status_code == 303
    page = browser.get("/isso/account")
    assert 'href="/isso/federation/gdzwfw/start?kind=link"' in page.text
    li = {**ZHOU, "sub": "gd-person-li", "name": "李明", "id_number": "440106198503120023"}
    done = isso.fake_gdzwfw.login(browser, _start(isso, browser, "link"), **li)
    assert done.status_code == 303 and done.headers["location"].endswith("/isso/account")
    assert msg.REALNAME_DONE in browser.get("/isso/account").text
    assert _level(isso, "liming") == 2
    with isso.db() as s:
        person = s.execute(select(Person).where(Person.login_name == "liming")).scalar_one()
        assert person.realname_method == "省统一身份认证"


def test_a_provincial_identity_of_someone_else_does_not_raise_the_level(isso: Isso) -> None:
    browser = isso.new_browser()
    isso.login("liming", browser=browser)
    done = isso.fake_gdzwfw.login(browser, _start(isso, browser, "link"), **ZHOU)
    assert done.status_code == 303
    assert "姓名、证件号码与当前个人账号不一致" in browser.get("/isso/account").text
    assert _level(isso, "liming") == 1 and isso.count(PersonProvincialLink) == 0


def test_a_legal_person_or_a_person_without_identity_claims_is_refused(isso: Isso) -> None:
    browser = isso.new_browser()
    legal = isso.fake_gdzwfw.login(
        browser, _start(isso, browser), sub="gd-legal", account_type="legal_person", uscc="91440104MA5DL2B24P", acr="urn:gdzwfw:loa:L2"
    )
    assert legal.status_code == 400 and "选择“个人登录”" in legal.text
    bare = isso.fake_gdzwfw.login(
        browser, _start(isso, browser), sub="gd-bare", account_type="natural_person", name="周婷", acr="urn:gdzwfw:loa:L2"
    )
    assert bare.status_code == 400 and "未提供您的实名身份信息" in bare.text
    assert isso.count(PersonProvincialLink) == 0


def test_the_unit_way_in_still_refuses_a_natural_person(isso: Isso) -> None:
    browser = isso.new_browser()
    response = isso.fake_gdzwfw.login(browser, _start(isso, browser, "unit"), **ZHOU)
    assert response.status_code == 400 and "选择“法人登录”" in response.text


def test_a_disabled_account_is_not_logged_in_through_the_province(make_isso: Callable[..., Isso]) -> None:
    from sqlalchemy import update

    isso = make_isso(hotline="96110")
    browser = isso.new_browser()
    isso.login("liming", browser=browser)
    li = {**ZHOU, "sub": "gd-person-li", "name": "李明", "id_number": "440106198503120023"}
    isso.fake_gdzwfw.login(browser, _start(isso, browser, "link"), **li)
    with isso.db() as s:
        s.execute(update(Person).where(Person.login_name == "liming").values(status="disabled"))
    again = isso.new_browser()
    refused = isso.fake_gdzwfw.login(again, _start(isso, again), **li)
    # The number to call is the ISSO's own hotline setting.
    assert refused.status_code == 400 and "该账号已停用，如有疑问请拨打 96110 咨询" in refused.text
