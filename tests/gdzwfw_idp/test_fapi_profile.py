"""The per-client FAPI 2.0 profile at gdzwfw_idp, shown by the development
client ``demo-fapi``: its requests must be pushed (PAR), it authenticates
with private_key_jwt only, its token requests must carry a DPoP proof, its
codes live at most 60 s whatever the provider's code lifetime, and the
authorization response names the issuer. A configuration that registers the
profile beside a weaker setting does not load."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable

import pytest
from authlib.oauth2.rfc7523 import private_key_jwt_sign
from authlib.oauth2.rfc7523.client import ASSERTION_TYPE
from joserfc import jws, jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, OKPKey, RSAKey
from pydantic import ValidationError

from devtools.demo_client import DEMO_FAPI_ID, demo_fapi_key
from services.gdzwfw_idp.settings import IdpSettings
from shared.oauth.provider.demo import DEMO_FAPI, DEMO_FAPI_PUBLIC_KEY
from shared.settings import ClientConfig
from tests.gdzwfw_idp.conftest import ISSUER, Idp
from tests.gdzwfw_idp.flows import tokens_for
from tests.oidc_helpers import DEMO_REDIRECT, Pkce, authorize_params, decode_id_token, dpop_proof, query_of

KEY = demo_fapi_key()


def assertion(idp: Idp, endpoint: str) -> dict[str, str]:
    signed = private_key_jwt_sign(
        KEY, client_id=DEMO_FAPI_ID, token_endpoint=ISSUER + endpoint, alg="ES256", issued_at=idp.clock.timestamp()
    )
    return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": signed}


def fapi_code(idp: Idp, pkce: Pkce) -> str:
    pushed = idp.client.post("/par", data={**authorize_params(pkce, client_id=DEMO_FAPI_ID), **assertion(idp, "/par")})
    assert pushed.status_code == 201, pushed.text
    done = idp.login("demo_l2", params={"client_id": DEMO_FAPI_ID, "request_uri": pushed.json()["request_uri"]})
    assert done.status_code == 302, done.text[:300]
    query = query_of(done)
    # RFC 9207: the response names the issuer (FAPI 2.0 §5.3.2.2).
    assert query["iss"] == ISSUER
    return query["code"]


def redeem(idp: Idp, code: str, pkce: Pkce, *, proof: bool = True):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": DEMO_REDIRECT, "code_verifier": pkce.verifier}
    headers = {"DPoP": dpop_proof(KEY, "POST", ISSUER + "/token", iat=idp.clock.timestamp())} if proof else {}
    return idp.client.post("/token", data={**data, **assertion(idp, "/token")}, headers=headers)


def test_demo_fapi_gets_a_dpop_bound_token_through_par_and_private_key_jwt(idp: Idp) -> None:
    pkce = Pkce.new()
    token = redeem(idp, fapi_code(idp, pkce), pkce)
    assert token.status_code == 200 and token.json()["token_type"] == "DPoP", token.text


def alg_of(token: str) -> str:
    return jws.extract_compact(token.encode()).protected["alg"]


def test_demo_fapi_gets_a_ps256_id_token_that_verifies_against_the_published_keys(idp: Idp) -> None:
    """FAPI 2.0 §5.4.1: PS256 for the fapi2 client, under the key the JWKS
    publishes; demo-rp's ID tokens stay RS256 under the same key."""
    pkce = Pkce.new()
    id_token = redeem(idp, fapi_code(idp, pkce), pkce).json()["id_token"]
    plain = tokens_for(idp, "demo_l2")["id_token"]
    jwks = idp.client.get("/jwks.json").json()
    assert alg_of(id_token) == "PS256" and decode_id_token(id_token, jwks, algorithms=("PS256",))["aud"] == [DEMO_FAPI_ID]
    assert alg_of(plain) == "RS256" and decode_id_token(plain, jwks)["aud"] == ["demo-rp"]
    meta = idp.client.get("/.well-known/openid-configuration").json()
    assert meta["id_token_signing_alg_values_supported"] == ["RS256", "PS256"]


def test_demo_fapi_is_refused_without_par(idp: Idp) -> None:
    done = idp.login("demo_l2", params=authorize_params(Pkce.new(), client_id=DEMO_FAPI_ID))
    assert done.status_code == 302 and query_of(done)["error"] == "invalid_request" and "code" not in query_of(done)


def test_demo_fapi_gets_no_token_without_a_dpop_proof(idp: Idp) -> None:
    pkce = Pkce.new()
    refused = redeem(idp, fapi_code(idp, pkce), pkce, proof=False)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_dpop_proof"


def test_demo_fapi_has_no_secret_to_authenticate_with(idp: Idp) -> None:
    basic = idp.client.post("/par", data=authorize_params(Pkce.new(), client_id=DEMO_FAPI_ID), auth=(DEMO_FAPI_ID, "anything"))
    assert basic.status_code == 401 and basic.json()["error"] == "invalid_client"


def test_a_fapi_code_lives_a_minute_even_where_codes_live_longer(make_idp: Callable[..., Idp]) -> None:
    idp = make_idp(code_ttl=300)
    pkce, plain_pkce = Pkce.new(), Pkce.new()
    code, plain = fapi_code(idp, pkce), idp.code_for("demo_l2", plain_pkce)
    idp.clock.advance(61)
    refused = redeem(idp, code, pkce)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    # demo-rp's code, issued under the provider's own lifetime, still works.
    assert idp.redeem(plain, plain_pkce).status_code == 200


def test_the_demo_key_file_holds_the_registered_key() -> None:
    assert KEY.as_dict(private=False) == DEMO_FAPI_PUBLIC_KEY
    assert DEMO_FAPI.require_pushed_authorization_requests and DEMO_FAPI.dpop_bound_access_tokens


