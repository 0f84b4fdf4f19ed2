"""Token-level steps the gdzwfw_idp tests repeat: log in and redeem, refresh,
introspect, revoke. Built on the ``Idp`` fixture object (conftest.py)."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient
from pydantic import SecretStr

from shared.settings import ClientConfig
from tests.gdzwfw_idp.conftest import Idp
from tests.oidc_helpers import DEMO_RP, Pkce, authorize_params, query_of

__all__ = [
    "OTHER_RP",
    "RESOURCE_SERVER",
    "other_rp_config",
    "resource_server_config",
    "tokens_for",
    "refresh",
    "introspect",
    "revoke",
    "is_active",
]

OTHER_RP = ("other-rp", "other-rp-secret")
RESOURCE_SERVER = ("refund-api", "refund-api-secret")


def other_rp_config() -> ClientConfig:
    """A second ordinary relying party (no introspection rights)."""
    return ClientConfig(
        client_id=OTHER_RP[0],
        client_secret=SecretStr(OTHER_RP[1]),
        client_name="另一个应用",
        redirect_uris=["http://127.0.0.1:8098/cb"],
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
    )


def post_client_config(**overrides: object) -> ClientConfig:
    """A client registered for client_secret_post (client credentials only)."""
    values: dict = {
        "client_id": "post-rp",
        "client_secret": SecretStr("post-rp-secret"),
        "redirect_uris": ["http://127.0.0.1:8097/cb"],
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "client_secret_post",
    }
    return ClientConfig(**{**values, **overrides})


def resource_server_config() -> ClientConfig:
    """A resource server registered to introspect any client's tokens."""
    return ClientConfig(
        client_id=RESOURCE_SERVER[0],
        client_secret=SecretStr(RESOURCE_SERVER[1]),
        client_name="稳岗返还接口",
        redirect_uris=["http://127.0.0.1:8003/cb"],
        grant_types=["client_credentials"],
        introspection_allowed=True,
    )


def tokens_for(idp: Idp, login_name: str, *, browser: TestClient | None = None, tab: str = "legal", **extra: str) -> dict:
    """A fresh browser logs ``login_name`` in for demo-rp; returns the token response.
    ``extra`` goes into the authorization request; ``tab`` is the login page tab."""
    browser = browser or idp.new_browser()
    pkce = Pkce.new()
    redirect = idp.login(login_name, params=authorize_params(pkce, **extra), browser=browser, tab=tab)
    assert redirect.status_code == 302, redirect.text[:300]
    response = idp.redeem(query_of(redirect)["code"], pkce, client=browser)
    assert response.status_code == 200, response.text
    return response.json()


def refresh(idp: Idp, refresh_token: str, *, auth: tuple[str, str] = DEMO_RP, client: TestClient | None = None) -> httpx.Response:
    return (client or idp.client).post("/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token}, auth=auth)


def introspect(idp: Idp, token: str, *, auth: tuple[str, str] | None = DEMO_RP, **extra: str) -> httpx.Response:
    return idp.client.post("/introspect", data={"token": token, **extra}, auth=auth)


def revoke(idp: Idp, token: str, *, auth: tuple[str, str] | None = DEMO_RP, **extra: str) -> httpx.Response:
    return idp.client.post("/revoke", data={"token": token, **extra}, auth=auth)


def is_active(idp: Idp, token: str) -> bool:
    """What the token's own client learns at /introspect."""
    response = introspect(idp, token)
    assert response.status_code == 200, response.text
    return response.json()["active"]
