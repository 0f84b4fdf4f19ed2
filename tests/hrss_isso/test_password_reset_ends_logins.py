"""忘记密码 ends every login of the person: browsers logged in with the old
password are logged out, and the tokens issued while the person acted for a
unit stop working, with a back-channel logout notice to each client."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet

from services.hrss_isso import messages as msg
from shared.settings import ClientConfig
from tests.hrss_isso.conftest import Isso, csrf_of
from tests.hrss_isso.flows import GOOD_PASSWORD, handler_tokens
from tests.oidc_helpers import capture_logout_notices

APP = ("bc-app", "bc-app-secret")
APP_BACKCHANNEL = "http://127.0.0.1:8097/backchannel-logout"
CHENXIAO = {"login_name": "chenxiao", "id_number": "440106199007150041", "mobile": "13800138001"}


@pytest.fixture
def isso_and_notices(make_isso) -> tuple[Isso, list[tuple[str, str]]]:
    app_client = ClientConfig(
        client_id=APP[0], client_secret=APP[1], redirect_uris=["http://127.0.0.1:8099/cb"], backchannel_logout_uri=APP_BACKCHANNEL
    )
    isso = make_isso(clients=[app_client])
    notices = capture_logout_notices(isso.app.state.provider)
    return isso, notices


def active(isso: Isso, token: str) -> bool:
    return isso.client.post("/isso/introspect", data={"token": token}, auth=APP).json()["active"]


def refresh(isso: Isso, refresh_token: str) -> httpx.Response:
    return isso.client.post("/isso/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token}, auth=APP)


def in_unit(browser: TestClient) -> bool:
    """Logged in for a unit: the ISSO's home page answers."""
    return browser.get("/isso/", follow_redirects=False).status_code == 200


def as_person(browser: TestClient) -> bool:
    """A personal login (before choosing a unit): the unit chooser answers."""
    return browser.get("/isso/login/units", follow_redirects=False).status_code == 200


def sids(isso: Isso, id_tokens_or_notices: list[str]) -> list[str]:
    keys = KeySet.import_key_set(isso.client.get("/isso/jwks.json").json())
    return sorted(jwt.decode(token, keys).claims["sid"] for token in id_tokens_or_notices)


def reset(isso: Isso, *, wrong_code: bool = False) -> httpx.Response:
    """忘记密码 for chenxiao in a browser of its own; the response to step 2."""
    browser = isso.new_browser()
    step1 = isso.post_form(
        "/isso/forgot-password", {"login_name": CHENXIAO["login_name"], "id_number": CHENXIAO["id_number"]}, browser=browser
    )
    assert step1.status_code == 303, step1.text[:300]
    page = browser.get("/isso/forgot-password/reset")
    code = isso.sms_code(CHENXIAO["mobile"])
    if wrong_code:
        code = "000000" if code != "000000" else "111111"
    return browser.post(
        "/isso/forgot-password/reset",
        data={
            "csrf_token": csrf_of(page.text),
            "action": "submit",
            "sms_code": code,
            "password": GOOD_PASSWORD,
            "password2": GOOD_PASSWORD,
        },
        follow_redirects=True,
    )


def test_a_reset_logs_out_every_browser_of_the_person_and_revokes_its_handler_tokens(isso_and_notices) -> None:
    isso, notices = isso_and_notices
    acting_l2, acting_l1, person_only = isso.new_browser(), isso.new_browser(), isso.new_browser()
    yuexiu = handler_tokens(isso, "chenxiao", "44010400002", browser=acting_l2, client=APP)
    tianhe = handler_tokens(isso, "chenxiao", "44010600001", browser=acting_l1, client=APP)
    assert isso.login("chenxiao", browser=person_only).status_code == 303 and as_person(person_only)

    done = reset(isso)

    assert done.status_code == 200 and msg.RESET_DONE in done.text and "所有设备上的登录均已退出" in done.text
    assert not in_unit(acting_l2) and not in_unit(acting_l1) and not as_person(person_only)
    for tokens in (yuexiu, tianhe):
        assert not active(isso, tokens["access_token"])
        assert refresh(isso, tokens["refresh_token"]).status_code == 400
    # Each client of those logins is told, once per login.
    assert {uri for uri, _ in notices} == {APP_BACKCHANNEL}
    assert sids(isso, [token for _, token in notices]) == sids(isso, [yuexiu["id_token"], tianhe["id_token"]])
    assert isso.login("chenxiao", GOOD_PASSWORD, browser=isso.new_browser()).status_code == 303


def test_a_reset_leaves_other_accounts_logins(isso_and_notices) -> None:
    isso, notices = isso_and_notices
    other_person, unit_account = isso.new_browser(), isso.new_browser()
    zhaolei = handler_tokens(isso, "zhaolei", "44010300003", browser=other_person, client=APP)
    # The unit chenxiao acts for, logged in with its own unit account.
    assert isso.login("yuexiu_maoyi", tab="unit", browser=unit_account).status_code == 303

    assert reset(isso).status_code == 200

    assert in_unit(other_person) and active(isso, zhaolei["access_token"])
    assert in_unit(unit_account)
    assert notices == []


def test_a_refused_reset_ends_nothing(isso_and_notices) -> None:
    isso, notices = isso_and_notices
    browser = isso.new_browser()
    tokens = handler_tokens(isso, "chenxiao", "44010400002", browser=browser, client=APP)

    refused = reset(isso, wrong_code=True)

    assert refused.status_code == 400
    assert in_unit(browser) and active(isso, tokens["access_token"]) and notices == []
