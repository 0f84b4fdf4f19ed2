"""RelyingParty.logout_url (shared/oauth/client.py): the provider's
RP-initiated logout request, built from its discovery document (respx
stands in for the provider)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx

from shared.oauth.client import RelyingParty
from tests.oidc_helpers import run

ISSUER = "https://idp.example"
DISCOVERY = f"{ISSUER}/.well-known/openid-configuration"


@pytest.fixture
def provider() -> Iterator[respx.Route]:
    with respx.mock(assert_all_called=False) as router:
        yield router.get(DISCOVERY).respond(
            json={
                "issuer": ISSUER,
                "authorization_endpoint": f"{ISSUER}/authorize",
                "token_endpoint": f"{ISSUER}/token",
                "end_session_endpoint": f"{ISSUER}/logout",
                "jwks_uri": f"{ISSUER}/jwks.json",
            }
        )


def _rp() -> RelyingParty:
    return RelyingParty(name="app", issuer=ISSUER, client_id="app", client_secret="app-secret", redirect_uri="https://app.example/cb")


def _query(url: str) -> dict[str, list[str]]:
    assert url.startswith(f"{ISSUER}/logout?"), url
    return parse_qs(urlsplit(url).query)


def test_logout_url_carries_state_when_given(provider) -> None:
    url = run(lambda: _rp().logout_url(id_token_hint="id.token.hint", post_logout_redirect_uri="https://app.example/bye", state="s/1&x=y"))
    assert _query(url) == {
        "post_logout_redirect_uri": ["https://app.example/bye"],
        "client_id": ["app"],
        "id_token_hint": ["id.token.hint"],
        "state": ["s/1&x=y"],  # encoded as one value, not spliced into the query
    }


def test_logout_url_without_state_or_hint_leaves_them_out(provider) -> None:
    url = run(lambda: _rp().logout_url(id_token_hint=None, post_logout_redirect_uri="https://app.example/bye"))
    assert _query(url) == {"post_logout_redirect_uri": ["https://app.example/bye"], "client_id": ["app"]}


def test_logout_url_is_none_when_the_provider_cannot_be_asked(provider) -> None:
    provider.side_effect = httpx.ConnectError("refused")
    assert run(lambda: _rp().logout_url(id_token_hint="h", post_logout_redirect_uri="https://app.example/bye", state="s")) is None
