"""Pushed authorization requests (RFC 9126) at gdzwfw_idp: a client pushes
its parameters to /par and sends the browser with only ``client_id`` and a
``request_uri``, which works once and briefly; a client registered to
require PAR (or every client, when the server requires it) is refused
without one."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import SecretStr

from shared.settings import ClientConfig
from tests.gdzwfw_idp.conftest import ISSUER, Idp
from tests.gdzwfw_idp.flows import OTHER_RP, other_rp_config
from tests.oidc_helpers import DEMO_REDIRECT, DEMO_RP, Pkce, authorize_params, decode_id_token, query_of

PAR_RP = ("par-rp", "par-rp-secret")
PAR_REDIRECT = "http://127.0.0.1:8096/cb"


def par_rp_config() -> ClientConfig:
    return ClientConfig(
        client_id=PAR_RP[0],
        client_secret=SecretStr(PAR_RP[1]),
        redirect_uris=[PAR_REDIRECT],
        require_pushed_authorization_requests=True,
    )


def push(idp: Idp, params: dict[str, str], *, auth: tuple[str, str] = DEMO_RP):
    return idp.client.post("/par", data=params, auth=auth)


def pushed_uri(idp: Idp, params: dict[str, str], *, auth: tuple[str, str] = DEMO_RP) -> str:
    response = push(idp, params, auth=auth)
    assert response.status_code == 201, response.text
    return response.json()["request_uri"]


def test_discovery_names_the_par_endpoint(idp: Idp) -> None:
    meta = idp.client.get("/.well-known/openid-configuration").json()
    assert meta["pushed_authorization_request_endpoint"] == ISSUER + "/par"
    assert meta["require_pushed_authorization_requests"] is False


def test_a_pushed_request_completes_the_flow_with_the_pushed_parameters(idp: Idp) -> None:
    pkce = Pkce.new()
    params = authorize_params(pkce)
    response = push(idp, params)
    assert response.status_code == 201 and response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["request_uri"].startswith("urn:ietf:params:oauth:request_uri:") and body["expires_in"] == 60
    # Only client_id and request_uri travel through the browser; a state
    # added on the way is not the client's and is ignored.
    done = idp.login("demo_l2", params={"client_id": DEMO_RP[0], "request_uri": body["request_uri"], "state": "changed-on-the-way"})
    assert done.status_code == 302 and done.headers["location"].startswith(DEMO_REDIRECT + "?")
    query = query_of(done)
    assert query["state"] == params["state"] and query["iss"] == ISSUER
    tokens = idp.redeem(query["code"], pkce)
    assert tokens.status_code == 200, tokens.text
    claims = decode_id_token(tokens.json()["id_token"], idp.client.get("/jwks.json").json())
    assert claims["nonce"] == params["nonce"]


def test_a_request_uri_works_once(idp: Idp) -> None:
    request_uri = pushed_uri(idp, authorize_params(Pkce.new()))
    first = idp.client.get("/authorize", params={"client_id": DEMO_RP[0], "request_uri": request_uri}, follow_redirects=False)
    assert first.status_code == 303  # to the login page
    again = idp.new_browser().get("/authorize", params={"client_id": DEMO_RP[0], "request_uri": request_uri}, follow_redirects=False)
    assert again.status_code == 400 and "location" not in again.headers
    assert "登录请求已失效" in again.text


def test_a_request_uri_expires(idp: Idp) -> None:
    request_uri = pushed_uri(idp, authorize_params(Pkce.new()))
    idp.clock.advance(61)
    response = idp.client.get("/authorize", params={"client_id": DEMO_RP[0], "request_uri": request_uri}, follow_redirects=False)
    assert response.status_code == 400 and "登录请求已失效" in response.text


def test_another_clients_request_uri_is_refused(make_idp: Callable[..., Idp]) -> None:
    idp = make_idp(clients=[other_rp_config()])
    request_uri = pushed_uri(idp, authorize_params(Pkce.new()))
    response = idp.client.get("/authorize", params={"client_id": OTHER_RP[0], "request_uri": request_uri}, follow_redirects=False)
    assert response.status_code == 400 and "location" not in response.headers


def test_an_unknown_request_uri_gets_the_error_page(idp: Idp) -> None:
    params = authorize_params(Pkce.new(), request_uri="https://rp.example/req/1")
    response = idp.client.get("/authorize", params=params, follow_redirects=False)
    assert response.status_code == 400 and "location" not in response.headers


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"redirect_uri": "http://127.0.0.1:8099/evil"}, "invalid_request"),
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"request_uri": "urn:ietf:params:oauth:request_uri:x"}, "invalid_request"),
        ({"client_id": OTHER_RP[0]}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
    ],
)
def test_a_bad_push_is_answered_in_json_never_redirected(idp: Idp, change: dict, error: str) -> None:
    params = {k: v for k, v in {**authorize_params(Pkce.new()), **change}.items() if v is not None}
    response = push(idp, params)
    assert response.status_code == 400 and "location" not in response.headers
    assert response.json()["error"] == error


def test_pushing_needs_client_authentication(idp: Idp) -> None:
    response = push(idp, authorize_params(Pkce.new()), auth=(DEMO_RP[0], "wrong"))
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    response = idp.client.post("/par", data=authorize_params(Pkce.new()))
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_a_client_that_requires_par_is_refused_without_it(make_idp: Callable[..., Idp]) -> None:
    idp = make_idp(clients=[par_rp_config()])
    params = authorize_params(Pkce.new(), client_id=PAR_RP[0], redirect_uri=PAR_REDIRECT)
    response = idp.client.get("/authorize", params=params, follow_redirects=False)
    assert response.status_code == 302 and response.headers["location"].startswith(PAR_REDIRECT + "?")
    query = query_of(response)
    assert query["error"] == "invalid_request" and "code" not in query and query["iss"] == ISSUER
    # Pushed, it works; demo-rp (not registered to require PAR) still works without.
    pkce = Pkce.new()
    request_uri = pushed_uri(idp, authorize_params(pkce, client_id=PAR_RP[0], redirect_uri=PAR_REDIRECT), auth=PAR_RP)
    done = idp.login("demo_l2", params={"client_id": PAR_RP[0], "request_uri": request_uri})
    assert done.status_code == 302 and "code" in query_of(done)
    plain = idp.login("demo_l2", params=authorize_params(Pkce.new()), browser=idp.new_browser())
    assert plain.status_code == 302 and "code" in query_of(plain)


def test_a_server_that_requires_par_refuses_every_plain_request(make_idp: Callable[..., Idp]) -> None:
    idp = make_idp(require_pushed_authorization_requests=True)
    assert idp.client.get("/.well-known/openid-configuration").json()["require_pushed_authorization_requests"] is True
    response = idp.client.get("/authorize", params=authorize_params(Pkce.new()), follow_redirects=False)
    assert response.status_code == 302 and query_of(response)["error"] == "invalid_request"
    request_uri = pushed_uri(idp, authorize_params(Pkce.new()))
    done = idp.login("demo_l2", params={"client_id": DEMO_RP[0], "request_uri": request_uri})
    assert done.status_code == 302 and "code" in query_of(done)
