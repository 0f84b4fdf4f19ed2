"""OpenID Connect Core §6: discovery says ``request_parameter_supported`` is
false, so a request that carries one is answered with ``request_not_supported``
(to the registered redirect URI, with ``state`` and ``iss``), never served
with the parameters the request object may have overridden silently dropped.
A ``request_uri`` is only ever one the PAR endpoint issued
(test_pushed_authorization.py): the provider fetches none from clients."""

from __future__ import annotations

import json

from tests.gdzwfw_idp.conftest import ISSUER, Idp
from tests.oidc_helpers import DEMO_REDIRECT, Pkce, authorize_params, essential_acr_claims, query_of, unsigned_request_object

# An unsigned request object whose only requirement is an essential acr L2:
# served by ignoring it, an L1 account would get a code.
REQUEST_OBJECT = unsigned_request_object({"claims": json.loads(essential_acr_claims("urn:gdzwfw:loa:L2"))})


def test_discovery_says_neither_is_supported(idp: Idp) -> None:
    meta = idp.client.get("/.well-known/openid-configuration").json()
    assert meta["request_parameter_supported"] is False and meta["request_uri_parameter_supported"] is False


def test_a_request_object_is_answered_with_not_supported(idp: Idp) -> None:
    error = "request_not_supported"
    params = authorize_params(Pkce.new(), request=REQUEST_OBJECT)
    # Logged in or not, no login page and no code: the error goes to the client at once.
    response = idp.client.get("/authorize", params=params, follow_redirects=False)
    assert response.status_code == 302 and response.headers["location"].startswith(DEMO_REDIRECT + "?")
    query = query_of(response)
    assert query["error"] == error and "code" not in query
    assert query["state"] == params["state"] and query["iss"] == ISSUER
    # An L1 login in the same browser does not change the answer.
    after_login = idp.login("demo_l1", params=params)
    assert after_login.status_code == 302 and query_of(after_login)["error"] == error


def test_a_request_object_with_an_unregistered_redirect_uri_gets_the_error_page(idp: Idp) -> None:
    params = authorize_params(Pkce.new(), request=REQUEST_OBJECT, redirect_uri="http://127.0.0.1:8099/evil")
    response = idp.client.get("/authorize", params=params, follow_redirects=False)
    assert response.status_code == 400 and "location" not in response.headers
