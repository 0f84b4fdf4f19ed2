"""What a client may sign with (FAPI 2.0 Security Profile §5.4.1): a client
registered with the fapi2 profile signs its private_key_jwt assertions,
request objects and DPoP proofs with PS256, ES256 or EdDSA (Ed25519) only;
RS256 from it is refused, while a plain client keeps RS256. A client that
registered one algorithm for assertions or request objects (OIDC Registration
§2) is held to it. A fapi2 registration naming RS256 does not load."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import httpx
import pytest
from authlib.oauth2.rfc7523 import private_key_jwt_sign
from authlib.oauth2.rfc7523.client import ASSERTION_TYPE
from joserfc import jwt
from joserfc.jwk import RSAKey
from pydantic import ValidationError

from shared.settings import ClientConfig
from tests.gdzwfw_idp.conftest import ISSUER, Idp
from tests.oidc_helpers import Pkce, authorize_params

CLIENT_ID = "bank-app"
REDIRECT = "https://bank.example/cb"
# One RSA key signs both PS256 and RS256: the algorithm alone decides.
KEY = RSAKey.generate_key(2048, parameters={"kid": "bank-rsa"}, private=True)


def bank_client(**overrides: object) -> ClientConfig:
    values: dict = {
        "client_id": CLIENT_ID,
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "client_credentials"],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [KEY.as_dict(private=False)]},
    }
    return ClientConfig(**{**values, **overrides})


def fapi_idp(make_idp: Callable[..., Idp], **overrides: object) -> Idp:
    return make_idp(clients=[bank_client(profile="fapi2", **overrides)])


def client_assertion(idp: Idp, endpoint: str, alg: str) -> dict[str, str]:
    signed = private_key_jwt_sign(
        KEY, client_id=CLIENT_ID, token_endpoint=ISSUER + endpoint, alg=alg, issued_at=idp.clock.timestamp(), header={"kid": KEY.kid}
    )
    return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": signed}


def dpop(idp: Idp, alg: str) -> str:
    claims = {"jti": secrets.token_urlsafe(12), "htm": "POST", "htu": ISSUER + "/token", "iat": idp.clock.timestamp()}
    return jwt.encode({"typ": "dpop+jwt", "alg": alg, "jwk": KEY.as_dict(private=False)}, claims, KEY, algorithms=[alg])


def token_request(idp: Idp, *, assertion_alg: str, proof_alg: str) -> httpx.Response:
    return idp.client.post(
        "/token",
        data={"grant_type": "client_credentials", **client_assertion(idp, "/token", assertion_alg)},
        headers={"DPoP": dpop(idp, proof_alg)},
    )


def pushed_request_object(idp: Idp, alg: str) -> httpx.Response:
    now = idp.clock.timestamp()
    params = authorize_params(Pkce.new(), client_id=CLIENT_ID, redirect_uri=REDIRECT)
    claims = {"iss": CLIENT_ID, "aud": ISSUER, "iat": now, "exp": now + 60, **params}
    request = jwt.encode({"alg": alg, "kid": KEY.kid, "typ": "oauth-authz-req+jwt"}, claims, KEY, algorithms=[alg])
    return idp.client.post("/par", data={"client_id": CLIENT_ID, "request": request, **client_assertion(idp, "/par", "PS256")})


def test_a_fapi_client_gets_a_token_with_ps256(make_idp: Callable[..., Idp]) -> None:
    response = token_request(fapi_idp(make_idp), assertion_alg="PS256", proof_alg="PS256")
    assert response.status_code == 200 and response.json()["token_type"] == "DPoP", response.text


def test_a_fapi_clients_rs256_assertion_is_refused(make_idp: Callable[..., Idp]) -> None:
    response = token_request(fapi_idp(make_idp), assertion_alg="RS256", proof_alg="PS256")
    assert response.status_code == 401 and response.json()["error"] == "invalid_client", response.text


def test_a_fapi_clients_rs256_dpop_proof_is_refused(make_idp: Callable[..., Idp]) -> None:
    response = token_request(fapi_idp(make_idp), assertion_alg="PS256", proof_alg="RS256")
    assert response.status_code == 400 and response.json()["error"] == "invalid_dpop_proof", response.text
    assert "access_token" not in response.json()


def test_a_fapi_clients_rs256_request_object_is_refused(make_idp: Callable[..., Idp]) -> None:
    idp = fapi_idp(make_idp)
    refused = pushed_request_object(idp, "RS256")
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_request_object", refused.text
    assert pushed_request_object(idp, "PS256").status_code == 201


def test_a_plain_client_keeps_rs256(make_idp: Callable[..., Idp]) -> None:
    idp = make_idp(clients=[bank_client()])
    response = token_request(idp, assertion_alg="RS256", proof_alg="RS256")
    assert response.status_code == 200 and response.json()["token_type"] == "DPoP", response.text
    assert pushed_request_object(idp, "RS256").status_code == 201


def test_a_registered_algorithm_is_the_only_one_accepted(make_idp: Callable[..., Idp]) -> None:
    """OIDC Registration §2: a client that registered PS256 for assertions and
    request objects is refused RS256 even without the fapi2 profile."""
    idp = make_idp(clients=[bank_client(token_endpoint_auth_signing_alg="PS256", request_object_signing_alg="PS256")])
    refused = token_request(idp, assertion_alg="RS256", proof_alg="RS256")
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    assert pushed_request_object(idp, "RS256").json()["error"] == "invalid_request_object"
    assert token_request(idp, assertion_alg="PS256", proof_alg="RS256").status_code == 200
    assert pushed_request_object(idp, "PS256").status_code == 201


@pytest.mark.parametrize("field", ["token_endpoint_auth_signing_alg", "request_object_signing_alg"])
def test_a_fapi_registration_naming_rs256_does_not_load(field: str) -> None:
    with pytest.raises(ValidationError, match=f"profile fapi2 but weaker settings: {field}=RS256"):
        bank_client(profile="fapi2", **{field: "RS256"})
    assert getattr(bank_client(profile="fapi2", **{field: "ES256"}), field) == "ES256"
    # A plain client may register RS256; nobody may register a shared-secret or no algorithm.
    assert getattr(bank_client(**{field: "RS256"}), field) == "RS256"
    for unsigned in ("HS256", "none"):
        with pytest.raises(ValidationError, match=field):
            bank_client(**{field: unsigned})
