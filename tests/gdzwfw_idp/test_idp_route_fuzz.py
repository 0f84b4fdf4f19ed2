"""No route of gdzwfw_idp answers 5xx to hostile input (tests/route_fuzz.py)."""

from __future__ import annotations

from tests.chain_helpers import form_value
from tests.gdzwfw_idp.conftest import Idp
from tests.route_fuzz import fuzz_app


def test_anonymous_hostile_requests_get_no_server_error(idp: Idp) -> None:
    assert fuzz_app(idp.client) == []


def test_hostile_forms_past_the_csrf_check_get_no_server_error(idp: Idp) -> None:
    token = form_value(idp.client.get("/register/legal").text, "csrf_token")
    assert fuzz_app(idp.client, csrf_token=token) == []
