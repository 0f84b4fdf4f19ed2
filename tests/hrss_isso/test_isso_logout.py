"""Single logout at the ISSO (issue 5), in-process with gdzwfw_idp faked at
the transport: RP-initiated logout of a provincial login goes on to
gdzwfw_idp's and then back to the ISSO's client; a back-channel notice from
gdzwfw_idp ends the ISSO sessions made from that login."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet

from shared.oauth.provider.provider import BACKCHANNEL_LOGOUT_EVENT
from shared.settings import ClientConfig
from tests.hrss_isso.conftest import GDZWFW, ISSUER, Isso, csrf_of
from tests.hrss_isso.flows import handler_tokens
from tests.oidc_helpers import DEMO_RP, Pkce, authorize_params, capture_logout_notices, query_of

UPSTREAM_SID = "gd-sid-1"
L2_UNIT = {
    "sub": "gd-legal-l2",
    "account_type": "legal_person",
    "uscc": "91440104MA5DL2B24P",
    "org_name": "广州市越秀区示范贸易有限公司",
    "acr": "urn:gdzwfw:loa:L2",
    "amr": ["pwd"],
    "sid": UPSTREAM_SID,
}
APP = ("bc-app", "bc-app-secret")
APP_BACKCHANNEL = "http://127.0.0.1:8097/backchannel-logout"
AFTER = "http://127.0.0.1:8099/"


def _provincial_tokens(isso: Isso, browser: TestClient, client: tuple[str, str] = DEMO_RP) -> dict:
    """The client → /isso/authorize → 省统一身份认证 (faked) → code → tokens."""
    pkce = Pkce.new()
    first = browser.get("/isso/authorize", params=authorize_params(pkce, client_id=client[0]), follow_redirects=False)
    interaction = query_of(first)["interaction"]
    start = browser.get("/isso/federation/gdzwfw/start", params={"kind": "unit", "interaction": interaction}, follow_redirects=False)
    callback = isso.fake_gdzwfw.login(browser, start, **L2_UNIT)
    assert callback.status_code == 303, callback.text[:300]
    done = browser.get(callback.headers["location"], follow_redirects=False)
    assert done.status_code == 302, done.text[:300]
    data = {
        "grant_type": "authorization_code",
        "code": query_of(done)["code"],
        "redirect_uri": "http://127.0.0.1:8099/cb",
        "code_verifier": pkce.verifier,
    }
    token = browser.post("/isso/token", data=data, auth=client)
    assert token.status_code == 200, token.text
    return token.json()


def _logged_in(browser: TestClient) -> bool:
    return browser.get("/isso/", follow_redirects=False).status_code == 200


def _active(isso: Isso, token: str, client: tuple[str, str] = DEMO_RP) -> bool:
    return isso.client.post("/isso/introspect", data={"token": token}, auth=client).json()["active"]


def _upstream_request(response) -> dict[str, str]:
    assert response.status_code == 303, response.text[:300]
    location = response.headers["location"]
    assert location.startswith(f"{GDZWFW}/logout?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_logout_of_a_provincial_login_continues_at_gdzwfw_then_returns_to_the_client(isso: Isso) -> None:
    browser = isso.new_browser()
    tokens = _provincial_tokens(isso, browser)
    out = browser.get(
        "/isso/logout",
        params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": AFTER, "state": "rp-state"},
        follow_redirects=False,
    )

    upstream = _upstream_request(out)
    # RP-initiated logout at gdzwfw_idp with the ID token it issued to the ISSO.
    assert jwt.decode(upstream["id_token_hint"], isso.fake_gdzwfw.key).claims["sid"] == UPSTREAM_SID
    assert upstream["post_logout_redirect_uri"] == f"{ISSUER}/logged-out" and upstream["client_id"] == "hrss-isso" and upstream["state"]
    # The ISSO's own login ended before the browser left.
    assert not _logged_in(browser) and not _active(isso, tokens["access_token"])

    back = browser.get("/isso/logged-out", params={"state": upstream["state"]}, follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == f"{AFTER}?state=rp-state"
    # The destination is taken once.
    again = browser.get("/isso/logged-out", params={"state": upstream["state"]}, follow_redirects=False)
    assert again.status_code == 200 and "您已安全退出" in again.text


def test_confirmed_logout_without_a_hint_continues_at_gdzwfw_and_ends_on_the_isso_page(isso: Isso) -> None:
    browser = isso.new_browser()
    _provincial_tokens(isso, browser)
    page = browser.get("/isso/logout")
    assert page.status_code == 200 and 'name="confirm"' in page.text and _logged_in(browser)
    done = browser.post("/isso/logout", data={"csrf_token": csrf_of(page.text), "confirm": "yes"}, follow_redirects=False)
    upstream = _upstream_request(done)
    assert not _logged_in(browser)
    back = browser.get("/isso/logged-out", params={"state": upstream["state"]}, follow_redirects=False)
    assert back.status_code == 200 and "您已安全退出" in back.text


def test_a_forged_state_on_the_return_from_gdzwfw_goes_nowhere(isso: Isso) -> None:
    browser = isso.new_browser()
    tokens = _provincial_tokens(isso, browser)
    out = browser.get(
        "/isso/logout", params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": AFTER}, follow_redirects=False
    )
    _upstream_request(out)
    forged = browser.get("/isso/logged-out", params={"state": "made-up"}, follow_redirects=False)
    assert forged.status_code == 200 and "您已安全退出" in forged.text


def test_logout_of_an_isso_account_login_does_not_go_upstream(isso: Isso) -> None:
    browser = isso.new_browser()
    tokens = handler_tokens(isso, "chenxiao", "44010400002", browser=browser)
    out = browser.get(
        "/isso/logout", params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": AFTER}, follow_redirects=False
    )
    assert out.status_code == 302 and out.headers["location"] == AFTER
    assert not _logged_in(browser)


# -- back-channel logout from gdzwfw_idp -------------------------------------------
@pytest.fixture
def isso_with_backchannel_app(make_isso) -> tuple[Isso, list[tuple[str, str]]]:
    app_client = ClientConfig(
        client_id=APP[0], client_secret=APP[1], redirect_uris=["http://127.0.0.1:8099/cb"], backchannel_logout_uri=APP_BACKCHANNEL
    )
    isso = make_isso(clients=[app_client])
    notices = capture_logout_notices(isso.app.state.provider)
    return isso, notices


def _logout_token(isso: Isso, *, sid: str, jti: str = "jti-1") -> str:
    now = isso.clock.timestamp()
    claims = {
        "iss": GDZWFW,
        "aud": "hrss-isso",
        "iat": now,
        "exp": now + 120,
        "jti": jti,
        "sid": sid,
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
    }
    return jwt.encode({"alg": "RS256", "kid": "gd-1", "typ": "logout+jwt"}, claims, isso.fake_gdzwfw.key)


def test_a_back_channel_notice_from_gdzwfw_ends_the_isso_logins_made_from_it(isso_with_backchannel_app) -> None:
    isso, notices = isso_with_backchannel_app
    browser = isso.new_browser()
    tokens = _provincial_tokens(isso, browser, APP)
    other_login = isso.new_browser()
    other_tokens = handler_tokens(isso, "chenxiao", "44010400002", browser=other_login)

    answer = isso.client.post("/isso/backchannel-logout", data={"logout_token": _logout_token(isso, sid=UPSTREAM_SID)})

    assert answer.status_code == 200
    assert not _logged_in(browser) and not _active(isso, tokens["access_token"], APP)
    # The ISSO's client of that login is told, once, naming the ISSO's session.
    assert [uri for uri, _ in notices] == [APP_BACKCHANNEL]
    keys = KeySet.import_key_set(isso.client.get("/isso/jwks.json").json())
    notice = jwt.decode(notices[0][1], keys).claims
    assert notice["aud"] == APP[0] and notice["sid"] == jwt.decode(tokens["id_token"], keys).claims["sid"]
    # Logins not made from that provincial session stay.
    assert _logged_in(other_login) and _active(isso, other_tokens["access_token"])
