"""DPoP (RFC 9449) at gdzwfw_idp: a token request with a proof gets a token
bound to the proof's key (``token_type: DPoP``, introspection's ``cnf.jkt``);
userinfo serves a bound token only with a fresh proof of that key; proofs for
another method or URL, stale, replayed, with a wrong ``ath`` or from another
key are refused; server nonces when required."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from joserfc.jwk import thumbprint
from pydantic import SecretStr

from shared.settings import ClientConfig
from tests.gdzwfw_idp.conftest import ISSUER, Idp
from tests.gdzwfw_idp.flows import RESOURCE_SERVER, resource_server_config
from tests.oidc_helpers import DEMO_RP, Pkce, client_key, dpop_proof

TOKEN_URL = ISSUER + "/token"
USERINFO_URL = ISSUER + "/userinfo"
KEY_A = client_key("a")
KEY_B = client_key("b")
BOUND_RP = ("bound-rp", "bound-rp-secret")


@pytest.fixture
def idp(make_idp: Callable[..., Idp]) -> Idp:
    bound = ClientConfig(
        client_id=BOUND_RP[0],
        client_secret=SecretStr(BOUND_RP[1]),
        redirect_uris=["http://127.0.0.1:8093/cb"],
        grant_types=["client_credentials"],
        dpop_bound_access_tokens=True,
    )
    return make_idp(clients=[resource_server_config(), bound])


def proof(idp: Idp, key=KEY_A, method: str = "POST", url: str = TOKEN_URL, **extra) -> str:
    return dpop_proof(key, method, url, iat=idp.clock.timestamp(), **extra)


def client_credentials(idp: Idp, dpop: str | None, auth=DEMO_RP) -> httpx.Response:
    headers = {"DPoP": dpop} if dpop else {}
    return idp.client.post("/token", data={"grant_type": "client_credentials"}, auth=auth, headers=headers)


def bound_user_token(idp: Idp, key=KEY_A) -> dict:
    pkce = Pkce.new()
    code = idp.code_for("demo_l2", pkce)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": "http://127.0.0.1:8099/cb", "code_verifier": pkce.verifier}
    response = idp.client.post("/token", data=data, auth=DEMO_RP, headers={"DPoP": proof(idp, key)})
    assert response.status_code == 200, response.text
    return response.json()


def test_discovery_lists_the_proof_algorithms(idp: Idp) -> None:
    assert "ES256" in idp.client.get("/.well-known/openid-configuration").json()["dpop_signing_alg_values_supported"]


def test_a_proof_binds_the_token_and_introspection_says_to_which_key(idp: Idp) -> None:
    response = client_credentials(idp, proof(idp))
    assert response.status_code == 200 and response.json()["token_type"] == "DPoP", response.text
    info = idp.client.post("/introspect", data={"token": response.json()["access_token"]}, auth=RESOURCE_SERVER).json()
    assert info["active"] is True and info["token_type"] == "DPoP"
    assert info["cnf"] == {"jkt": thumbprint(KEY_A.as_dict(private=False))}
    plain = client_credentials(idp, None)
    assert plain.json()["token_type"] == "Bearer"
    assert "cnf" not in idp.client.post("/introspect", data={"token": plain.json()["access_token"]}, auth=RESOURCE_SERVER).json()


@pytest.mark.parametrize(
    "change",
    [{"method": "GET"}, {"url": ISSUER + "/par"}, {"iat": 0}, {"typ": None}],
    ids=["another-method", "another-url", "stale-iat", "not-a-proof"],
)
def test_a_wrong_proof_is_refused_at_the_token_endpoint(idp: Idp, change: dict) -> None:
    if "iat" in change:
        bad = dpop_proof(KEY_A, "POST", TOKEN_URL, iat=idp.clock.timestamp() - 300)
    elif "typ" in change:
        bad = "not.a.proof"
    else:
        bad = proof(idp, **change)
    response = client_credentials(idp, bad)
    assert response.status_code == 400 and response.json()["error"] == "invalid_dpop_proof"


def test_a_replayed_proof_is_refused(idp: Idp) -> None:
    once = proof(idp)
    assert client_credentials(idp, once).status_code == 200
    again = client_credentials(idp, once)
    assert again.status_code == 400 and again.json()["error"] == "invalid_dpop_proof"


def test_a_client_registered_for_bound_tokens_needs_a_proof(idp: Idp) -> None:
    refused = client_credentials(idp, None, auth=BOUND_RP)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_dpop_proof"
    assert client_credentials(idp, proof(idp), auth=BOUND_RP).json()["token_type"] == "DPoP"


def test_userinfo_serves_a_bound_token_only_with_a_proof_of_its_key(idp: Idp) -> None:
    token = bound_user_token(idp)["access_token"]
    ok = idp.client.get(
        "/userinfo", headers={"Authorization": f"DPoP {token}", "DPoP": proof(idp, method="GET", url=USERINFO_URL, access_token=token)}
    )
    assert ok.status_code == 200 and ok.json()["sub"]
    as_bearer = idp.client.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert as_bearer.status_code == 401 and as_bearer.headers["www-authenticate"].startswith('DPoP error="invalid_token"')
    other_key = proof(idp, KEY_B, method="GET", url=USERINFO_URL, access_token=token)
    refused = idp.client.get("/userinfo", headers={"Authorization": f"DPoP {token}", "DPoP": other_key})
    assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers["www-authenticate"]
    no_ath = proof(idp, method="GET", url=USERINFO_URL)
    refused = idp.client.get("/userinfo", headers={"Authorization": f"DPoP {token}", "DPoP": no_ath})
    assert refused.status_code == 401 and 'DPoP error="invalid_dpop_proof"' in refused.headers["www-authenticate"]
    missing = idp.client.get("/userinfo", headers={"Authorization": f"DPoP {token}"})
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("DPoP ")


def test_a_bound_grant_refreshes_only_with_the_same_key(idp: Idp) -> None:
    refresh_token = bound_user_token(idp)["refresh_token"]
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    refused = idp.client.post("/token", data=data, auth=DEMO_RP, headers={"DPoP": proof(idp, KEY_B)})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_dpop_proof"
    refreshed = idp.client.post("/token", data=data, auth=DEMO_RP, headers={"DPoP": proof(idp, KEY_A)})
    assert refreshed.status_code == 200 and refreshed.json()["token_type"] == "DPoP", refreshed.text


def test_a_required_nonce_is_handed_out_and_then_accepted(make_idp: Callable[..., Idp]) -> None:
    idp = make_idp(dpop_nonce_required=True)
    first = client_credentials(idp, proof(idp))
    assert first.status_code == 400 and first.json()["error"] == "use_dpop_nonce"
    nonce = first.headers["dpop-nonce"]
    again = client_credentials(idp, proof(idp, nonce=nonce))
    assert again.status_code == 200 and again.json()["token_type"] == "DPoP", again.text
    idp.clock.advance(900)  # two nonce windows later it is stale
    assert client_credentials(idp, proof(idp, nonce=nonce)).json()["error"] == "use_dpop_nonce"
