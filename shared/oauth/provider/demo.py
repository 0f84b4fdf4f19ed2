"""DESIGN.md § Demo data: both providers register ``demo-rp`` in development,
so anyone can try the chain with a standard OIDC client, and ``demo-fapi``,
the same client under the FAPI 2.0 profile (PAR, private_key_jwt, DPoP)."""

from __future__ import annotations

from pydantic import SecretStr

from shared.settings import FAPI2, ClientConfig

__all__ = ["DEMO_RP", "DEMO_FAPI", "DEMO_FAPI_PUBLIC_KEY"]

DEMO_RP = ClientConfig(
    client_id="demo-rp",
    client_secret=SecretStr("demo-rp-secret"),
    client_name="演示应用（demo-rp）",
    redirect_uris=["http://127.0.0.1:8099/cb"],
    post_logout_redirect_uris=["http://127.0.0.1:8099/"],
    grant_types=["authorization_code", "refresh_token", "client_credentials"],
    scope="openid profile",
)

# The public half of devtools/demo_fapi_key.json: a key everyone can read,
# as demo-rp's secret is, so it is registered in development only.
DEMO_FAPI_PUBLIC_KEY = {
    "kty": "EC",
    "crv": "P-256",
    "x": "JnaeFIWMJL0cRGWJtOa4FgAWzGsdDlG9hQ0gnShSOs4",
    "y": "riYbv7kjbZZs_tS98n2CQoN2PvT4Kxy6gA_oVskEu9s",
    "kid": "maZXBxU46ZEgMLDTJSOLrF7epE7F_fqv7vb8oEMAUpw",
    "alg": "ES256",
    "use": "sig",
}

DEMO_FAPI = ClientConfig(
    client_id="demo-fapi",
    client_name="演示应用（demo-fapi，FAPI 2.0）",
    redirect_uris=["http://127.0.0.1:8099/cb"],
    post_logout_redirect_uris=["http://127.0.0.1:8099/"],
    grant_types=["authorization_code", "refresh_token"],
    scope="openid profile",
    token_endpoint_auth_method="private_key_jwt",
    jwks={"keys": [DEMO_FAPI_PUBLIC_KEY]},
    profile=FAPI2,
)
