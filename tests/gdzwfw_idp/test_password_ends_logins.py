"""A new password ends the account's other logins (账号安全设置 → 修改密码,
找回密码): their browsers are logged out, their tokens stop working and each
client of theirs gets a back-channel logout notice. The browser that changed
the password stays logged in; after a reset no login survives."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from services.gdzwfw_idp import messages as msg
from services.gdzwfw_idp.demo import DEMO_PASSWORD
from shared.settings import ClientConfig
from tests.gdzwfw_idp.conftest import Idp
from tests.gdzwfw_idp.journeys import csrf, handler_login, latest_sms_code, login
from tests.oidc_helpers import Pkce, authorize_params, capture_logout_notices, decode_id_token, query_of

BC = ("bc-rp", "bc-rp-secret")
REDIRECT = "http://127.0.0.1:8099/cb"
BACKCHANNEL = "http://127.0.0.1:8099/backchannel-logout"
NEW = "Chg@pass2026"


@pytest.fixture
def idp_and_notices(make_idp) -> tuple[Idp, list[tuple[str, str]]]:
    idp = make_idp(
        clients=[ClientConfig(client_id=BC[0], client_secret=BC[1], redirect_uris=[REDIRECT], backchannel_logout_uri=BACKCHANNEL)]
    )
    notices = capture_logout_notices(idp.app.state.provider)
    return idp, notices


def code_for(idp: Idp, browser: TestClient, login_name: str) -> tuple[Pkce, str]:
    """bc-rp's authorization request in ``browser``, logging in if it must."""
    pkce = Pkce.new()
    redirect = idp.login(login_name, params=authorize_params(pkce, client_id=BC[0]), browser=browser)
    assert redirect.status_code == 302, redirect.text[:300]
    return pkce, query_of(redirect)["code"]


def tokens_in(idp: Idp, browser: TestClient, login_name: str) -> dict:
    pkce, code = code_for(idp, browser, login_name)
    response = idp.redeem(code, pkce, auth=BC, client=browser)
    assert response.status_code == 200, response.text
    return response.json()


def active(idp: Idp, token: str) -> bool:
    return idp.client.post("/introspect", data={"token": token}, auth=BC).json()["active"]


