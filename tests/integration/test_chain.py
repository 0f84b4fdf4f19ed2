"""The chain end to end over real HTTP: refund_portal → hrss_isso → gdzwfw_idp."""

from __future__ import annotations

import time

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from devtools.demo_client import isso_tokens
from devtools.stack import StackConfig
from tests.chain_helpers import portal_login, portal_logout
from tests.integration.conftest import CACHE_SECONDS
from tests.oidc_helpers import DEMO_RP, Pkce, authorize_params, query_of


def test_an_l2_unit_is_admitted_to_the_refund_portal(stack: StackConfig) -> None:
    with httpx.Client(follow_redirects=True) as browser:
        page = portal_login(browser, stack.url("refund_portal"), "demo_l2")
        assert page.status_code == 200
        assert str(page.url) == f"{stack.url('refund_portal')}/"
        assert "稳岗返还信息确认" in page.text
        assert "广州市越秀区示范贸易有限公司" in page.text and "91440104MA5DL2B24P" in page.text
        assert "四级（原L2）" in page.text


def test_an_l1_unit_is_turned_away_with_guidance_to_upgrade(stack: StackConfig) -> None:
    with httpx.Client(follow_redirects=True) as browser:
        page = portal_login(browser, stack.url("refund_portal"), "demo_l1")
        assert page.status_code == 403
        assert "三级（原L1）" in page.text and "四级（原L2）" in page.text
        assert f'href="{stack.url("gdzwfw_idp")}/account/verification"' in page.text
        assert "91440106MA5DL1A170" not in page.text or "可信等级不足" in page.text


def _id_token_claims(stack: StackConfig, tokens: dict) -> dict:
    jwks = httpx.get(f"{stack.url('hrss_isso')}/isso/jwks.json").json()
    return dict(jwt.decode(tokens["id_token"], KeySet.import_key_set(jwks), algorithms=["RS256"]).claims)


def test_the_isso_passes_the_upstream_level_through_and_never_raises_it(stack: StackConfig) -> None:
    l1 = _id_token_claims(stack, isso_tokens(stack, "demo_l1", acr_values="urn:gdzwfw:loa:L2"))
    assert l1["acr"] == "urn:gdzwfw:loa:L1" and l1["trust_level"] == "L1"
    assert l1["idp"] == "gdzwfw" and l1["uscc"] == "91440106MA5DL1A170" and l1["unit_code"] == "44010600001"
    l3 = _id_token_claims(stack, isso_tokens(stack, "demo_l3"))
    assert l3["acr"] == "urn:gdzwfw:loa:L3"


def test_api_me_admits_an_l2_token_and_challenges_an_l1_token(stack: StackConfig) -> None:
    api = f"{stack.url('refund_portal')}/api/v1/me"
    l2 = isso_tokens(stack, "demo_l2")["access_token"]
    ok = httpx.get(api, headers={"Authorization": f"Bearer {l2}"})
    assert ok.status_code == 200
    assert ok.json()["uscc"] == "91440104MA5DL2B24P" and ok.json()["trust_level"] == "L2"

    l1 = isso_tokens(stack, "demo_l1")["access_token"]
    below = httpx.get(api, headers={"Authorization": f"Bearer {l1}"})
    assert below.status_code == 401
    challenge = below.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="insufficient_user_authentication"' in challenge
    assert 'acr_values="urn:gdzwfw:loa:L2"' in challenge


def test_api_me_refuses_missing_unknown_and_foreign_tokens(stack: StackConfig) -> None:
    api = f"{stack.url('refund_portal')}/api/v1/me"
    missing = httpx.get(api)
    # RFC 6750 §3.1, RFC 9449 §7.1: no credentials, no error code; both schemes offered.
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer, DPoP algs=")
    unknown = httpx.get(api, headers={"Authorization": "Bearer not-a-token"})
    assert unknown.status_code == 401 and 'error="invalid_token"' in unknown.headers["www-authenticate"]
    # A token from gdzwfw_idp is not one hrss_isso issued: wrong issuer, refused.
    foreign = httpx.post(f"{stack.url('gdzwfw_idp')}/token", data={"grant_type": "client_credentials"}, auth=DEMO_RP).json()["access_token"]
    refused = httpx.get(api, headers={"Authorization": f"Bearer {foreign}"})
    assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers["www-authenticate"]


def test_a_revoked_token_is_refused_once_the_cache_bound_has_passed(stack: StackConfig) -> None:
    api = f"{stack.url('refund_portal')}/api/v1/me"
    token = isso_tokens(stack, "demo_l2")["access_token"]
    assert httpx.get(api, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    revoked = httpx.post(f"{stack.url('hrss_isso')}/isso/revoke", data={"token": token}, auth=DEMO_RP)
    assert revoked.status_code == 200
    time.sleep(CACHE_SECONDS + 0.2)
    assert httpx.get(api, headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_logout_at_the_portal_ends_the_isso_session(stack: StackConfig) -> None:
    with httpx.Client(follow_redirects=True) as browser:
        portal_login(browser, stack.url("refund_portal"), "demo_l2")
        assert browser.get(f"{stack.url('hrss_isso')}/isso/").url.path == "/isso/"
        after = portal_logout(browser, stack.url("refund_portal"))
        assert after.status_code == 200 and str(after.url) == f"{stack.url('refund_portal')}/"
        assert "单位登录" in after.text
        assert browser.get(f"{stack.url('hrss_isso')}/isso/").url.path == "/isso/login"


def test_the_isso_answers_login_required_to_prompt_none_without_a_session(stack: StackConfig) -> None:
    response = httpx.get(f"{stack.url('hrss_isso')}/isso/authorize", params=authorize_params(Pkce.new(), prompt="none"))
    assert response.status_code == 302
    assert query_of(response)["error"] == "login_required"
