"""Request objects (RFC 9101) and pushed requests (RFC 9126) at the ISSO,
the same provider code as gdzwfw_idp's (tests/gdzwfw_idp/test_request_objects.py
and test_pushed_authorization.py): an object the ISSO cannot verify is
refused to the client, never ignored (an essential acr inside it would be
lost); a ``request_uri`` the PAR endpoint did not issue gets the error page."""

from __future__ import annotations

import json

from tests.hrss_isso.conftest import ISSUER, Isso
from tests.oidc_helpers import DEMO_REDIRECT, DEMO_RP, Pkce, authorize_params, essential_acr_claims, query_of, unsigned_request_object

REQUEST_OBJECT = unsigned_request_object({"claims": json.loads(essential_acr_claims("urn:gdzwfw:loa:L2"))})


def test_an_unverifiable_request_object_is_refused_to_the_client(isso: Isso) -> None:
    error = "invalid_request_object"
    params = authorize_params(Pkce.new(), request=REQUEST_OBJECT)
    response = isso.new_browser().get("/isso/authorize", params=params, follow_redirects=False)
    assert response.status_code == 302 and response.headers["location"].startswith(DEMO_REDIRECT + "?")
    query = query_of(response)
    assert query["error"] == error and "code" not in query
    assert query["state"] == params["state"] and query["iss"] == ISSUER


def test_a_request_object_with_an_unregistered_redirect_uri_gets_the_error_page(isso: Isso) -> None:
    params = authorize_params(Pkce.new(), request=REQUEST_OBJECT, redirect_uri="http://127.0.0.1:8099/evil")
    response = isso.new_browser().get("/isso/authorize", params=params, follow_redirects=False)
    assert response.status_code == 400 and "location" not in response.headers


def test_a_request_uri_not_pushed_here_gets_the_error_page(isso: Isso) -> None:
    params = authorize_params(Pkce.new(), request_uri="https://rp.example/req/1")
    response = isso.new_browser().get("/isso/authorize", params=params, follow_redirects=False)
    assert response.status_code == 400 and "location" not in response.headers


def test_a_pushed_request_is_served_once_at_the_isso(isso: Isso) -> None:
    meta = isso.client.get("/isso/.well-known/openid-configuration").json()
    assert meta["pushed_authorization_request_endpoint"] == ISSUER + "/par"
    pushed = isso.client.post("/isso/par", data=authorize_params(Pkce.new()), auth=DEMO_RP)
    assert pushed.status_code == 201, pushed.text
    params = {"client_id": DEMO_RP[0], "request_uri": pushed.json()["request_uri"]}
    first = isso.new_browser().get("/isso/authorize", params=params, follow_redirects=False)
    assert first.status_code == 303 and "/isso/login" in first.headers["location"]
    again = isso.new_browser().get("/isso/authorize", params=params, follow_redirects=False)
    assert again.status_code == 400 and "登录请求已失效" in again.text