def refresh(idp: Idp, refresh_token: str) -> httpx.Response:
    return idp.client.post("/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token}, auth=BC)


def logged_in(browser: TestClient) -> bool:
    return browser.get("/account", follow_redirects=False).status_code == 200


def sid_of(idp: Idp, tokens: dict) -> str:
    return decode_id_token(tokens["id_token"], idp.client.get("/jwks.json").json())["sid"]


def notified_sids(idp: Idp, notices: list[tuple[str, str]]) -> list[str]:
    jwks = idp.client.get("/jwks.json").json()
    assert {uri for uri, _ in notices} <= {BACKCHANNEL}
    return sorted(decode_id_token(token, jwks)["sid"] for _, token in notices)


def change_password(browser: TestClient) -> httpx.Response:
    page = browser.get("/account/security")
    return browser.post(
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


def reset_password(idp: Idp, login_name: str = "demo_l2") -> httpx.Response:
    browser = idp.new_browser()
    page = browser.get("/recover/password")
    browser.post(
        "/sms/send", data={"csrf_token": csrf(page.text), "mobile": "13800138000", "purpose": "reset-password", "login_name": login_name}
    )
    return browser.post(
        "/recover/password",
        data={
            "csrf_token": csrf(page.text),
            "login_name": login_name,
            "mobile": "13800138000",
            "sms_code": latest_sms_code(idp, "13800138000"),
            "new_password": NEW,
            "new_password_confirm": NEW,
        },
    )


def test_changing_the_password_logs_the_other_browsers_out_and_keeps_this_one(idp_and_notices) -> None:
    idp, notices = idp_and_notices
    here, elsewhere, someone_else = idp.new_browser(), idp.new_browser(), idp.new_browser()
    here_tokens = tokens_in(idp, here, "demo_l2")
    elsewhere_tokens = tokens_in(idp, elsewhere, "demo_l2")
    other_account = tokens_in(idp, someone_else, "demo_l3")
    cookie_before = here.cookies["gdzwfw_sid"]

    assert change_password(here).status_code == 303

    # The other browser's next request finds it logged out, and what its
    # login gave the client is gone, with a notice naming that login.
    assert not logged_in(elsewhere)
    assert not active(idp, elsewhere_tokens["access_token"])
    assert refresh(idp, elsewhere_tokens["refresh_token"]).status_code == 400
    assert notified_sids(idp, notices) == [sid_of(idp, elsewhere_tokens)]
    # This browser goes on, under a new session id, and is told what happened.
    assert here.cookies["gdzwfw_sid"] != cookie_before
    page = here.get("/account/security")
    assert page.status_code == 200 and msg.PASSWORD_CHANGED in page.text and "其他设备上的登录已退出" in page.text
    assert active(idp, here_tokens["access_token"]) and refresh(idp, here_tokens["refresh_token"]).status_code == 200
    # Single sign-on still works here: a new request needs no password.
    assert code_for(idp, here, "demo_l2")[1]
    # Another account's login is not touched.
    assert logged_in(someone_else) and active(idp, other_account["access_token"])


def test_the_old_session_id_is_worthless_after_the_change(idp_and_notices) -> None:
    idp, _ = idp_and_notices
    here = login(idp, "demo_l2")
    stolen = here.cookies["gdzwfw_sid"]
    assert change_password(here).status_code == 303
    copy = idp.new_browser()
    copy.cookies.set("gdzwfw_sid", stolen)
    assert not logged_in(copy)


def test_a_code_issued_to_another_browser_before_the_change_buys_no_tokens(idp_and_notices) -> None:
    idp, _ = idp_and_notices
    elsewhere = idp.new_browser()
    pkce, code = code_for(idp, elsewhere, "demo_l2")
    assert change_password(login(idp, "demo_l2")).status_code == 303
    late = idp.redeem(code, pkce, auth=BC, client=elsewhere)
    assert late.status_code == 400 and late.json()["error"] == "invalid_grant"


def test_a_handler_changing_the_personal_password_ends_its_logins_for_units(idp_and_notices) -> None:
    idp, notices = idp_and_notices
    acting = idp.new_browser()
    pkce, redirect = handler_login(idp, acting, unit_login="demo_l2", client_id=BC[0])
    acting_tokens = idp.redeem(query_of(redirect)["code"], pkce, auth=BC, client=acting).json()
    unit_itself = idp.new_browser()
    unit_tokens = tokens_in(idp, unit_itself, "demo_l2")

    assert change_password(login(idp, "demo_person", tab="personal")).status_code == 303

    assert not logged_in(acting) and not active(idp, acting_tokens["access_token"])
    assert notified_sids(idp, notices) == [sid_of(idp, acting_tokens)]
    # The unit's own login rests on the unit's password, which did not change.
    assert logged_in(unit_itself) and active(idp, unit_tokens["access_token"])


def test_a_unit_changing_its_password_leaves_its_handlers_logins(idp_and_notices) -> None:
    idp, notices = idp_and_notices
    acting = idp.new_browser()
    pkce, redirect = handler_login(idp, acting, unit_login="demo_l2", client_id=BC[0])
    acting_tokens = idp.redeem(query_of(redirect)["code"], pkce, auth=BC, client=acting).json()

    assert change_password(login(idp, "demo_l2")).status_code == 303

    assert logged_in(acting) and active(idp, acting_tokens["access_token"]) and notices == []


def test_a_reset_ends_every_login_of_the_account(idp_and_notices) -> None:
    idp, notices = idp_and_notices
    first, second = idp.new_browser(), idp.new_browser()
    first_tokens, second_tokens = tokens_in(idp, first, "demo_l2"), tokens_in(idp, second, "demo_l2")

    done = reset_password(idp)

    assert done.status_code == 200 and "该账号在所有设备上的登录均已退出" in done.text
    assert not logged_in(first) and not logged_in(second)
    assert not active(idp, first_tokens["access_token"]) and not active(idp, second_tokens["access_token"])
    assert notified_sids(idp, notices) == sorted([sid_of(idp, first_tokens), sid_of(idp, second_tokens)])
    login(idp, "demo_l2", password=NEW)


def test_a_refused_change_ends_nothing(idp_and_notices) -> None:
    idp, notices = idp_and_notices
    elsewhere = idp.new_browser()
    tokens = tokens_in(idp, elsewhere, "demo_l2")
    here = login(idp, "demo_l2")
    page = here.get("/account/security")
    refused = here.post(
        "/account/security/password",
        data={
            "csrf_token": csrf(page.text),
            "verify_by": "password",
            "current_password": "Wrong@2026",
            "new_password": NEW,
            "new_password_confirm": NEW,
        },
    )
    assert refused.status_code == 400
    assert logged_in(elsewhere) and active(idp, tokens["access_token"]) and notices == []