def fapi_config(**settings: object) -> dict:
    return {
        "client_id": "bank-app",
        "redirect_uris": ["https://bank.example/cb"],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [DEMO_FAPI_PUBLIC_KEY]},
        "profile": "fapi2",
        **settings,
    }


@pytest.mark.parametrize(
    ("weaker", "named"),
    [
        ({"token_endpoint_auth_method": "client_secret_basic", "jwks": None, "client_secret": "s"}, "token_endpoint_auth_method"),
        ({"require_pushed_authorization_requests": False}, "require_pushed_authorization_requests"),
        ({"dpop_bound_access_tokens": False}, "dpop_bound_access_tokens"),
    ],
    ids=["client-secret", "par-off", "dpop-off"],
)
def test_the_profile_beside_a_weaker_setting_does_not_load(weaker: dict, named: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match=named):
        ClientConfig.model_validate(fapi_config(**weaker))
    # Nor does the service start with it: the clients setting is read at start-up.
    monkeypatch.setenv("GDZWFW_CLIENTS", json.dumps([fapi_config(**weaker)]))
    with pytest.raises(ValidationError, match="profile fapi2"):
        IdpSettings(database_url="sqlite://", secret_key="x" * 40, public_url=ISSUER)


def test_the_profile_sets_what_it_implies() -> None:
    client = ClientConfig.model_validate(fapi_config())
    assert client.require_pushed_authorization_requests and client.dpop_bound_access_tokens
    assert client.id_token_alg == "PS256"
    assert client.registration().profile == "fapi2"


def test_the_profile_refuses_rs256_id_tokens() -> None:
    with pytest.raises(ValidationError, match="profile fapi2 but weaker settings: id_token_signed_response_alg=RS256"):
        ClientConfig.model_validate(fapi_config(id_token_signed_response_alg="RS256"))
    assert ClientConfig.model_validate(fapi_config(id_token_signed_response_alg="PS256")).id_token_alg == "PS256"
    # What the provider's RSA key cannot sign is not offered, to any client.
    with pytest.raises(ValidationError, match="id_token_signed_response_alg"):
        ClientConfig.model_validate(fapi_config(id_token_signed_response_alg="ES256"))


def key_for(alg: str, kid: str):
    if alg in ("PS256", "RS256"):
        return RSAKey.generate_key(2048, parameters={"kid": kid, "alg": alg}, private=True)
    if alg in ("Ed25519", "EdDSA"):
        return OKPKey.generate_key("Ed25519", parameters={"kid": kid, "alg": alg}, private=True)
    return ECKey.generate_key("P-256", parameters={"kid": kid, "alg": alg}, private=True)


def test_discovery_advertises_the_fapi_features_and_nothing_it_does_not_do(idp: Idp) -> None:
    meta = idp.client.get("/.well-known/openid-configuration").json()
    assert meta["token_endpoint_auth_methods_supported"] == ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["require_pushed_authorization_requests"] is False  # per client (demo-fapi), not server-wide
    assert meta["pushed_authorization_request_endpoint"] == ISSUER + "/par"
    assert meta["response_types_supported"] == ["code"] and meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["request_uri_parameter_supported"] is False  # request_uri only from our own PAR endpoint
    # Nothing of mutual TLS (RFC 8705), which this deployment cannot terminate.
    assert not {"mtls_endpoint_aliases", "tls_client_certificate_bound_access_tokens"} & set(meta)
    assert not {"tls_client_auth", "self_signed_tls_client_auth"} & set(meta["token_endpoint_auth_methods_supported"])
    for listed in ("dpop_signing_alg_values_supported", "request_object_signing_alg_values_supported"):
        assert "none" not in meta[listed] and not any(alg.startswith("HS") for alg in meta[listed])


def test_every_advertised_dpop_and_assertion_algorithm_is_accepted(make_idp: Callable[..., Idp]) -> None:
    """Each algorithm discovery lists works: a DPoP proof and a
    private_key_jwt assertion signed with it get a token."""
    algs = ["PS256", "ES256", "Ed25519", "EdDSA", "RS256"]
    keys = {alg: key_for(alg, f"k-{alg}") for alg in algs}
    client = ClientConfig(
        client_id="alg-rp",
        redirect_uris=["https://alg.example/cb"],
        grant_types=["client_credentials"],
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": [key.as_dict(private=False) for key in keys.values()]},
    )
    idp = make_idp(clients=[client])
    meta = idp.client.get("/.well-known/openid-configuration").json()
    assert meta["dpop_signing_alg_values_supported"] == algs
    assert meta["token_endpoint_auth_signing_alg_values_supported"] == algs
    assert meta["request_object_signing_alg_values_supported"] == algs
    for alg, key in keys.items():
        # joserfc warns of EdDSA (deprecated by RFC 9864) on both sides; still accepted.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SecurityWarning)
            response = _alg_token_request(idp, alg, key)
        assert response.status_code == 200 and response.json()["token_type"] == "DPoP", (alg, response.text)


def _alg_token_request(idp: Idp, alg: str, key):
    now = idp.clock.timestamp()
    signed = private_key_jwt_sign(
        key, client_id="alg-rp", token_endpoint=ISSUER + "/token", alg=alg, issued_at=now, header={"alg": alg, "kid": key.kid}
    )
    claims = {"jti": f"proof-{alg}", "htm": "POST", "htu": ISSUER + "/token", "iat": now}
    proof = jwt.encode({"typ": "dpop+jwt", "alg": alg, "jwk": key.as_dict(private=False)}, claims, key, algorithms=[alg])
    return idp.client.post(
        "/token",
        data={"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE, "client_assertion": signed},
        headers={"DPoP": proof},
    )
