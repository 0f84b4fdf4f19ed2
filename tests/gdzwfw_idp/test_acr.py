"""Trust levels at the authorization endpoint (DESIGN.md § Trust levels, OIDC
Core §5.5.1.1): ``acr_values`` is a preference answered with the level really
reached; an essential ``acr`` claim is a requirement. Also ``max_age``,
``prompt=login`` and single sign-on, which decide whether a login is needed."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.chain_helpers import form_value
from tests.gdzwfw_idp.conftest import ISSUER, Idp
from tests.oidc_helpers import DEMO_REDIRECT, Pkce, authorize_params, decode_id_token, essential_acr_claims, query_of

L1, L2, L3 = "urn:gdzwfw:loa:L1", "urn:gdzwfw:loa:L2", "urn:gdzwfw:loa:L3"


def id_claims(idp: Idp, redirect, pkce: Pkce) -> dict:
    assert redirect.status_code == 302, redirect.text[:300]
    tokens = idp.redeem(query_of(redirect)["code"], pkce).json()
    return decode_id_token(tokens["id_token"], idp.client.get("/jwks.json").json())


def redirects_to_client(response) -> bool:
    location = response.headers.get("location", "")
    return response.status_code == 302 and location.startswith(DEMO_REDIRECT + "?")


def is_login_redirect(response) -> bool:
    if response.status_code != 303:
        return False
    parts = urlsplit(response.headers["location"])
    return parts.path == "/login" and parts.query.startswith("interaction=")


# -- acr_values: a preference -------------------------------------------------
def test_acr_values_l2_for_an_l1_account_succeeds_and_says_l1(idp: Idp) -> None:
    pkce = Pkce.new()
    redirect = idp.login("demo_l1", params=authorize_params(pkce, acr_values=L2))
    assert redirects_to_client(redirect)
    claims = id_claims(idp, redirect, pkce)
    assert claims["acr"] == L1 and claims["trust_level"] == "L1"


def test_acr_values_l1_for_an_l3_account_says_l3(idp: Idp) -> None:
    pkce = Pkce.new()
    claims = id_claims(idp, idp.login("demo_l3", params=authorize_params(pkce, acr_values=L1)), pkce)
    assert claims["acr"] == L3 and claims["trust_level"] == "L3"


# -- essential acr: a requirement ---------------------------------------------
def test_essential_l2_for_an_l1_account_shows_the_upgrade_page(idp: Idp) -> None:
    page = idp.login("demo_l1", params=authorize_params(Pkce.new(), claims=essential_acr_claims(L2)))
    assert page.status_code == 403
    assert "location" not in page.headers
    text = page.text
    assert "三级（原L1）" in text  # the level reached
    assert "四级（原L2）" in text  # the level required
    interaction = form_value(text, "interaction")
    # The 实名核验 page is told which request waits, to offer it back.
    assert f'href="http://127.0.0.1:8001/account/verification?interaction={interaction}"' in text
    assert 'action="http://127.0.0.1:8001/authorize/decline"' in text
    assert "广州市天河区示范科技有限公司" in text
    assert "code=" not in text


def test_declining_at_the_upgrade_page_returns_unmet_authentication_requirements(idp: Idp) -> None:
    params = authorize_params(Pkce.new(), claims=essential_acr_claims(L2))
    page = idp.login("demo_l1", params=params)
    assert page.status_code == 403
    declined = idp.client.post(
        "/authorize/decline",
        data={"csrf_token": form_value(page.text, "csrf_token"), "interaction": form_value(page.text, "interaction")},
        follow_redirects=False,
    )
    assert redirects_to_client(declined)
    query = query_of(declined)
    assert query["error"] == "unmet_authentication_requirements"
    assert query["state"] == params["state"]
    assert query["iss"] == ISSUER
    assert "code" not in query


def test_the_upgrade_page_s_request_expires_when_the_request_would_have(idp: Idp) -> None:
    # Taken by its resume and parked again for this page: for what was left
    # of its 15 minutes, not for 15 more (that it is parked again at all,
    # test_declining_at_the_upgrade_page_... shows).
    done = idp.logged_in("demo_l1", params=authorize_params(Pkce.new(), claims=essential_acr_claims(L2)))
    idp.clock.advance(600)
    unmet = idp.client.get(done.headers["location"], follow_redirects=False)
    assert unmet.status_code == 403 and "账号可信等级不足" in unmet.text
    idp.clock.advance(301)
    late = idp.client.post(
        "/authorize/decline",
        data={"csrf_token": form_value(unmet.text, "csrf_token"), "interaction": form_value(unmet.text, "interaction")},
        follow_redirects=False,
    )
    assert late.status_code == 400 and "登录已超时" in late.text


def test_decline_without_csrf_token_is_refused(idp: Idp) -> None:
    page = idp.login("demo_l1", params=authorize_params(Pkce.new(), claims=essential_acr_claims(L2)))
    response = idp.client.post("/authorize/decline", data={"interaction": form_value(page.text, "interaction")}, follow_redirects=False)
    assert response.status_code == 400 and "location" not in response.headers


def test_a_declined_interaction_cannot_be_declined_again(idp: Idp) -> None:
    page = idp.login("demo_l1", params=authorize_params(Pkce.new(), claims=essential_acr_claims(L2)))
    form = {"csrf_token": form_value(page.text, "csrf_token"), "interaction": form_value(page.text, "interaction")}
    assert idp.client.post("/authorize/decline", data=form, follow_redirects=False).status_code == 302
    again = idp.client.post("/authorize/decline", data=form, follow_redirects=False)
    assert again.status_code == 400 and "location" not in again.headers
    assert "重新发起登录" in again.text


def test_switching_account_at_the_upgrade_page_to_an_l3_account_succeeds(idp: Idp) -> None:
    pkce = Pkce.new()
    page = idp.login("demo_l1", params=authorize_params(pkce, claims=essential_acr_claims(L2)))
    assert page.status_code == 403
    interaction = form_value(page.text, "interaction")
    login_page = idp.client.get(f"/login?interaction={interaction}")
    assert login_page.status_code == 200
    done = idp.client.post(
        "/login",
        data={
            "csrf_token": form_value(login_page.text, "csrf_token"),
            "interaction": interaction,
            "tab": "legal",
            "login_name": "demo_l3",
            "password": "Gd@demo2026",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    redirect = idp.client.get(done.headers["location"], follow_redirects=False)
    claims = id_claims(idp, redirect, pkce)
    assert claims["acr"] == L3 and claims["org_name"] == "广州市荔湾区示范制造有限公司"


def test_prompt_none_with_an_l1_session_and_essential_l2_redirects_with_unmet(idp: Idp) -> None:
    assert redirects_to_client(idp.login("demo_l1", params=authorize_params(Pkce.new())))
    params = authorize_params(Pkce.new(), claims=essential_acr_claims(L2), prompt="none")
    response = idp.client.get("/authorize", params=params, follow_redirects=False)
    assert redirects_to_client(response)
    query = query_of(response)
    assert query["error"] == "unmet_authentication_requirements"
    assert query["state"] == params["state"] and query["iss"] == ISSUER


def test_an_existing_l1_session_meeting_an_essential_l2_request_gets_the_upgrade_page(idp: Idp) -> None:
    assert redirects_to_client(idp.login("demo_l1", params=authorize_params(Pkce.new())))
    response = idp.client.get("/authorize", params=authorize_params(Pkce.new(), claims=essential_acr_claims(L2)), follow_redirects=False)
    assert response.status_code == 403 and "四级（原L2）" in response.text


def test_essential_l2_for_an_l3_account_succeeds_with_l3(idp: Idp) -> None:
    pkce = Pkce.new()
    redirect = idp.login("demo_l3", params=authorize_params(pkce, claims=essential_acr_claims(L2)))
    claims = id_claims(idp, redirect, pkce)
    assert claims["acr"] == L3 and claims["trust_level"] == "L3"


def test_essential_l2_for_an_l2_account_succeeds_with_l2(idp: Idp) -> None:
    pkce = Pkce.new()
    claims = id_claims(idp, idp.login("demo_l2", params=authorize_params(pkce, claims=essential_acr_claims(L2))), pkce)
    assert claims["acr"] == L2


def test_essential_with_several_values_requires_the_lowest(idp: Idp) -> None:
    pkce = Pkce.new()
    redirect = idp.login("demo_l2", params=authorize_params(pkce, claims=essential_acr_claims(L3, L2)))
    assert id_claims(idp, redirect, pkce)["acr"] == L2


# -- max_age, prompt=login, SSO -------------------------------------------------
def test_a_second_authorize_with_a_session_issues_a_code_at_once(idp: Idp) -> None:
    assert redirects_to_client(idp.login("demo_l2", params=authorize_params(Pkce.new())))
    idp.clock.advance(60)
    pkce = Pkce.new()
    params = authorize_params(pkce)
    response = idp.client.get("/authorize", params=params, follow_redirects=False)
    assert redirects_to_client(response)
    assert query_of(response)["state"] == params["state"]
    claims = id_claims(idp, response, pkce)
    assert claims["auth_time"] == idp.clock.timestamp() - 60  # the original login
    assert claims["nonce"] == params["nonce"]


def test_another_browser_has_no_session(idp: Idp) -> None:
    assert redirects_to_client(idp.login("demo_l2", params=authorize_params(Pkce.new())))
    response = idp.new_browser().get("/authorize", params=authorize_params(Pkce.new()), follow_redirects=False)
    assert is_login_redirect(response)


def test_max_age_exceeded_sends_the_user_to_log_in_again(idp: Idp) -> None:
    assert redirects_to_client(idp.login("demo_l2", params=authorize_params(Pkce.new())))
    idp.clock.advance(301)
    response = idp.client.get("/authorize", params=authorize_params(Pkce.new(), max_age="300"), follow_redirects=False)
    assert is_login_redirect(response), response.headers.get("location")


def test_max_age_not_exceeded_keeps_the_session(idp: Idp) -> None:
    assert redirects_to_client(idp.login("demo_l2", params=authorize_params(Pkce.new())))
    idp.clock.advance(299)
    response = idp.client.get("/authorize", params=authorize_params(Pkce.new(), max_age="300"), follow_redirects=False)
    assert redirects_to_client(response)


def test_max_age_relogin_completes_with_a_fresh_auth_time(idp: Idp) -> None:
    assert redirects_to_client(idp.login("demo_l2", params=authorize_params(Pkce.new())))
    idp.clock.advance(600)
    pkce = Pkce.new()
    redirect = idp.login("demo_l2", params=authorize_params(pkce, max_age="300"))
    claims = id_claims(idp, redirect, pkce)
    assert claims["auth_time"] == idp.clock.timestamp()


def test_max_age_exceeded_with_prompt_none_answers_login_required(idp: Idp) -> None:
    assert redirects_to_client(idp.login("demo_l2", params=authorize_params(Pkce.new())))
    idp.clock.advance(301)
    response = idp.client.get("/authorize", params=authorize_params(Pkce.new(), max_age="300", prompt="none"), follow_redirects=False)
    assert redirects_to_client(response)
    assert query_of(response)["error"] == "login_required"


def test_prompt_login_with_a_session_shows_the_login_page_again(idp: Idp) -> None:
    assert redirects_to_client(idp.login("demo_l2", params=authorize_params(Pkce.new())))
    response = idp.client.get("/authorize", params=authorize_params(Pkce.new(), prompt="login"), follow_redirects=False)
    assert is_login_redirect(response)


def test_prompt_login_cannot_be_skipped_by_resuming_without_logging_in(idp: Idp) -> None:
    assert redirects_to_client(idp.login("demo_l2", params=authorize_params(Pkce.new())))
    idp.clock.advance(5)
    response = idp.client.get("/authorize", params=authorize_params(Pkce.new(), prompt="login"), follow_redirects=False)
    assert is_login_redirect(response)
    interaction = response.headers["location"].split("interaction=", 1)[1]
    resumed = idp.client.get(f"/authorize/resume?interaction={interaction}", follow_redirects=False)
    assert is_login_redirect(resumed)


def test_prompt_login_after_logging_in_again_issues_a_code(idp: Idp) -> None:
    assert redirects_to_client(idp.login("demo_l2", params=authorize_params(Pkce.new())))
    idp.clock.advance(5)
    pkce = Pkce.new()
    redirect = idp.login("demo_l2", params=authorize_params(pkce, prompt="login"))
    assert id_claims(idp, redirect, pkce)["auth_time"] == idp.clock.timestamp()


def test_max_age_zero_completes_after_logging_in(idp: Idp) -> None:
    pkce = Pkce.new()
    redirect = idp.login("demo_l2", params=authorize_params(pkce, max_age="0"))
    assert id_claims(idp, redirect, pkce)["auth_time"] == idp.clock.timestamp()


def test_max_age_zero_with_a_session_from_this_very_second_still_asks_to_log_in(idp: Idp) -> None:
    assert redirects_to_client(idp.login("demo_l2", params=authorize_params(Pkce.new())))
    response = idp.client.get("/authorize", params=authorize_params(Pkce.new(), max_age="0"), follow_redirects=False)
    assert is_login_redirect(response)
