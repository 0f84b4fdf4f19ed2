"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) at gdzwfw_idp.

A logout link alone must not log anyone out (DESIGN.md, §2 of the spec):
without a valid ``id_token_hint`` the user confirms on a page first.
"""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from tests.chain_helpers import form_value
from tests.gdzwfw_idp.conftest import Idp
from tests.gdzwfw_idp.flows import tokens_for
from tests.oidc_helpers import Pkce, authorize_params, query_of

POST_LOGOUT = "http://127.0.0.1:8099/"


def has_session(browser: TestClient) -> bool:
    """What the RP would learn with prompt=none: is the user still logged in?"""
    response = browser.get("/authorize", params=authorize_params(Pkce.new(), prompt="none"), follow_redirects=False)
    assert response.status_code == 302, response.text[:300]
    query = query_of(response)
    if query.get("error") == "login_required":
        return False
    assert "code" in query, query
    return True


def logged_in_browser(idp: Idp, login_name: str = "demo_l2") -> tuple[TestClient, dict]:
    browser = idp.new_browser()
    tokens = tokens_for(idp, login_name, browser=browser)
    assert has_session(browser)
    return browser, tokens


def is_confirmation_page(response) -> bool:
    return response.status_code == 200 and "确定退出" in response.text and 'name="confirm"' in response.text


# -- without id_token_hint: confirm first ------------------------------------------
def test_logout_without_id_token_hint_asks_for_confirmation_and_keeps_the_session(idp: Idp) -> None:
    browser, _ = logged_in_browser(idp)
    page = browser.get("/logout", follow_redirects=False)
    assert is_confirmation_page(page)
    assert 'action="http://127.0.0.1:8001/logout"' in page.text
    assert has_session(browser)


def test_confirming_logs_out(idp: Idp) -> None:
    browser, _ = logged_in_browser(idp)
    page = browser.get("/logout")
    done = browser.post("/logout", data={"csrf_token": form_value(page.text, "csrf_token"), "confirm": "yes"}, follow_redirects=False)
    assert done.status_code == 200
    assert "您已安全退出" in done.text
    assert not has_session(browser)
    # The account pages now send the user to log in.
    account = browser.get("/account", follow_redirects=False)
    assert account.status_code == 303 and account.headers["location"] == "/login"


def test_the_confirmation_form_without_csrf_token_does_not_log_out(idp: Idp) -> None:
    browser, _ = logged_in_browser(idp)
    browser.get("/logout")
    response = browser.post("/logout", data={"confirm": "yes"}, follow_redirects=False)
    assert response.status_code == 400
    assert has_session(browser)


def test_posting_the_form_without_confirm_does_not_log_out(idp: Idp) -> None:
    browser, _ = logged_in_browser(idp)
    page = browser.get("/logout")
    response = browser.post("/logout", data={"csrf_token": form_value(page.text, "csrf_token")}, follow_redirects=False)
    assert is_confirmation_page(response)
    assert has_session(browser)


def test_a_forged_id_token_hint_is_not_trusted(idp: Idp) -> None:
    browser, tokens = logged_in_browser(idp)
    header, payload, _ = tokens["id_token"].split(".")
    forged = f"{header}.{payload}.AAAA"
    response = browser.get(
        "/logout", params={"id_token_hint": forged, "client_id": "demo-rp", "post_logout_redirect_uri": POST_LOGOUT}, follow_redirects=False
    )
    assert is_confirmation_page(response)
    assert has_session(browser)


def test_post_logout_redirect_without_id_token_hint_happens_only_after_confirmation(idp: Idp) -> None:
    browser, _ = logged_in_browser(idp)
    params = {"client_id": "demo-rp", "post_logout_redirect_uri": POST_LOGOUT, "state": "bye-1"}
    page = browser.get("/logout", params=params, follow_redirects=False)
    assert is_confirmation_page(page)
    assert "演示应用（demo-rp）" in page.text
    assert has_session(browser)
    done = browser.post(
        "/logout",
        data={**params, "csrf_token": form_value(page.text, "csrf_token"), "confirm": "yes"},
        follow_redirects=False,
    )
    assert not has_session(browser)
    # Without an ID token the redirect target cannot be tied to the client: no redirect.
    assert done.status_code == 200 and "location" not in done.headers


# -- with id_token_hint ---------------------------------------------------------------
def test_logout_with_id_token_hint_redirects_to_the_registered_uri_with_state(idp: Idp) -> None:
    browser, tokens = logged_in_browser(idp)
    response = browser.get(
        "/logout",
        params={"id_token_hint": tokens["id_token"], "client_id": "demo-rp", "post_logout_redirect_uri": POST_LOGOUT, "state": "bye-2"},
        follow_redirects=False,
    )
    assert response.status_code == 302
    assert response.headers["location"] == f"{POST_LOGOUT}?state=bye-2"
    assert not has_session(browser)


def test_logout_with_id_token_hint_alone_resolves_the_client_from_aud(idp: Idp) -> None:
    """client_id is OPTIONAL when id_token_hint is given (RP-Initiated Logout §2)."""
    browser, tokens = logged_in_browser(idp)
    response = browser.get(
        "/logout",
        params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": POST_LOGOUT, "state": "bye-3"},
        follow_redirects=False,
    )
    assert not has_session(browser)
    assert response.status_code == 302 and response.headers["location"] == f"{POST_LOGOUT}?state=bye-3"


def test_an_unregistered_post_logout_redirect_uri_is_not_followed(idp: Idp) -> None:
    browser, tokens = logged_in_browser(idp)
    response = browser.get(
        "/logout",
        params={
            "id_token_hint": tokens["id_token"],
            "client_id": "demo-rp",
            "post_logout_redirect_uri": "https://evil.example/",
            "state": "x",
        },
        follow_redirects=False,
    )
    assert "location" not in response.headers
    assert "evil.example" not in response.text
    assert response.status_code == 200


def test_an_expired_id_token_hint_still_identifies_the_client(idp: Idp) -> None:
    """The hint only says who is asking; an ID token past its exp still does that."""
    browser, tokens = logged_in_browser(idp)
    idp.clock.advance(idp.settings.id_token_ttl + 60)  # still within the key's publish grace
    response = browser.get(
        "/logout",
        params={"id_token_hint": tokens["id_token"], "client_id": "demo-rp", "post_logout_redirect_uri": POST_LOGOUT},
        follow_redirects=False,
    )
    assert response.status_code == 302 and response.headers["location"] == POST_LOGOUT
    assert not has_session(browser)


def test_logout_ends_only_this_browsers_session(idp: Idp) -> None:
    browser, tokens = logged_in_browser(idp)
    other_browser, _ = logged_in_browser(idp)
    browser.get("/logout", params={"id_token_hint": tokens["id_token"], "client_id": "demo-rp"}, follow_redirects=False)
    assert not has_session(browser)
    assert has_session(other_browser)


def test_an_id_token_hint_for_another_user_needs_confirmation(idp: Idp) -> None:
    """§2: the OP MUST ask the user when the ID token does not belong to the
    logged-in user, so someone else's ID token in a link cannot log a victim out."""
    _, attackers = logged_in_browser(idp, "demo_l2")
    victim, _ = logged_in_browser(idp, "demo_l3")
    response = victim.get(
        "/logout",
        params={"id_token_hint": attackers["id_token"], "client_id": "demo-rp", "post_logout_redirect_uri": POST_LOGOUT},
        follow_redirects=False,
    )
    assert is_confirmation_page(response)
    assert has_session(victim)


def test_an_id_token_hint_is_judged_by_the_providers_clock(idp: Idp) -> None:
    """The provider's injected clock issued the ID token; the same clock must judge it."""
    # Put the provider's clock a day ahead of the host's, whatever the date.
    idp.clock.advance((dt.datetime.now(dt.UTC) - idp.clock.now()).total_seconds() + 86400)
    browser, tokens = logged_in_browser(idp)
    response = browser.get(
        "/logout",
        params={"id_token_hint": tokens["id_token"], "client_id": "demo-rp", "post_logout_redirect_uri": POST_LOGOUT},
        follow_redirects=False,
    )
    assert response.status_code == 302 and response.headers["location"] == POST_LOGOUT
