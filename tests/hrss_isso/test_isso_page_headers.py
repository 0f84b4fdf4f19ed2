"""Every page of hrss_isso carries the security headers; its forms may end only at the chain's services."""

from __future__ import annotations

from tests.hrss_isso.conftest import GDZWFW, Isso


def test_the_login_page_carries_the_policy_with_the_form_targets(isso: Isso) -> None:
    response = isso.client.get("/isso/login")
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    form_action = next(part for part in policy.split("; ") if part.startswith("form-action "))
    # Federation to gdzwfw_idp, and back to the demo client (development data).
    assert GDZWFW.rstrip("/") in form_action and "http://127.0.0.1:8099" in form_action
    assert response.headers["x-frame-options"] == "DENY" and response.headers["referrer-policy"] == "no-referrer"


def test_a_500_page_carries_them_too(isso: Isso) -> None:
    from fastapi.testclient import TestClient

    async def broken() -> None:
        raise RuntimeError("boom")

    isso.app.add_api_route("/isso/test-broken", broken)
    response = TestClient(isso.app, raise_server_exceptions=False).get("/isso/test-broken")
    assert response.status_code == 500
    assert "content-security-policy" in response.headers and response.headers["x-frame-options"] == "DENY"


def test_the_openapi_document_is_served_in_development_only(isso: Isso, make_isso) -> None:
    assert isso.client.get("/openapi.json").status_code == 200
    assert make_isso(environment="test").client.get("/openapi.json").status_code == 404
