"""No route of refund_portal answers 5xx to hostile input (tests/route_fuzz.py):
anonymous, past the CSRF check, and in the session of each role (a unit
admitted at 四级（原L2）, the agency's supervisor)."""

from __future__ import annotations

from tests.chain_helpers import form_value
from tests.refund_portal.conftest import ROW_L2, UNIT_L2, Env
from tests.route_fuzz import fuzz_app

# Routes that end the session on purpose (fuzzed anonymously above).
ENDS_SESSION = ("/logout", "/agency/logout")


def test_anonymous_hostile_requests_get_no_server_error(env: Env) -> None:
    assert fuzz_app(env.client) == []


def test_hostile_forms_past_the_csrf_check_get_no_server_error(env: Env) -> None:
    token = form_value(env.client.get("/agency/login").text, "csrf_token")
    assert fuzz_app(env.client, csrf_token=token) == []


def test_hostile_requests_in_a_unit_session_get_no_server_error(env: Env) -> None:
    env.import_rows([ROW_L2])  # record 1, the unit's own
    env.login_unit(UNIT_L2)
    token = form_value(env.client.get("/").text, "csrf_token")
    # Only a logged-in unit's page carries the 退出登录 form.
    logged_in = lambda client: 'action="/logout"' in client.get("/").text  # noqa: E731
    assert fuzz_app(env.client, csrf_token=token, skip=ENDS_SESSION, logged_in=logged_in) == []


def test_hostile_requests_in_a_staff_session_get_no_server_error(env: Env) -> None:
    env.import_rows([ROW_L2])  # record 1
    assert env.login_staff("wg_supervisor").status_code == 303
    token = env.csrf("/agency/login")
    logged_in = lambda client: client.get("/agency/", follow_redirects=False).status_code == 200  # noqa: E731
    assert fuzz_app(env.client, csrf_token=token, skip=ENDS_SESSION, logged_in=logged_in) == []
