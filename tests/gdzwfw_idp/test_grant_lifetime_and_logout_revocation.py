"""What ends a grant: the refresh token's absolute lifetime and logout."""

from __future__ import annotations

from tests.gdzwfw_idp.conftest import Idp
from tests.gdzwfw_idp.flows import is_active, refresh
from tests.gdzwfw_idp.test_logout import POST_LOGOUT, logged_in_browser


def test_rotation_never_extends_the_refresh_tokens_lifetime(idp: Idp) -> None:
    _, tokens = logged_in_browser(idp)
    ttl = idp.settings.refresh_token_ttl
    idp.clock.advance(ttl - 60)
    rotated = refresh(idp, tokens["refresh_token"])
    assert rotated.status_code == 200
    idp.clock.advance(61)  # past the first token's end, well within a fresh ttl
    expired = refresh(idp, rotated.json()["refresh_token"])
    assert expired.status_code == 400 and expired.json()["error"] == "invalid_grant"


def test_logging_out_revokes_the_tokens_issued_under_that_login(idp: Idp) -> None:
    browser, tokens = logged_in_browser(idp)
    _, others = logged_in_browser(idp, "demo_l3")
    assert is_active(idp, tokens["access_token"])
    response = browser.get(
        "/logout",
        params={"id_token_hint": tokens["id_token"], "client_id": "demo-rp", "post_logout_redirect_uri": POST_LOGOUT},
        follow_redirects=False,
    )
    assert response.status_code == 302
    assert not is_active(idp, tokens["access_token"])
    assert refresh(idp, tokens["refresh_token"]).status_code == 400
    assert is_active(idp, others["access_token"])  # another login is untouched


def test_successful_logins_from_one_address_are_not_throttled(make_idp) -> None:
    idp = make_idp(login_max_per_address=2)
    for _ in range(4):
        browser, tokens = logged_in_browser(idp)
        assert tokens["access_token"]
