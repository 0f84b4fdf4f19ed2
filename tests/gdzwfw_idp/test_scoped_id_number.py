"""A natural person's ID number leaves only in tokens with the id_number scope."""

from __future__ import annotations

from shared.settings import ClientConfig
from tests.gdzwfw_idp.conftest import Idp
from tests.oidc_helpers import DEMO_RP, Pkce, authorize_params, decode_id_token, query_of

ISSO = ("hrss-isso", "isso-secret")


def _id_token(idp: Idp, client: tuple[str, str], scope: str) -> dict:
    pkce = Pkce.new()
    redirect = idp.login("demo_person", params=authorize_params(pkce, client_id=client[0], scope=scope), tab="personal")
    tokens = idp.redeem(query_of(redirect)["code"], pkce, auth=client).json()
    return decode_id_token(tokens["id_token"], idp.client.get("/jwks.json").json())


def test_only_a_client_registered_for_the_scope_receives_the_id_number(make_idp) -> None:
    idp = make_idp(
        clients=[
            ClientConfig(
                client_id=ISSO[0], client_secret=ISSO[1], redirect_uris=["http://127.0.0.1:8099/cb"], scope="openid profile id_number"
            )
        ]
    )
    granted = _id_token(idp, ISSO, "openid profile id_number")
    assert granted["id_number"] == "440106199007150041" and granted["name"] == "陈晓"
    # demo-rp is not registered for the scope: asking for it gets nothing more.
    refused = _id_token(idp, DEMO_RP, "openid profile id_number")
    assert "id_number" not in refused and refused["name"] == "陈晓"
    assert "id_number" in idp.client.get("/.well-known/openid-configuration").json()["scopes_supported"]
