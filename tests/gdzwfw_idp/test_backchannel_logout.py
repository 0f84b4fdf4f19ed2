"""OIDC Back-Channel Logout 1.0: the provider notifies the clients of a
login when it ends, and a relying party accepts each notice once."""

from __future__ import annotations

import httpx
import pytest
from joserfc import jws

from shared.oauth.backchannel import LogoutTokenInvalid, LogoutTokenValidator
from shared.oauth.client import RelyingParty
from shared.settings import ClientConfig
from tests.gdzwfw_idp.conftest import ISSUER
from tests.oidc_helpers import Pkce, authorize_params, capture_logout_notices, decode_id_token, query_of, run

BC = ("bc-rp", "bc-rp-secret")
REDIRECT = "http://127.0.0.1:8099/cb"
BACKCHANNEL = "http://127.0.0.1:8099/backchannel-logout"


def _idp_with_backchannel_client(make_idp, **registration: object):
    client = ClientConfig(
        client_id=BC[0],
        client_secret=BC[1],
        redirect_uris=[REDIRECT],
        post_logout_redirect_uris=["http://127.0.0.1:8099/"],
        backchannel_logout_uri=BACKCHANNEL,
        **registration,
    )
    idp = make_idp(clients=[client])
    return idp, capture_logout_notices(idp.app.state.provider)


@pytest.fixture
def idp_with_backchannel_client(make_idp):
    return _idp_with_backchannel_client(make_idp)


def _login(idp) -> dict:
    pkce = Pkce.new()
    redirect = idp.login("demo_l2", params=authorize_params(pkce, client_id=BC[0]))
    return idp.redeem(query_of(redirect)["code"], pkce, auth=BC).json()


def _validator(idp, client: tuple[str, str] = BC) -> LogoutTokenValidator:
    rp = RelyingParty(
        name="bc",
        issuer=ISSUER,
        client_id=client[0],
        client_secret=client[1],
        redirect_uri=REDIRECT,
        transport=httpx.ASGITransport(app=idp.app),
    )
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


def test_a_client_registered_for_ps256_gets_ps256_id_and_logout_tokens(make_idp) -> None:
    """Back-Channel Logout §2.4: logout tokens are signed as the client's ID
    tokens are; the relying party accepts PS256 because discovery offers it,
    and the provider takes the PS256 ID token back as a logout hint."""
    idp, notices = _idp_with_backchannel_client(make_idp, id_token_signed_response_alg="PS256")
    tokens = _login(idp)
    assert jws.extract_compact(tokens["id_token"].encode()).protected["alg"] == "PS256"
    idp.client.get("/logout", params={"id_token_hint": tokens["id_token"], "client_id": BC[0]}, follow_redirects=False)
    assert jws.extract_compact(notices[0][1].encode()).protected["alg"] == "PS256"
    assert run(lambda: _validator(idp).validate(notices[0][1]))["sid"]


def test_a_plain_clients_logout_token_stays_rs256(idp_with_backchannel_client) -> None:
    idp, notices = idp_with_backchannel_client
    tokens = _login(idp)
    idp.client.get("/logout", params={"id_token_hint": tokens["id_token"], "client_id": BC[0]}, follow_redirects=False)
    assert jws.extract_compact(notices[0][1].encode()).protected["alg"] == "RS256"


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


# -- Provider.end_sessions_by_sid: ending logins without their browser -----------
BC2 = ("bc-rp2", "bc-rp2-secret")
BACKCHANNEL2 = "http://127.0.0.1:8097/backchannel-logout"


@pytest.fixture
def idp_with_two_backchannel_clients(make_idp):
    idp = make_idp(
        clients=[
            ClientConfig(client_id=BC[0], client_secret=BC[1], redirect_uris=[REDIRECT], backchannel_logout_uri=BACKCHANNEL),
            ClientConfig(client_id=BC2[0], client_secret=BC2[1], redirect_uris=[REDIRECT], backchannel_logout_uri=BACKCHANNEL2),
        ]
    )
    notices = capture_logout_notices(idp.app.state.provider)
    return idp, notices


