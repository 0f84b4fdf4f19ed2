"""The refund API's scopes at hrss_isso: published, and granted only to
clients registered for them (demo-rp in development; a client's
ClientConfig.scope elsewhere), by the code grant and by client credentials."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import SecretStr, ValidationError

from services.hrss_isso.settings import IssoSettings
from shared.settings import ClientConfig
from tests.hrss_isso.conftest import Isso
from tests.hrss_isso.flows import unit_tokens
from tests.oidc_helpers import DEMO_RP

OTHER = ("other-hrss-app", "other-hrss-app-secret")


def other_client(scope: str = "openid profile") -> ClientConfig:
    return ClientConfig(
        client_id=OTHER[0],
        client_secret=SecretStr(OTHER[1]),
        redirect_uris=["http://127.0.0.1:8099/cb"],
        grant_types=["authorization_code", "client_credentials"],
        scope=scope,
    )


def introspected_scope(isso: Isso, token: str, auth: tuple[str, str] = DEMO_RP) -> set[str]:
    # A client that is no resource server may introspect its own tokens.
    answer = isso.client.post("/isso/introspect", data={"token": token}, auth=auth).json()
    assert answer["active"] is True
    return set(answer["scope"].split())


def test_discovery_lists_the_refund_scopes(isso: Isso) -> None:
    supported = isso.client.get("/isso/.well-known/openid-configuration").json()["scopes_supported"]
    assert {"openid", "profile", "refund.read", "refund.confirm"} <= set(supported)


def test_demo_rp_gets_the_refund_scopes_it_asks_for(isso: Isso) -> None:
    tokens = unit_tokens(isso, "yuexiu_maoyi", scope="openid profile refund.read")
    assert set(tokens["scope"].split()) == {"openid", "profile", "refund.read"}
    assert introspected_scope(isso, tokens["access_token"]) == {"openid", "profile", "refund.read"}


def test_a_client_not_registered_for_the_scopes_does_not_get_them_by_asking(make_isso: Callable[..., Isso]) -> None:
    isso = make_isso(clients=[other_client()])
    tokens = unit_tokens(isso, "yuexiu_maoyi", auth=OTHER, scope="openid profile refund.read refund.confirm")
    assert set(tokens["scope"].split()) == {"openid", "profile"}
    assert introspected_scope(isso, tokens["access_token"], OTHER) == {"openid", "profile"}
    # Client credentials: asking for an unregistered scope is an error, not a narrower token.
    refused = isso.client.post("/isso/token", data={"grant_type": "client_credentials", "scope": "refund.confirm"}, auth=OTHER)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope"
    allowed = isso.client.post("/isso/token", data={"grant_type": "client_credentials", "scope": "profile"}, auth=OTHER)
    assert allowed.status_code == 200 and allowed.json()["scope"] == "profile"


def test_a_client_registered_for_them_gets_them_by_client_credentials(make_isso: Callable[..., Isso]) -> None:
    isso = make_isso(clients=[other_client("openid profile refund.read")])
    granted = isso.client.post("/isso/token", data={"grant_type": "client_credentials", "scope": "refund.read"}, auth=OTHER)
    assert granted.status_code == 200 and introspected_scope(isso, granted.json()["access_token"], OTHER) == {"refund.read"}


def test_a_client_registered_for_an_unsupported_scope_stops_the_start(make_isso: Callable[..., Isso]) -> None:
    with pytest.raises(ValueError, match=r"'other-hrss-app' is registered for unsupported scopes \['refund.delete'\]"):
        make_isso(clients=[other_client("openid refund.delete")])
    # Supported once the ISSO is told of it.
    isso = make_isso(clients=[other_client("openid refund.delete")], api_scopes=["refund.read", "refund.confirm", "refund.delete"])
    assert "refund.delete" in isso.client.get("/isso/.well-known/openid-configuration").json()["scopes_supported"]


@pytest.mark.parametrize("bad", ["refund read", 'refund"read', "refund\\read", ""])
def test_api_scopes_must_be_scope_tokens(bad: str) -> None:
    with pytest.raises(ValidationError, match="not scope tokens"):
        IssoSettings(
            database_url="sqlite://",
            secret_key="x" * 40,
            public_url="http://i",
            gdzwfw_issuer="http://g",
            gdzwfw_client_secret="s",
            api_scopes=[bad],
        )
