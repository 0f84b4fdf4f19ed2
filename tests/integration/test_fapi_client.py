"""A FAPI 2.0 client built on Authlib's own client over real HTTP:
``demo-fapi`` pushes its request to the ISSO's PAR endpoint and redeems the
code authenticated by Authlib's ``private_key_jwt`` (RFC 7523), with a DPoP
proof (RFC 9449, joserfc); the login runs through both providers in a
browser-like client; the DPoP-bound token then reads the refund API with a
proof, and only so: as a bearer, with another key's proof, with a proof
used before, or with a proof for another URL or method it is refused."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT

from devtools.demo_client import DEMO_FAPI_ID, DEMO_REDIRECT, REFUND_SCOPE, demo_fapi_key, login_at_gdzwfw, query_of
from devtools.stack import StackConfig
from shared.oauth.provider.dpop import make_proof
from tests.oidc_helpers import client_key

KEY = demo_fapi_key()


def proof(url: str, *, method: str = "GET", key=KEY, access_token: str | None = None) -> str:
    return make_proof(key, "ES256", method=method, url=url, now=int(time.time()), access_token=access_token)


@pytest.fixture(scope="module")
def bound_token(stack: StackConfig) -> str:
    isso = f"{stack.url('hrss_isso')}/isso"
    meta = httpx.get(f"{isso}/.well-known/openid-configuration").json()
    client = OAuth2Client(
        client_id=DEMO_FAPI_ID,
        client_secret=KEY,
        token_endpoint_auth_method=PrivateKeyJWT.name,
        redirect_uri=DEMO_REDIRECT,
        scope=REFUND_SCOPE,
        code_challenge_method="S256",
    )
    # Authlib's signer: each assertion with a fresh jti, addressed to the endpoint it goes to.
    client.register_client_auth_method(PrivateKeyJWT(alg="ES256"))
    with client:
        verifier = "v" * 64
        url, state = client.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce="n-fapi")
        pushed = client.post(
            meta["pushed_authorization_request_endpoint"], data=dict(httpx.URL(url).params), auth=client.client_auth(PrivateKeyJWT.name)
        )
        assert pushed.status_code == 201, pushed.text
        code = _browser_login(stack, meta["authorization_endpoint"], pushed.json()["request_uri"], state)
        token = client.fetch_token(
            meta["token_endpoint"],
            code=code,
            code_verifier=verifier,
            headers={
                "Accept": "application/json",
                "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
                "DPoP": proof(meta["token_endpoint"], method="POST"),
            },
        )
    assert token["token_type"] == "DPoP" and "refund.confirm" in token["scope"]
    return token["access_token"]


def _browser_login(stack: StackConfig, authorize: str, request_uri: str, state: str) -> str:
    """The user's part: only client_id and request_uri travel in the browser;
    the ISSO sends the unit on to gdzwfw_idp (法人登录, demo_l2)."""
    with httpx.Client() as browser:
        response = browser.get(authorize, params={"client_id": DEMO_FAPI_ID, "request_uri": request_uri})
        assert response.status_code == 303, response.text[:300]
        login_page = browser.get(response.headers["location"])
        start = re.search(r'id="gdzwfw-login" href="([^"]+)"', login_page.text).group(1)
        idp_page = browser.get(str(login_page.url.join(start)), follow_redirects=True)
        response = login_at_gdzwfw(browser, idp_page, "demo_l2")
        while response.status_code in (302, 303) and not response.headers["location"].startswith(DEMO_REDIRECT):
            response = browser.get(response.url.join(response.headers["location"]))
    query = query_of(response)
    assert query["state"] == state and query["iss"] == f"{stack.url('hrss_isso')}/isso", query
    return query["code"]


def api(stack: StackConfig, path: str = "/api/v1/refunds/me") -> str:
    return stack.url("refund_portal") + path


def test_the_dpop_bound_token_reads_the_refund_api_with_a_proof(stack: StackConfig, bound_token: str) -> None:
    url = api(stack)
    response = httpx.get(url, headers={"Authorization": f"DPoP {bound_token}", "DPoP": proof(url, access_token=bound_token)})
    assert response.status_code == 200, response.text
    assert response.json()["uscc"] == "91440104MA5DL2B24P"


def test_the_bound_token_as_a_bearer_is_refused(stack: StackConfig, bound_token: str) -> None:
    response = httpx.get(api(stack), headers={"Authorization": f"Bearer {bound_token}"})
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith('DPoP error="invalid_token"')


def test_a_proof_by_another_key_is_refused(stack: StackConfig, bound_token: str) -> None:
    url = api(stack)
    other = proof(url, key=client_key("thief"), access_token=bound_token)
    response = httpx.get(url, headers={"Authorization": f"DPoP {bound_token}", "DPoP": other})
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith('DPoP error="invalid_token"')


def test_a_replayed_proof_is_refused(stack: StackConfig, bound_token: str) -> None:
    url = api(stack, "/api/v1/me")
    headers = {"Authorization": f"DPoP {bound_token}", "DPoP": proof(url, access_token=bound_token)}
    assert httpx.get(url, headers=headers).status_code == 200
    again = httpx.get(url, headers=headers)
    assert again.status_code == 401 and again.headers["www-authenticate"].startswith('DPoP error="invalid_dpop_proof"')


@pytest.mark.parametrize("where", ["another-url", "another-method"])
def test_a_proof_for_another_request_is_refused(stack: StackConfig, bound_token: str, where: str) -> None:
    url = api(stack)
    made = (
        proof(api(stack, "/api/v1/me"), access_token=bound_token)
        if where == "another-url"
        else proof(url, method="POST", access_token=bound_token)
    )
    response = httpx.get(url, headers={"Authorization": f"DPoP {bound_token}", "DPoP": made})
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith('DPoP error="invalid_dpop_proof"')
