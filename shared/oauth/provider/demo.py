"""DESIGN.md § Demo data: both providers register ``demo-rp`` in development,
so anyone can try the chain with a standard OIDC client."""

from __future__ import annotations

from pydantic import SecretStr

from shared.settings import ClientConfig

__all__ = ["DEMO_RP"]

DEMO_RP = ClientConfig(
    client_id="demo-rp",
    client_secret=SecretStr("demo-rp-secret"),
    client_name="演示应用（demo-rp）",
    redirect_uris=["http://127.0.0.1:8099/cb"],
    post_logout_redirect_uris=["http://127.0.0.1:8099/"],
    grant_types=["authorization_code", "refresh_token", "client_credentials"],
    scope="openid profile",
)
