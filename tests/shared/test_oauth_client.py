"""The relying party's reading of a provider's discovery document."""

from __future__ import annotations

import httpx
import pytest

from shared.oauth.client import LoginFailed, RelyingParty
from tests.shared.test_oauth_client_logout import run

ISSUER = "https://provider.example"
METADATA = {
    "issuer": ISSUER,
    "authorization_endpoint": f"{ISSUER}/authorize",
    "token_endpoint": f"{ISSUER}/token",
    "jwks_uri": f"{ISSUER}/jwks.json",
}


def test_an_answer_that_is_no_discovery_document_is_not_kept() -> None:
    """A provider in maintenance may answer 200 with some other JSON: each
    such answer fails the login as unreachable, and the next login asks
    again, so the provider's recovery is noticed without a restart."""
    answers = [
        httpx.Response(200, json={"code": 503, "message": "系统维护中"}),
        httpx.Response(200, json=["系统维护中"]),
        httpx.Response(200, json=METADATA),
    ]
    asked = []

    def discovery(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return answers[len(asked) - 1]

    rp = RelyingParty(
        name="p",
        issuer=ISSUER,
        client_id="c",
        client_secret="s",
        redirect_uri="http://rp.example/cb",
        transport=httpx.MockTransport(discovery),
    )
    for _ in range(2):
        with pytest.raises(LoginFailed) as failed:
            run(rp.metadata)
        assert failed.value.kind == "unreachable"
    assert run(rp.metadata)["token_endpoint"] == f"{ISSUER}/token"
    assert run(rp.metadata)["issuer"] == ISSUER  # kept once good: no fourth request
    assert asked == ["/.well-known/openid-configuration"] * 3
