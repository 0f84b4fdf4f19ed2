"""Refresh without rotation for a fapi2 client (FAPI 2.0 §5.3.2.1 item 10,
NOTE 2), shown by ``demo-fapi``: a refresh answers with a new access token
and no refresh token, so a client whose response was lost retries with the
token it holds and succeeds. The refresh token stays bound to its DPoP key;
revoking it (RFC 7009) ends it and every access token it bought. A client
without the profile keeps rotation with reuse detection, DPoP or not."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from joserfc.jwk import thumbprint

from devtools.demo_client import DEMO_FAPI_ID
from tests.gdzwfw_idp.conftest import ISSUER, Idp
from tests.gdzwfw_idp.flows import RESOURCE_SERVER, introspect, resource_server_config
from tests.gdzwfw_idp.test_dpop import bound_user_token
from tests.gdzwfw_idp.test_fapi_profile import KEY, assertion, fapi_code, redeem
from tests.oidc_helpers import DEMO_RP, Pkce, client_key, dpop_proof


@pytest.fixture
def idp(make_idp: Callable[..., Idp]) -> Idp:
    return make_idp(clients=[resource_server_config()])


def fapi_tokens(idp: Idp) -> dict:
    pkce = Pkce.new()
    response = redeem(idp, fapi_code(idp, pkce), pkce)
    assert response.status_code == 200, response.text
    return response.json()


def fapi_refresh(idp: Idp, refresh_token: str, key=KEY) -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, **assertion(idp, "/token")}
    return idp.client.post("/token", data=data, headers={"DPoP": dpop_proof(key, "POST", ISSUER + "/token", iat=idp.clock.timestamp())})


def active(idp: Idp, token: str) -> bool:
    """What the resource server learns at /introspect (demo-fapi has no secret to ask with)."""
    response = introspect(idp, token, auth=RESOURCE_SERVER)
    assert response.status_code == 200, response.text
    return response.json()["active"]


def test_the_same_refresh_token_refreshes_twice_and_no_new_one_is_issued(idp: Idp) -> None:
    first = fapi_tokens(idp)
    idp.clock.advance(60)
    once, twice = fapi_refresh(idp, first["refresh_token"]), fapi_refresh(idp, first["refresh_token"])
    for response in (once, twice):
        assert response.status_code == 200, response.text
        assert "refresh_token" not in response.json() and response.json()["token_type"] == "DPoP"
    # A retry is not a replay: every access token stays valid until it expires, the refresh token too.
    tokens = [first["access_token"], once.json()["access_token"], twice.json()["access_token"], first["refresh_token"]]
    assert all(active(idp, token) for token in tokens)
    answer = introspect(idp, twice.json()["access_token"], auth=RESOURCE_SERVER).json()
    assert answer["client_id"] == DEMO_FAPI_ID and answer["cnf"] == {"jkt": thumbprint(KEY.as_dict(private=False))}


def test_the_refresh_token_works_for_its_lifetime_and_not_after(make_idp: Callable[..., Idp]) -> None:
    idp = make_idp(clients=[resource_server_config()], refresh_token_ttl=3600)
    first = fapi_tokens(idp)
    for _ in range(2):
        idp.clock.advance(1799)
        assert fapi_refresh(idp, first["refresh_token"]).status_code == 200
    idp.clock.advance(2)
    late = fapi_refresh(idp, first["refresh_token"])
    assert late.status_code == 400 and late.json()["error"] == "invalid_grant"


def test_revoking_the_refresh_token_ends_it_and_the_access_tokens_it_bought(idp: Idp) -> None:
    first = fapi_tokens(idp)
    refreshed = fapi_refresh(idp, first["refresh_token"]).json()
    # RFC 7009 with private_key_jwt, the client's only way to authenticate (aud: the issuer, FAPI 2.0 §5.3.2.1).
    revoked = idp.client.post("/revoke", data={"token": first["refresh_token"], **assertion(idp, "")})
    assert revoked.status_code == 200, revoked.text
    assert not any(active(idp, token) for token in (first["access_token"], refreshed["access_token"], first["refresh_token"]))
    again = fapi_refresh(idp, first["refresh_token"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_a_refresh_with_another_keys_proof_is_refused(idp: Idp) -> None:
    first = fapi_tokens(idp)
    other = fapi_refresh(idp, first["refresh_token"], key=client_key("b"))
    assert other.status_code == 400 and other.json()["error"] == "invalid_dpop_proof"
    # Refused, not punished: the holder of the key goes on.
    assert fapi_refresh(idp, first["refresh_token"]).status_code == 200


def test_a_dpop_bound_plain_client_still_rotates_and_a_reuse_revokes_the_family(idp: Idp) -> None:
    key = client_key("a")
    first = bound_user_token(idp, key)

    def plain_refresh(refresh_token: str) -> httpx.Response:
        proof = dpop_proof(key, "POST", ISSUER + "/token", iat=idp.clock.timestamp())
        return idp.client.post(
            "/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token}, auth=DEMO_RP, headers={"DPoP": proof}
        )

    rotated = plain_refresh(first["refresh_token"]).json()
    assert rotated["refresh_token"] != first["refresh_token"]
    reused = plain_refresh(first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert not any(active(idp, token) for token in (first["access_token"], rotated["access_token"], rotated["refresh_token"]))


def test_discovery_names_private_key_jwt_at_the_revocation_endpoint(idp: Idp) -> None:
    meta = idp.client.get("/.well-known/openid-configuration").json()
    assert "private_key_jwt" in meta["revocation_endpoint_auth_methods_supported"]
    assert "PS256" in meta["revocation_endpoint_auth_signing_alg_values_supported"]
    assert meta["introspection_endpoint_auth_methods_supported"] == ["client_secret_basic", "client_secret_post"]
