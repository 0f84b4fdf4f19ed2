"""我的经办人 / 我经办的法人: a legal person adds natural-person accounts as its
handlers; a handler logs in for a unit it handles and the tokens say so in
``act`` (RFC 8693 style), at a level no higher than either party's."""

from __future__ import annotations

import re

from services.gdzwfw_idp import messages as msg
from tests.gdzwfw_idp.conftest import Idp
from tests.gdzwfw_idp.journeys import account_row, csrf, handler_login, login
from tests.oidc_helpers import decode_id_token, query_of


def test_the_demo_handler_logs_in_for_the_unit_and_tokens_carry_act(idp: Idp) -> None:
    browser = idp.new_browser()
    pkce, redirect = handler_login(idp, browser, unit_login="demo_l2")
    assert redirect.status_code == 302, redirect.text[:300]
    tokens = idp.redeem(query_of(redirect)["code"], pkce).json()
    claims = decode_id_token(tokens["id_token"], idp.client.get("/jwks.json").json())
    unit = account_row(idp, login_name="demo_l2")
    person = account_row(idp, login_name="demo_person")
    assert claims["sub"] == unit.id and claims["org_name"] == "广州市越秀区示范贸易有限公司"
    assert claims["act"] == {"sub": person.id, "name": "陈晓"}
    assert claims["acr"] == "urn:gdzwfw:loa:L2" and claims["trust_level"] == "L2"
    userinfo = idp.client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert userinfo["act"] == {"sub": person.id, "name": "陈晓"}


def test_a_handler_login_is_no_stronger_than_the_handler(idp: Idp) -> None:
    # demo_person (L2) added as handler of demo_l3 (L3): the login says L2.
    unit_browser = login(idp, "demo_l3")
    page = unit_browser.get("/account/handlers")
    unit_browser.post(
        "/account/handlers/add",
        data={"csrf_token": csrf(page.text), "login_name": "demo_person", "person_name": "陈晓", "id_number": "440106199007150041"},
    )
    pkce, redirect = handler_login(idp, idp.new_browser(), unit_login="demo_l3")
    claims = decode_id_token(idp.redeem(query_of(redirect)["code"], pkce).json()["id_token"], idp.client.get("/jwks.json").json())
    assert claims["acr"] == "urn:gdzwfw:loa:L2"


def test_a_unit_adds_and_removes_a_handler(idp: Idp) -> None:
    browser = login(idp, "demo_l1")
    page = browser.get("/account/handlers")
    assert "尚未添加经办人" in page.text
    added = browser.post(
        "/account/handlers/add",
        data={"csrf_token": csrf(page.text), "login_name": "demo_person", "person_name": "陈晓", "id_number": "440106199007150041"},
        follow_redirects=False,
    )
    assert added.status_code == 303
    listing = browser.get("/account/handlers")
    assert "已添加经办人：陈晓" in listing.text and "4401**********0041" in listing.text and "440106199007150041" not in listing.text

    person = login(idp, "demo_person", tab="personal")
    assert "广州市天河区示范科技有限公司" in person.get("/account/handled").text

    handler_id = account_row(idp, login_name="demo_person").id
    removed = browser.post(
        "/account/handlers/remove", data={"csrf_token": csrf(listing.text), "handler_id": handler_id}, follow_redirects=False
    )
    assert removed.status_code == 303
    assert "广州市天河区示范科技有限公司" not in person.get("/account/handled").text


def test_adding_a_handler_checks_name_and_id_number(idp: Idp) -> None:
    browser = login(idp, "demo_l1")
    page = browser.get("/account/handlers")
    for data in (
        {"login_name": "demo_person", "person_name": "陈小", "id_number": "440106199007150041"},
        {"login_name": "demo_person", "person_name": "陈晓", "id_number": "440106199205120089"},
        {"login_name": "nobody_x1", "person_name": "陈晓", "id_number": "440106199007150041"},
        {"login_name": "demo_l2", "person_name": "陈晓", "id_number": "440106199007150041"},  # a legal person
    ):
        response = browser.post("/account/handlers/add", data={"csrf_token": csrf(page.text), **data})
        assert response.status_code == 400 and msg.HANDLER_NOT_FOUND in response.text, data
    bad_id = browser.post(
        "/account/handlers/add",
        data={"csrf_token": csrf(page.text), "login_name": "demo_person", "person_name": "陈晓", "id_number": "123"},
    )
    assert "身份证号码应为18位" in bad_id.text


