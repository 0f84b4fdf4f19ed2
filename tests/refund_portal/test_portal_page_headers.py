"""The portal's pages carry the security headers; production adds HSTS and publishes no API description."""

from __future__ import annotations

from collections.abc import Callable

from tests.refund_portal.conftest import Env


def test_the_home_page_carries_the_policy_with_the_login_chain_as_form_targets(env: Env) -> None:
    response = env.client.get("/")
    policy = response.headers["content-security-policy"]
    form_action = next(part for part in policy.split("; ") if part.startswith("form-action "))
    # Login and logout redirect through the ISSO and on to gdzwfw_idp in one chain.
    assert form_action == "form-action 'self' http://127.0.0.1:8001 https://isso.example"
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "base-uri 'self'" in policy
    assert response.headers["x-frame-options"] == "DENY" and response.headers["referrer-policy"] == "no-referrer"
    assert "strict-transport-security" not in response.headers


def test_with_secure_cookies_the_pages_ask_for_https_and_the_api_description_is_gone(env_factory: Callable[..., Env]) -> None:
    production = env_factory(environment="production", cookie_secure=True, secret_key="x" * 40, staff_totp_keys="t" * 40)
    response = production.client.get("/agency/login")
    assert response.headers["strict-transport-security"] == "max-age=31536000"
    assert "content-security-policy" in response.headers
    assert production.client.get("/openapi.json").status_code == 404
    assert production.client.get("/docs").status_code == 404
