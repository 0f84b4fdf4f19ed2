"""Levels across the hop (issue 5): a provincial unit below what a client
requires is sent back to gdzwfw_idp with that requirement (where 实名核验 is
offered) and its request continues when the level comes back; 登录初始化
creates nothing from a provincial login below L2. The province is faked at
the transport (tests/hrss_isso/conftest.FakeGdzwfw)."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import httpx

from services.hrss_isso.models import FederatedLogin, ProvincialLink, Unit, UnitBinding
from tests.hrss_isso.conftest import GDZWFW, Isso, csrf_of
from tests.oidc_helpers import DEMO_RP, Pkce, authorize_params, essential_acr_claims, query_of

L1, L2 = "urn:gdzwfw:loa:L1", "urn:gdzwfw:loa:L2"
LINKED = {
    "sub": "gd-legal-l2",
    "account_type": "legal_person",
    "uscc": "91440104MA5DL2B24P",
    "org_name": "广州市越秀区示范贸易有限公司",
    "amr": ["pwd"],
}
NEW_UNIT = {
    "sub": "gd-legal-new",
    "account_type": "legal_person",
    "uscc": "91440106MA5DLUN43N",
    "org_name": "广州市天河区示范新创有限公司",
    "amr": ["pwd"],
}
ESSENTIAL_L2 = {"id_token": {"acr": {"essential": True, "values": [L2, "urn:gdzwfw:loa:L3"]}}}


def _upstream_query(response: httpx.Response) -> dict[str, str]:
    assert response.status_code in (302, 303) and response.headers["location"].startswith(f"{GDZWFW}/authorize?"), response.text[:300]
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def _federated_session(isso: Isso, claims: dict) -> httpx.Client:
    browser = isso.new_browser()
    answer = isso.fake_gdzwfw.login(browser, browser.get("/isso/federation/gdzwfw/start?kind=unit", follow_redirects=False), **claims)
    assert answer.status_code == 303, answer.text[:300]
    return browser


def _id_claims(isso: Isso, redirect: httpx.Response, pkce: Pkce) -> dict:
    token = isso.client.post(
        "/isso/token",
        data={
            "grant_type": "authorization_code",
            "code": query_of(redirect)["code"],
            "redirect_uri": "http://127.0.0.1:8099/cb",
            "code_verifier": pkce.verifier,
        },
        auth=DEMO_RP,
    )
    assert token.status_code == 200, token.text
    return isso.client.post("/isso/introspect", data={"token": token.json()["access_token"]}, auth=DEMO_RP).json()


def test_a_provincial_unit_below_the_requirement_is_sent_upstream_and_its_request_continues(isso: Isso) -> None:
    browser = _federated_session(isso, {**LINKED, "acr": L1})
    pkce = Pkce.new()
    asked = browser.get("/isso/authorize", params=authorize_params(pkce, claims=essential_acr_claims(L2)), follow_redirects=False)
    # No "level too low" page here: the level lives at gdzwfw_idp.
    assert asked.status_code == 303 and "/isso/federation/gdzwfw/start?interaction=" in asked.headers["location"]
    upstream = browser.get(asked.headers["location"], follow_redirects=False)
    # The client's requirement travels upstream as it was asked.
    assert json.loads(_upstream_query(upstream)["claims"]) == json.loads(essential_acr_claims(L2))
    back = isso.fake_gdzwfw.login(browser, upstream, **{**LINKED, "acr": L2})
    redirect = browser.get(back.headers["location"], follow_redirects=False)
    assert redirect.status_code == 302 and redirect.headers["location"].startswith("http://127.0.0.1:8099/cb?")
    claims = _id_claims(isso, redirect, pkce)
    assert claims["acr"] == L2 and claims["org_name"] == LINKED["org_name"]


def test_a_level_still_too_low_after_the_round_trip_is_explained_not_sent_up_again(isso: Isso) -> None:
    browser = _federated_session(isso, {**LINKED, "acr": L1})
    asked = browser.get("/isso/authorize", params=authorize_params(Pkce.new(), claims=essential_acr_claims(L2)), follow_redirects=False)
    upstream = browser.get(asked.headers["location"], follow_redirects=False)
    # A province that answers lower than it was required to (it should have refused).
    back = isso.fake_gdzwfw.login(browser, upstream, **{**LINKED, "acr": L1})
    page = browser.get(back.headers["location"], follow_redirects=False)
    assert page.status_code == 403 and "账号可信等级不足" in page.text and "code=" not in page.text


def test_an_unlinked_legal_person_below_l2_creates_nothing_and_is_offered_the_upgrade(isso: Isso) -> None:
    before = (isso.count(Unit), isso.count(ProvincialLink), isso.count(UnitBinding), isso.count(FederatedLogin))
    browser = isso.new_browser()
    params = authorize_params(Pkce.new())
    first = browser.get("/isso/authorize", params=params, follow_redirects=False)
    interaction = query_of(first)["interaction"]
    start = browser.get(f"/isso/federation/gdzwfw/start?kind=unit&interaction={interaction}", follow_redirects=False)
    page = isso.fake_gdzwfw.login(browser, start, **{**NEW_UNIT, "acr": L1})
    assert page.status_code == 403
    for text in ("登录初始化", "广州市天河区示范新创有限公司", "四级（原L2）", "三级（原L1）", "去实名核验升级"):
        assert text in page.text, text
    assert (isso.count(Unit), isso.count(ProvincialLink), isso.count(UnitBinding), isso.count(FederatedLogin)) == before
    assert browser.get("/isso/init", follow_redirects=False).status_code in (302, 303)  # no claims kept for 初始化
    # 去实名核验升级: back upstream with L2 required, for the same waiting request.
    upgrade = re.search(r'id="upgrade" href="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    assert f"interaction={interaction}" in upgrade
    upstream = browser.get(upgrade, follow_redirects=False)
    assert json.loads(_upstream_query(upstream)["claims"]) == ESSENTIAL_L2
    # Or decline: the client hears unmet_authentication_requirements.
    declined = browser.post(
        "/isso/authorize/decline", data={"csrf_token": csrf_of(page.text), "interaction": interaction}, follow_redirects=False
    )
    query = query_of(declined)
    assert query["error"] == "unmet_authentication_requirements" and query["state"] == params["state"]


def test_at_l2_the_same_legal_person_goes_on_to_initialisation(isso: Isso) -> None:
    browser = isso.new_browser()
    start = browser.get("/isso/federation/gdzwfw/start?kind=unit&require=L2", follow_redirects=False)
    assert json.loads(_upstream_query(start)["claims"]) == ESSENTIAL_L2
    answer = isso.fake_gdzwfw.login(browser, start, **{**NEW_UNIT, "acr": L2})
    assert answer.status_code == 303 and answer.headers["location"].endswith("/isso/init")