def test_a_handler_cannot_be_added_twice(idp: Idp) -> None:
    browser = login(idp, "demo_l2")
    page = browser.get("/account/handlers")
    response = browser.post(
        "/account/handlers/add",
        data={"csrf_token": csrf(page.text), "login_name": "demo_person", "person_name": "陈晓", "id_number": "440106199007150041"},
    )
    assert response.status_code == 400 and msg.HANDLER_EXISTS in response.text


def test_acting_from_the_account_pages_and_back(idp: Idp) -> None:
    browser = login(idp, "demo_person", tab="personal")
    page = browser.get("/account/handled")
    unit_id = account_row(idp, login_name="demo_l2").id
    acting = browser.post("/account/act-as", data={"csrf_token": csrf(page.text), "legal_person_id": unit_id}, follow_redirects=False)
    assert acting.headers["location"] == "/account"
    home = browser.get("/account")
    assert "您正以经办人（陈晓）身份为“广州市越秀区示范贸易有限公司”办理业务" in home.text
    # A handler may not change the unit's settings, handlers or level.
    assert browser.get("/account/security").status_code == 403
    assert browser.get("/account/verification/bank").status_code == 403
    handlers_page = browser.get("/account/handlers")
    assert (
        browser.post(
            "/account/handlers/add",
            data={
                "csrf_token": csrf(handlers_page.text),
                "login_name": "demo_person",
                "person_name": "陈晓",
                "id_number": "440106199007150041",
            },
        ).status_code
        == 403
    )
    back = browser.post("/account/act-as/stop", data={"csrf_token": csrf(home.text)}, follow_redirects=False)
    assert back.headers["location"] == "/account/handled"
    assert "陈晓" in browser.get("/account").text and "办理业务" not in browser.get("/account").text.split("账号基本信息")[0]


def test_acting_for_a_unit_one_does_not_handle_is_refused(idp: Idp) -> None:
    browser = login(idp, "demo_person", tab="personal")
    page = browser.get("/account/handled")
    other = account_row(idp, login_name="demo_l3").id
    assert browser.post("/account/act-as", data={"csrf_token": csrf(page.text), "legal_person_id": other}).status_code == 403


def test_removing_a_handler_ends_its_login_for_the_unit(idp: Idp) -> None:
    browser = idp.new_browser()
    pkce, redirect = handler_login(idp, browser, unit_login="demo_l2")
    tokens = idp.redeem(query_of(redirect)["code"], pkce).json()
    unit_browser = login(idp, "demo_l2")
    page = unit_browser.get("/account/handlers")
    unit_browser.post(
        "/account/handlers/remove", data={"csrf_token": csrf(page.text), "handler_id": account_row(idp, login_name="demo_person").id}
    )
    # The browser's acting session is gone, and so are the tokens' claims.
    assert browser.get("/account", follow_redirects=False).status_code == 303
    userinfo = idp.client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert userinfo.status_code == 401
    refreshed = idp.client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, auth=("demo-rp", "demo-rp-secret")
    )
    assert refreshed.status_code == 400


def test_a_person_without_units_is_told_how_to_become_a_handler(idp: Idp) -> None:
    from tests.gdzwfw_idp.test_personal_and_recovery import register_person

    register_person(idp)
    browser = login(idp, "lin_xh01", password="Abc@12345", tab="personal")
    page = browser.get("/login/choose")
    assert "您尚未成为任何法人的经办人" in page.text
    assert re.search(r"以个人身份继续", page.text)
