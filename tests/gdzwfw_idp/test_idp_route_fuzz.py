"""No route of gdzwfw_idp answers 5xx to hostile input (tests/route_fuzz.py):
anonymous, past the CSRF check, and in the session of each role (a legal
person, a natural person, a handler acting for a unit, hall staff)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.chain_helpers import form_value
from tests.gdzwfw_idp.conftest import Idp
from tests.gdzwfw_idp.journeys import handler_login, login
from tests.gdzwfw_idp.test_staff_console import OFFICER, staff_login
from tests.route_fuzz import fuzz_app

# Routes that end the session on purpose (fuzzed anonymously above).
ENDS_SESSION = ("/logout", "/staff/logout")


def test_anonymous_hostile_requests_get_no_server_error(idp: Idp) -> None:
    assert fuzz_app(idp.client) == []


def test_hostile_forms_past_the_csrf_check_get_no_server_error(idp: Idp) -> None:
    token = form_value(idp.client.get("/register/legal").text, "csrf_token")
    assert fuzz_app(idp.client, csrf_token=token) == []


def _account(idp: Idp, role: str) -> TestClient:
    if role == "legal":
        return login(idp, "demo_l2")
    if role == "personal":
        return login(idp, "demo_person", tab="personal")
    browser = idp.new_browser()
    handler_login(idp, browser, unit_login="demo_l2")
    return browser


@pytest.mark.parametrize("role", ["legal", "personal", "handler"])
def test_hostile_requests_in_an_account_session_get_no_server_error(idp: Idp, role: str) -> None:
    browser = _account(idp, role)
    token = form_value(browser.get("/register/legal").text, "csrf_token")
    assert fuzz_app(browser, csrf_token=token, skip=ENDS_SESSION, logged_in=lambda b: b.get("/account").status_code == 200) == []


def test_hostile_requests_in_a_staff_session_get_no_server_error(idp: Idp) -> None:
    browser, response = staff_login(idp, OFFICER)
    assert response.status_code == 303
    token = form_value(browser.get("/register/legal").text, "csrf_token")
    assert fuzz_app(browser, csrf_token=token, skip=ENDS_SESSION, logged_in=lambda b: b.get("/staff").status_code == 200) == []
