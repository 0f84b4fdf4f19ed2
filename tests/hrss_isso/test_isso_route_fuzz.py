"""No route of hrss_isso answers 5xx to hostile input (tests/route_fuzz.py)."""

from __future__ import annotations

from tests.chain_helpers import form_value
from tests.hrss_isso.conftest import Isso
from tests.route_fuzz import fuzz_app


def test_anonymous_hostile_requests_get_no_server_error(isso: Isso) -> None:
    assert fuzz_app(isso.client) == []


def test_hostile_forms_past_the_csrf_check_get_no_server_error(isso: Isso) -> None:
    token = form_value(isso.client.get("/isso/staff/login").text, "csrf_token")
    assert fuzz_app(isso.client, csrf_token=token) == []
