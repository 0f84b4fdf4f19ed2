"""OIDC Back-Channel Logout 1.0: the provider notifies the clients of a
login when it ends, and a relying party accepts each notice once."""

from __future__ import annotations

import asyncio
import concurrent.futures

import httpx
import pytest

from shared.oauth.backchannel import LogoutTokenInvalid, LogoutTokenValidator
from shared.oauth.client import RelyingParty
from shared.settings import ClientConfig
from tests.gdzwfw_idp.conftest import ISSUER
from tests.oidc_helpers import Pkce, authorize_params, query_of

BC = ("bc-rp", "bc-rp-secret")
REDIRECT = "http://127.0.0.1:8099/cb"
BACKCHANNEL = "http://127.0.0.1:8099/backchannel-logout"


@pytest.fixture
def idp_with_backchannel_client(make_idp):
    idp = make_idp(
        clients=[
            ClientConfig(
                client_id=BC[0],
                client_secret=BC[1],
                redirect_uris=[REDIRECT],
                post_logout_redirect_uris=["http://127.0.0.1:8099/"],
                backchannel_logout_uri=BACKCHANNEL,
            )
        ]
    )
    notices: list[tuple[str, str]] = []
    idp.app.state.provider.config.notify_logout = notices.extend
    return idp, notices


def run(coroutine_factory):
    """Run a coroutine to completion on a fresh loop in another thread (the
    browser tests' Playwright keeps an event loop on the main thread)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(coroutine_factory())).result()


def _login(idp) -> dict:
    pkce = Pkce.new()
    redirect = idp.login("demo_l2", params=authorize_params(pkce, client_id=BC[0]))
    return idp.redeem(query_of(redirect)["code"], pkce, auth=BC).json()


def _validator(idp) -> LogoutTokenValidator:
    rp = RelyingParty(name="bc", issuer=ISSUER, client_id=BC[0], client_secret=BC[1], redirect_uri=REDIRECT, transport=httpx.ASGITransport(app=idp.app))
    return LogoutTokenValidator(rp=rp, kv=idp.app.state.kv, clock=idp.clock)


def test_logout_sends_a_logout_token_that_the_client_accepts_once(idp_with_backchannel_client) -> None:
    idp, notices = idp_with_backchannel_client
    tokens = _login(idp)
    idp.client.get("/logout", params={"id_token_hint": tokens["id_token"], "client_id": BC[0]}, follow_redirects=False)
    assert [uri for uri, _ in notices] == [BACKCHANNEL]
    validator = _validator(idp)
    claims = run(lambda: validator.validate(notices[0][1]))
    assert claims["aud"] == BC[0] and claims["iss"] == ISSUER and claims["sid"] and claims["sub"]
    assert "nonce" not in claims
    with pytest.raises(LogoutTokenInvalid, match="replayed"):
        run(lambda: validator.validate(notices[0][1]))


def test_a_tampered_or_foreign_logout_token_is_refused(idp_with_backchannel_client) -> None:
    idp, notices = idp_with_backchannel_client
    tokens = _login(idp)
    idp.client.get("/logout", params={"id_token_hint": tokens["id_token"], "client_id": BC[0]}, follow_redirects=False)
    header, payload, signature = notices[0][1].split(".")
    with pytest.raises(LogoutTokenInvalid):
        run(lambda: _validator(idp).validate(f"{header}.{payload}.{signature[:-4]}AAAA"))
    # An ID token is signed by the same key but is not a logout token.
    with pytest.raises(LogoutTokenInvalid):
        run(lambda: _validator(idp).validate(tokens["id_token"]))


def test_discovery_advertises_back_channel_logout(idp_with_backchannel_client) -> None:
    idp, _ = idp_with_backchannel_client
    meta = idp.client.get("/.well-known/openid-configuration").json()
    assert meta["backchannel_logout_supported"] is True and meta["backchannel_logout_session_supported"] is True
