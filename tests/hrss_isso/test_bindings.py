"""经办人实名授权绑定 (1)–(2): the unit account adds a handler in 子账号信息
and asks; the handler accepts or declines in 父账号信息; either side ends
it. A request asked twice, accepted by the wrong person or after the unit
withdrew it is refused and changes nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from services.hrss_isso import messages as msg
from services.hrss_isso.models import UnitBinding
from tests.hrss_isso.conftest import Isso, csrf_of
from tests.hrss_isso.flows import binding_of, handler_tokens

SUB = "/isso/account/sub-accounts"
PARENT = "/isso/account/parent-accounts"


def _unit(isso: Isso, login_name: str = "tianhe_keji") -> TestClient:
    browser = isso.new_browser()
    assert isso.login(login_name, tab="unit", browser=browser).status_code == 303
    return browser


def _person(isso: Isso, login_name: str) -> TestClient:
    browser = isso.new_browser()
    assert isso.login(login_name, browser=browser).status_code == 303
    return browser


def _ask(isso: Isso, unit: TestClient, login_name: str, id_number: str):
    return isso.post_form(SUB, {"handler_login_name": login_name, "handler_id_number": id_number}, browser=unit)


def _act(isso: Isso, browser: TestClient, path: str, binding_id: int, action: str):
    # Any page with a form carries the session's CSRF token.
    page = browser.get("/isso/login?tab=unit&method=password")
    return browser.post(f"{path}/{binding_id}/{action}", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)


def test_the_unit_asks_and_the_handler_accepts(isso: Isso) -> None:
    unit = _unit(isso)
    page = unit.get(SUB)
    assert "子账号信息" in page.text and "新增经办人实名账号" in page.text
    asked = _ask(isso, unit, "wangfang", "44010419880521003X")
    assert asked.status_code == 303
    listing = unit.get(SUB)
    assert (
        msg.BINDING_REQUESTED in listing.text
        and "王芳" in listing.text
        and "待确认" in listing.text
        and "4401**********003X" in listing.text
    )
    binding = binding_of(isso, "wangfang", "44010600001")
    assert binding.status == "pending"

    handler = _person(isso, "wangfang")
    parent = handler.get(PARENT)
    assert "父账号信息" in parent.text and "广州市天河区示范科技有限公司" in parent.text and "同意绑定" in parent.text
    accepted = _act(isso, handler, PARENT, binding.id, "accept")
    assert accepted.status_code == 303
    assert msg.BINDING_ACCEPTED in handler.get(PARENT).text
    assert binding_of(isso, "wangfang", "44010600001").status == "active"
    # The unit now appears in the handler's unit chooser.
    assert "广州市天河区示范科技有限公司" in handler.get("/isso/login/units").text


def test_a_binding_requested_twice_is_refused(isso: Isso) -> None:
    unit = _unit(isso)
    assert _ask(isso, unit, "wangfang", "44010419880521003X").status_code == 303
    twice = _ask(isso, unit, "wangfang", "44010419880521003X")
    assert twice.status_code == 400 and msg.BINDING_PENDING in twice.text
    # An active binding is refused too (chenxiao is bound to 天河 in the demo data).
    active = _ask(isso, unit, "chenxiao", "440106199007150041")
    assert active.status_code == 400 and msg.BINDING_ACTIVE in active.text
    assert isso.count(UnitBinding, UnitBinding.person_id == binding_of(isso, "wangfang", "44010600001").person_id) == 2


def test_the_handler_must_be_named_by_login_name_and_id_number_together(isso: Isso) -> None:
    unit = _unit(isso)
    before = isso.count(UnitBinding)
    wrong = _ask(isso, unit, "wangfang", "440106199007150041")
    assert wrong.status_code == 400 and msg.HANDLER_NOT_FOUND in wrong.text
    nobody = _ask(isso, unit, "nobody_here", "44010419880521003X")
    assert nobody.status_code == 400 and msg.HANDLER_NOT_FOUND in nobody.text
    bad = _ask(isso, unit, "wangfang", "4401041988052100")
    assert bad.status_code == 400 and 'id="handler_id_number-error"' in bad.text
    assert isso.count(UnitBinding) == before


def test_a_binding_accepted_by_the_wrong_person_is_refused(isso: Isso) -> None:
    # 王芳's pending request from 荔湾 (demo data); 赵磊 tries to accept it.
    binding = binding_of(isso, "wangfang", "44010300003")
    assert binding.status == "pending"
    intruder = _person(isso, "zhaolei")
    response = _act(isso, intruder, PARENT, binding.id, "accept")
    assert response.status_code == 404 and msg.BINDING_NOT_FOUND in response.text
    assert binding_of(isso, "wangfang", "44010300003").status == "pending"
    # Nor can another unit withdraw it.
    other_unit = _unit(isso, "yuexiu_maoyi")
    assert _act(isso, other_unit, SUB, binding.id, "withdraw").status_code == 404
    assert binding_of(isso, "wangfang", "44010300003").status == "pending"


def test_a_binding_accepted_after_the_unit_withdrew_it_is_refused(isso: Isso) -> None:
    binding = binding_of(isso, "wangfang", "44010300003")
    handler = _person(isso, "wangfang")
    handler_page = handler.get(PARENT)  # the handler opened the page before the withdrawal
    unit = _unit(isso, "liwan_zhizao")
    assert _act(isso, unit, SUB, binding.id, "withdraw").status_code == 303
    assert "已撤回" in unit.get(SUB).text
    late = handler.post(f"{PARENT}/{binding.id}/accept", data={"csrf_token": csrf_of(handler_page.text)})
    assert late.status_code == 409 and msg.BINDING_WITHDRAWN in late.text
    assert binding_of(isso, "wangfang", "44010300003").status == "withdrawn"
    # The unit may ask again; the same pair is reopened.
    assert _ask(isso, unit, "wangfang", "44010419880521003X").status_code == 303
    reopened = binding_of(isso, "wangfang", "44010300003")
    assert reopened.id == binding.id and reopened.status == "pending"


def test_the_handler_declines(isso: Isso) -> None:
    binding = binding_of(isso, "wangfang", "44010300003")
    handler = _person(isso, "wangfang")
    assert _act(isso, handler, PARENT, binding.id, "decline").status_code == 303
    assert binding_of(isso, "wangfang", "44010300003").status == "declined"
    again = _act(isso, handler, PARENT, binding.id, "accept")
    assert again.status_code == 409 and msg.BINDING_NOT_PENDING in again.text


def test_unbinding_ends_authorisation_and_the_handlers_tokens(isso: Isso) -> None:
    tokens = handler_tokens(isso, "chenxiao", "44010400002")
    introspect = lambda: isso.client.post(
        "/isso/introspect", data={"token": tokens["access_token"]}, auth=("demo-rp", "demo-rp-secret")
    ).json()  # noqa: E731
    assert introspect()["active"] is True and introspect()["act"]["name"] == "陈晓"
    binding = binding_of(isso, "chenxiao", "44010400002")
    unit = _unit(isso, "yuexiu_maoyi")
    assert _act(isso, unit, SUB, binding.id, "unbind").status_code == 303
    ended = binding_of(isso, "chenxiao", "44010400002")
    assert ended.status == "ended" and ended.authorized_at is None
    assert introspect() == {"active": False}
    refreshed = isso.client.post(
        "/isso/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, auth=("demo-rp", "demo-rp-secret")
    )
    assert refreshed.status_code == 400
    # Binding again does not bring 授权码实名 back.
    assert _ask(isso, unit, "chenxiao", "440106199007150041").status_code == 303
    assert binding_of(isso, "chenxiao", "44010400002").authorized_at is None


def test_the_handler_may_unbind_and_is_then_sent_back_to_the_chooser(isso: Isso) -> None:
    browser = isso.new_browser()
    handler_tokens(isso, "chenxiao", "44010600001", browser=browser)
    assert browser.get("/isso/", follow_redirects=False).status_code == 200
    binding = binding_of(isso, "chenxiao", "44010600001")
    assert _act(isso, browser, PARENT, binding.id, "unbind").status_code == 303
    home = browser.get("/isso/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"].endswith("/isso/login/units")
    chooser = browser.get("/isso/login/units")
    assert msg.NOT_BOUND in chooser.text and "广州市天河区示范科技有限公司" not in chooser.text


def test_only_the_unit_account_manages_sub_accounts(isso: Isso) -> None:
    handler = isso.new_browser()
    handler_tokens(isso, "chenxiao", "44010400002", browser=handler)
    response = handler.get(SUB, follow_redirects=False)
    assert response.status_code == 303 and "tab=unit" in response.headers["location"]
    anonymous = isso.new_browser().get(PARENT, follow_redirects=False)
    assert anonymous.status_code == 303 and "tab=personal" in anonymous.headers["location"]


def test_one_unit_with_several_handlers_and_one_handler_with_several_units(isso: Isso) -> None:
    unit = _unit(isso, "liwan_zhizao")
    listing = unit.get(SUB).text
    for name in ("王芳", "赵磊", "孙丽"):
        assert name in listing
    chooser = _person(isso, "chenxiao").get("/isso/login/units").text
    assert chooser.count('name="unit_id"') == 2


def test_a_binding_id_too_large_for_the_database_is_refused(isso: Isso) -> None:
    handler = _person(isso, "wangfang")
    for number in (2**31, 10**23):
        response = _act(isso, handler, PARENT, number, "accept")
        assert response.status_code in (400, 404) and "无法完成操作" in response.text
