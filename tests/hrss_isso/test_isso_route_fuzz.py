"""No route of hrss_isso answers 5xx to hostile input (tests/route_fuzz.py):
anonymous, past the CSRF check, and in the session of each role (a unit
account, a handler acting for a unit, the agency's reviewer)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.chain_helpers import form_value
from tests.hrss_isso.conftest import Isso
from tests.hrss_isso.flows import staff_login, unit_id
from tests.route_fuzz import fuzz_app

# Routes that end the session on purpose (fuzzed anonymously above).
ENDS_SESSION = ("/isso/logout", "/isso/staff/logout")


def test_anonymous_hostile_requests_get_no_server_error(isso: Isso) -> None:
    assert fuzz_app(isso.client) == []


def test_hostile_forms_past_the_csrf_check_get_no_server_error(isso: Isso) -> None:
    token = form_value(isso.client.get("/isso/staff/login").text, "csrf_token")
    assert fuzz_app(isso.client, csrf_token=token) == []


def _logged_in(isso: Isso, role: str) -> tuple[TestClient, str]:
    """A browser logged in as ``role`` and the page only that login reaches."""
    browser = isso.new_browser()
    if role == "unit":
        assert isso.login("tianhe_keji", tab="unit", browser=browser).status_code == 303
        return browser, "/isso/account/sub-accounts"
    if role == "handler":
        assert isso.login("chenxiao", browser=browser).status_code == 303
        assert isso.choose_unit(unit_id(isso, "44010400002"), browser=browser).status_code == 303
        return browser, "/isso/realname/code"
    return staff_login(isso, "staff_review", browser=browser), "/isso/staff/applications"


@pytest.mark.parametrize("role", ["unit", "handler", "staff"])
def test_hostile_requests_in_each_role_s_session_get_no_server_error(isso: Isso, role: str) -> None:
    browser, home = _logged_in(isso, role)
    token = form_value(browser.get("/isso/staff/login").text, "csrf_token")
    failures = fuzz_app(
        browser, csrf_token=token, skip=ENDS_SESSION, logged_in=lambda b: b.get(home, follow_redirects=False).status_code == 200
    )
    assert failures == []
