"""Every page of gdzwfw_idp carries the security headers; the fast lane's JSON does not carry a page policy."""

from __future__ import annotations

from tests.gdzwfw_idp.conftest import Idp


def test_the_login_page_may_not_be_framed_and_runs_only_our_scripts(idp: Idp) -> None:
    response = idp.client.get("/login")
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    # The certificate pages fetch from the local 「CA助手」 (development default).
    assert "connect-src 'self' http://127.0.0.1:18880" in policy
    assert "form-action" not in policy  # its login chains end at clients' clients
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "strict-transport-security" not in response.headers  # cookie_secure is off here


def test_an_error_page_carries_them_too(idp: Idp) -> None:
    response = idp.client.get("/no-such-page")
    assert response.status_code == 404 and "content-security-policy" in response.headers
    assert response.headers["x-frame-options"] == "DENY"


def test_the_fast_lane_answers_json_with_nosniff_but_no_page_policy(idp: Idp) -> None:
    response = idp.client.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in response.headers


def test_no_ca_helper_configured_means_no_extra_connect_source(make_idp) -> None:
    policy = make_idp(ca_helper_url="").client.get("/login").headers["content-security-policy"]
    assert "connect-src 'self';" in policy


def test_the_openapi_document_is_served_in_development(idp: Idp) -> None:
    # Outside development: tests/refund_portal and tests/hrss_isso (same build_app).
    assert idp.client.get("/openapi.json").status_code == 200
