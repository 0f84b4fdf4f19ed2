"""No route of refund_portal answers 5xx to hostile input (tests/route_fuzz.py)."""

from __future__ import annotations

from tests.chain_helpers import form_value
from tests.refund_portal.conftest import Env
from tests.route_fuzz import fuzz_app


def test_anonymous_hostile_requests_get_no_server_error(env: Env) -> None:
    assert fuzz_app(env.client) == []


def test_hostile_forms_past_the_csrf_check_get_no_server_error(env: Env) -> None:
    token = form_value(env.client.get("/agency/login").text, "csrf_token")
    assert fuzz_app(env.client, csrf_token=token) == []