def _tokens_for(idp, client: tuple[str, str], browser) -> dict:
    """Log in (or reuse the browser's login) for ``client``; its token response."""
    pkce = Pkce.new()
    redirect = idp.login("demo_l2", params=authorize_params(pkce, client_id=client[0]), browser=browser)
    assert redirect.status_code == 302, redirect.text[:300]
    return idp.redeem(query_of(redirect)["code"], pkce, auth=client, client=browser).json()


def _refresh(idp, refresh_token: str) -> httpx.Response:
    return idp.client.post("/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token}, auth=BC)


def _active(idp, token: str, client: tuple[str, str]) -> bool:
    return idp.client.post("/introspect", data={"token": token}, auth=client).json()["active"]


def test_ending_sessions_by_sid_revokes_their_tokens_and_notifies_each_client_once(idp_with_two_backchannel_clients) -> None:
    idp, notices = idp_with_two_backchannel_clients
    browser = idp.new_browser()
    first = _tokens_for(idp, BC, browser)
    # Two tokens for one client under the login (a refresh), and a second
    # client of the same login (single sign-on in the same browser).
    refreshed = _refresh(idp, first["refresh_token"]).json()
    second_client = _tokens_for(idp, BC2, browser)
    elsewhere = _tokens_for(idp, BC, idp.new_browser())
    jwks = idp.client.get("/jwks.json").json()
    sid = decode_id_token(first["id_token"], jwks)["sid"]
    assert decode_id_token(second_client["id_token"], jwks)["sid"] == sid != decode_id_token(elsewhere["id_token"], jwks)["sid"]

    held = [(first["access_token"], BC), (refreshed["access_token"], BC), (second_client["access_token"], BC2)]
    live = [held_token for held_token in held if _active(idp, *held_token)]

    # The count of tokens it revoked: each one still live under that login.
    assert idp.app.state.provider.end_sessions_by_sid([sid]) == len(live) >= 2

    assert sorted(uri for uri, _ in notices) == sorted([BACKCHANNEL, BACKCHANNEL2])
    for uri, token in notices:
        client = BC if uri == BACKCHANNEL else BC2
        claims = run(lambda token=token, client=client: _validator(idp, client).validate(token))
        assert claims["sid"] == sid and claims["aud"] == client[0]
    assert not any(_active(idp, *held_token) for held_token in held)
    assert _refresh(idp, refreshed["refresh_token"]).status_code == 400
    # Another login of the same account is not touched.
    assert _active(idp, elsewhere["access_token"], BC)
    assert _refresh(idp, elsewhere["refresh_token"]).status_code == 200


def test_ending_no_known_session_revokes_and_sends_nothing(idp_with_two_backchannel_clients) -> None:
    idp, notices = idp_with_two_backchannel_clients
    provider = idp.app.state.provider
    assert provider.end_sessions_by_sid([]) == 0
    assert provider.end_sessions_by_sid(["unknown-sid"]) == 0
    assert notices == []


def test_a_logout_token_signed_after_a_key_rotation_is_accepted(idp_with_backchannel_client) -> None:
    """The relying party cached the JWKS before ``manage rotate-keys``; the
    notice signed by the new key makes it fetch the set again."""
    idp, notices = idp_with_backchannel_client
    validator = _validator(idp)
    first = _login(idp)
    idp.client.get("/logout", params={"id_token_hint": first["id_token"], "client_id": BC[0]}, follow_redirects=False)
    run(lambda: validator.validate(notices[0][1]))  # caches the key set of before the rotation

    keys = idp.app.state.provider.config.keys
    with idp.app.state.db.transaction() as s:
        new_kid = keys.rotate(s)
    keys.invalidate()
    second = _login(idp)
    idp.client.get("/logout", params={"id_token_hint": second["id_token"], "client_id": BC[0]}, follow_redirects=False)
    assert jws.extract_compact(notices[1][1].encode()).protected["kid"] == new_kid
    assert run(lambda: validator.validate(notices[1][1]))["sid"]
