"""Client authentication with ``private_key_jwt`` (RFC 7523) at gdzwfw_idp,
with assertions made by Authlib's own client-side signer: accepted once, at
the token and PAR endpoints; a reused ``jti``, a wrong ``aud``, an expired
assertion, another key's signature or the client's old secret method are
refused with ``invalid_client``."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from authlib.oauth2.rfc7523 import private_key_jwt_sign
from authlib.oauth2.rfc7523.client import ASSERTION_TYPE
from joserfc.jwk import ECKey

from shared.settings import ClientConfig
from tests.gdzwfw_idp.conftest import ISSUER, Idp
from tests.oidc_helpers import Pkce, authorize_params, client_key, public_jwks, query_of

CLIENT_ID = "pkj-rp"
REDIRECT = "http://127.0.0.1:8094/cb"
KEY = client_key("pkj-key-1")


def pkj_client() -> ClientConfig:
    return ClientConfig(
        client_id=CLIENT_ID,
        redirect_uris=[REDIRECT],
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
        token_endpoint_auth_method="private_key_jwt",
        jwks=public_jwks(KEY),
    )


@pytest.fixture
def idp(make_idp: Callable[..., Idp]) -> Idp:
    return make_idp(clients=[pkj_client()])


def assertion(idp: Idp, *, aud: str = ISSUER + "/token", key: ECKey = KEY, lifetime: int = 60) -> dict[str, str]:
    signed = private_key_jwt_sign(
        key, client_id=CLIENT_ID, token_endpoint=aud, alg="ES256", issued_at=idp.clock.timestamp(), expires_in=lifetime
    )
    return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": signed}


def client_credentials(idp: Idp, auth: dict[str, str]):
    return idp.client.post("/token", data={"grant_type": "client_credentials", **auth})


def test_discovery_lists_private_key_jwt(idp: Idp) -> None:
    meta = idp.client.get("/.well-known/openid-configuration").json()
    assert "private_key_jwt" in meta["token_endpoint_auth_methods_supported"]
    assert "ES256" in meta["token_endpoint_auth_signing_alg_values_supported"]


def test_an_assertion_is_accepted_once(idp: Idp) -> None:
    auth = assertion(idp)
    first = client_credentials(idp, auth)
    assert first.status_code == 200, first.text
    replayed = client_credentials(idp, auth)
    assert replayed.status_code == 401 and replayed.json()["error"] == "invalid_client"
    # The issuer itself is an accepted audience too (FAPI 2.0).
    assert client_credentials(idp, assertion(idp, aud=ISSUER)).status_code == 200


@pytest.mark.parametrize(
    "bad",
    [
        {"aud": "http://127.0.0.1:8002/isso/token"},
        {"lifetime": -120},
        {"key": client_key("pkj-key-1")},
    ],
    ids=["wrong-aud", "expired", "another-key"],
)
def test_a_bad_assertion_is_refused(idp: Idp, bad: dict) -> None:
    response = client_credentials(idp, assertion(idp, **bad))
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_the_client_cannot_fall_back_to_a_secret(idp: Idp) -> None:
    response = idp.client.post("/token", data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, "guess"))
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_the_code_flow_with_par_and_private_key_jwt(idp: Idp) -> None:
    pkce = Pkce.new()
    params = authorize_params(pkce, client_id=CLIENT_ID, redirect_uri=REDIRECT)
    pushed = idp.client.post("/par", data={**params, **assertion(idp, aud=ISSUER + "/par")})
    assert pushed.status_code == 201, pushed.text
    done = idp.login("demo_l2", params={"client_id": CLIENT_ID, "request_uri": pushed.json()["request_uri"]})
    assert done.status_code == 302 and done.headers["location"].startswith(REDIRECT + "?")
    data = {"grant_type": "authorization_code", "code": query_of(done)["code"], "redirect_uri": REDIRECT, "code_verifier": pkce.verifier}
    tokens = idp.client.post("/token", data={**data, **assertion(idp)})
    assert tokens.status_code == 200 and "id_token" in tokens.json(), tokens.text


def test_an_assertion_spent_at_par_is_refused_there_and_at_the_token_endpoint(idp: Idp) -> None:
    pkce = Pkce.new()
    params = authorize_params(pkce, client_id=CLIENT_ID, redirect_uri=REDIRECT)
    auth = assertion(idp, aud=ISSUER)  # the issuer: an audience both endpoints accept
    assert idp.client.post("/par", data={**params, **auth}).status_code == 201
    again = idp.client.post("/par", data={**params, **auth})
    assert again.status_code == 401 and again.json()["error"] == "invalid_client"
    assert client_credentials(idp, auth).status_code == 401


def test_a_pushed_request_keeps_no_client_credentials(idp: Idp) -> None:
    pkce = Pkce.new()
    params = authorize_params(pkce, client_id=CLIENT_ID, redirect_uri=REDIRECT)
    auth = assertion(idp, aud=ISSUER + "/par")
    request_uri = idp.client.post("/par", data={**params, **auth}).json()["request_uri"]
    kept = idp.app.state.provider.pushed.take(request_uri)
    assert kept is not None and kept.client_id == CLIENT_ID and dict(kept.params)["state"] == params["state"]
    assert not {"client_assertion", "client_assertion_type", "client_secret"} & set(dict(kept.params))


def test_an_assertion_sent_with_a_refused_request_is_spent_all_the_same(idp: Idp) -> None:
    auth = assertion(idp)
    refused = idp.client.post("/token", data={"grant_type": "authorization_code", "code": "no-such-code", "redirect_uri": REDIRECT, **auth})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    replayed = client_credentials(idp, auth)
    assert replayed.status_code == 401 and replayed.json()["error"] == "invalid_client"
