"""登录初始化 (issue 5, seed part 一 (三) (2)–(5)): a provincial legal person
with no HRSS unit linked is led through 单位所属实名人员信息 → 单位信息
(USCC and name from the province, read-only) → 注册完成; the unit, its
ProvincialLink and the handler's binding appear together or not at all, and
the next 省统一身份认证 login goes straight in. A unit registered the other
way is never linked by USCC alone."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.hrss_isso import messages as msg
from services.hrss_isso.models import FederatedLogin, ProvincialLink, Unit, UnitBinding
from tests.hrss_isso.conftest import GDZWFW, Isso
from tests.hrss_isso.flows import person_id, unit_form

NEW_UNIT = {
    "sub": "gd-legal-new",
    "account_type": "legal_person",
    "uscc": "91440106MA5DLUN43N",
    "org_name": "广州市天河区示范新创有限公司",
    "acr": "urn:gdzwfw:loa:L2",
    "amr": ["pwd"],
}
STEP1 = "/isso/init"
STEP2 = "/isso/init/info"


def _provincial_login(isso: Isso, browser: TestClient, **claims) -> httpx.Response:
    start = browser.get("/isso/federation/gdzwfw/start?kind=unit", follow_redirects=False)
    return isso.fake_gdzwfw.login(browser, start, **{**NEW_UNIT, **claims})


def _arrive(isso: Isso) -> TestClient:
    browser = isso.new_browser()
    answer = _provincial_login(isso, browser)
    assert answer.status_code == 303 and answer.headers["location"].endswith(STEP1), answer.text[:300]
    return browser


def _step1(isso: Isso, browser: TestClient, login_name: str = "chenxiao", id_number: str = "440106199007150041") -> httpx.Response:
    return isso.post_form(STEP1, {"login_name": login_name, "id_number": id_number}, browser=browser)


def _info(**overrides: str) -> dict[str, str]:
    form = unit_form(login_name="tianhe_xinchuang", **overrides)
    for key in ("cert_type", "cert_number", "org_name"):
        form.pop(key)
    return form


def _submit(isso: Isso, browser: TestClient, form: dict[str, str]) -> httpx.Response:
    sent = isso.send_sms(STEP2, "legal_rep_mobile", form["legal_rep_mobile"], browser=browser)
    assert sent.status_code == 200, sent.text
    form = {**form, "sms_code": isso.sms_code(form["legal_rep_mobile"])}
    return isso.post_form(STEP2, form, browser=browser)


def _counts(isso: Isso) -> tuple[int, int, int]:
    return isso.count(Unit), isso.count(ProvincialLink), isso.count(UnitBinding)


def test_an_unlinked_legal_person_starts_initialisation_with_claims_kept_server_side(isso: Isso) -> None:
    before = _counts(isso)
    browser = _arrive(isso)
    page = browser.get(STEP1)
    assert page.status_code == 200
    for text in (
        "登录初始化",
        "广州市天河区示范新创有限公司",
        "91440106MA5DLUN43N",
        "单位所属实名人员信息",
        "实名个人登录账号",
        "实名个人证件号码",
        "操作指引",
        "提示“当前账号实名等级不足，请至少提升至二级实名后重试”怎么办？",
        'action="/isso/init"',
        'name="csrf_token"',
    ):
        assert text in page.text, text
    assert _counts(isso) == before and isso.count(FederatedLogin) == 0
    # Not entered: no unit session.
    assert browser.get("/isso/", follow_redirects=False).headers["location"].endswith("/isso/login")


def test_step_one_refuses_a_level_one_account_a_wrong_id_and_an_unknown_account(isso: Isso) -> None:
    browser = _arrive(isso)
    low = _step1(isso, browser, "liming", "440106198503120023")
    assert low.status_code == 400 and msg.LEVEL_TOO_LOW in low.text and "操作指引" in low.text
    wrong = _step1(isso, browser, "chenxiao", "440106198503120023")
    assert wrong.status_code == 400 and msg.STEP1_MISMATCH in wrong.text
    unknown = _step1(isso, browser, "nobody_here", "440106199007150041")
    assert unknown.status_code == 400 and msg.STEP1_MISMATCH in unknown.text
    bad_id = _step1(isso, browser, "chenxiao", "440106199007150042")
    assert bad_id.status_code == 400 and 'id="id_number-error"' in bad_id.text
    assert browser.get(STEP2, follow_redirects=False).headers["location"] == STEP1
    no_csrf = browser.post(STEP1, data={"login_name": "chenxiao", "id_number": "440106199007150041"}, follow_redirects=False)
    assert no_csrf.status_code in (400, 403)


def test_initialisation_is_only_reached_from_a_provincial_login(isso: Isso) -> None:
    browser = isso.new_browser()
    assert browser.get(STEP1, follow_redirects=False).status_code == 303
    assert browser.get(STEP2, follow_redirects=False).status_code == 303


def test_success_creates_unit_link_and_binding_ignoring_a_tampered_uscc_and_name_then_the_next_login_goes_straight_in(isso: Isso) -> None:
    browser = _arrive(isso)
    assert _step1(isso, browser).headers["location"] == STEP2
    page = browser.get(STEP2)
    assert "91440106MA5DLUN43N" in page.text and "广州市天河区示范新创有限公司" in page.text and "readonly" in page.text
    assert 'action="/isso/init/info"' in page.text
    tampered = {**_info(), "cert_type": "org_code", "cert_number": "91440101MA9XY7008U", "org_name": "别的公司有限公司"}
    done = _submit(isso, browser, tampered)
    assert done.status_code == 303 and done.headers["location"] == "/isso/init/done", done.text[:500]
    final = browser.get("/isso/init/done")
    assert "完善信息后，请关闭页面，清理浏览器缓存" in final.text and 'href="/isso/login?tab=unit&method=gdzwfw"' in final.text
    chenxiao = person_id(isso, "chenxiao")
    with isso.db() as s:
        unit = s.execute(select(Unit).where(Unit.login_name == "tianhe_xinchuang")).scalar_one()
        assert (unit.uscc, unit.org_name, unit.cert_type, unit.org_code) == (
            "91440106MA5DLUN43N",
            "广州市天河区示范新创有限公司",
            "uscc",
            "MA5DLUN43",
        )
        link = s.execute(select(ProvincialLink).where(ProvincialLink.unit_id == unit.id)).scalar_one()
        assert (link.issuer, link.uscc, link.subject) == (GDZWFW, "91440106MA5DLUN43N", "gd-legal-new")
        binding = s.execute(select(UnitBinding).where(UnitBinding.unit_id == unit.id)).scalar_one()
        assert binding.person_id == chenxiao and binding.status == "active"
        unit_id = unit.id
        assert s.execute(select(Unit).where(Unit.uscc == "91440101MA9XY7008U")).scalar_one_or_none() is None
    # The next 省统一身份认证 login goes straight in.
    again = isso.new_browser()
    answer = _provincial_login(isso, again)
    assert answer.status_code == 303 and answer.headers["location"].endswith("/isso/"), answer.text[:300]
    home = again.get("/isso/")
    assert home.status_code == 200 and "广州市天河区示范新创有限公司" in home.text
    with isso.db() as s:
        assert s.execute(select(FederatedLogin).where(FederatedLogin.unit_id == unit_id)).scalar_one().subject == "gd-legal-new"


def test_bad_input_and_an_abandoned_wizard_leave_nothing(isso: Isso) -> None:
    before = _counts(isso)
    browser = _arrive(isso)
    assert _step1(isso, browser).status_code == 303
    bad = _submit(isso, browser, _info(address="短", password2="Other@2026x"))
    assert bad.status_code == 400 and 'id="address-error"' in bad.text and 'id="password2-error"' in bad.text
    wrong_code = isso.post_form(STEP2, {**_info(), "sms_code": "000000"}, browser=browser)
    assert wrong_code.status_code == 400 and 'id="sms_code-error"' in wrong_code.text
    assert _counts(isso) == before
    # Abandoned: a new browser, the old one never comes back.
    _arrive(isso)
    assert _counts(isso) == before


def test_a_unit_registered_the_other_way_is_not_linked_silently(isso: Isso) -> None:
    from tests.hrss_isso.test_unit_registration import _ready_for_step2, _register

    registered = _register(isso, _ready_for_step2(isso))
    assert registered.status_code == 303
    before = _counts(isso)
    browser = isso.new_browser()
    answer = _provincial_login(isso, browser, sub="gd-legal-haizhu", uscc="91440101MA9XY7008U", org_name="广州市海珠区示范服务有限公司")
    assert answer.status_code == 409
    assert "不会仅凭统一社会信用代码自动关联" in answer.text and "经办人" in answer.text and "/isso/login" in answer.text
    assert _counts(isso) == before
    assert browser.get(STEP1, follow_redirects=False).status_code == 303  # no initialisation for it either
    assert browser.get("/isso/", follow_redirects=False).headers["location"].endswith("/isso/login")


def test_a_handler_of_the_existing_unit_confirms_the_link_then_the_next_login_goes_straight_in(isso: Isso) -> None:
    import datetime as dt

    from tests.hrss_isso.test_unit_registration import _ready_for_step2, _register

    assert _register(isso, _ready_for_step2(isso)).status_code == 303
    with isso.db() as s:
        unit_id = s.execute(select(Unit.id).where(Unit.uscc == "91440101MA9XY7008U")).scalar_one()
    chenxiao = person_id(isso, "chenxiao")
    with isso.db() as s:
        now = dt.datetime.now(dt.UTC)
        s.add(UnitBinding(unit_id=unit_id, person_id=chenxiao, status="active", requested_at=now, decided_at=now))
        s.commit()
    claims = {"sub": "gd-legal-haizhu", "uscc": "91440101MA9XY7008U", "org_name": "广州市海珠区示范服务有限公司"}
    browser = isso.new_browser()
    assert _provincial_login(isso, browser, **claims).status_code == 409
    # Not logged in as a person yet: sent to 个人登录.
    assert "tab=personal" in browser.get("/isso/init/confirm", follow_redirects=False).headers["location"]
    # A person who is no handler of that unit is refused.
    assert isso.login("liming", browser=browser).status_code == 303
    refused = isso.post_form("/isso/init/confirm", {}, browser=browser)
    assert refused.status_code == 400 and "无法确认关联" in refused.text
    assert isso.count(ProvincialLink, ProvincialLink.unit_id == unit_id) == 0
    # The unit's handler logs in; the unit dialog leads to the confirmation.
    assert isso.login("chenxiao", browser=browser).status_code == 303
    units = browser.get("/isso/login/units")
    assert 'id="go-confirm-link"' in units.text and "广州市海珠区示范服务有限公司" in units.text
    page = browser.get("/isso/init/confirm")
    assert "确认关联" in page.text and "91440101MA9XY7008U" in page.text
    assert browser.post("/isso/init/confirm", data={}, follow_redirects=False).status_code in (400, 403)  # CSRF
    confirmed = isso.post_form("/isso/init/confirm", {}, browser=browser)
    assert confirmed.status_code == 200 and 'id="link-confirmed"' in confirmed.text, confirmed.text[:500]
    with isso.db() as s:
        link = s.execute(select(ProvincialLink).where(ProvincialLink.unit_id == unit_id)).scalar_one()
        assert (link.issuer, link.subject, link.uscc) == (GDZWFW, "gd-legal-haizhu", "91440101MA9XY7008U")
    again = isso.new_browser()
    answer = _provincial_login(isso, again, **claims)
    assert answer.status_code == 303 and answer.headers["location"].endswith("/isso/"), answer.text[:300]
