"""Levels across the hop: once a provincial legal person reaches L2, a fresh
login through the chain admits the unit — the level comes from gdzwfw_idp,
is passed through by the ISSO and checked by the portal, never assumed."""

from __future__ import annotations

import re
import time

import httpx

from devtools.demo_client import isso_tokens
from devtools.stack import StackConfig
from services.gdzwfw_idp.accounts import find_by_login_name, record_level_change
from shared.db import Database
from shared.trust import TrustLevel
from tests.chain_helpers import login_at_gdzwfw, portal_login


def _set_level(stack: StackConfig, login_name: str, level: TrustLevel) -> None:
    db = Database(stack.database_urls["gdzwfw_idp"])
    try:
        with db.transaction() as s:
            account = find_by_login_name(s, login_name=login_name)
            record_level_change(
                s,
                account=account,
                to_level=level,
                method="企业/单位网银证书核验",
                evidence="integration test",
                actor="test",
                at=account.created_at,
            )
    finally:
        db.dispose()


def test_single_sign_on_at_gdzwfw_enters_the_isso_again_without_a_second_password(stack: StackConfig) -> None:
    """An ISSO login that finds a live gdzwfw session resumes (the upstream
    auth_time may be older than the ISSO's parked request)."""
    with httpx.Client(follow_redirects=True) as browser:
        portal_login(browser, stack.url("refund_portal"), "demo_l2")
        browser.cookies.delete("isso_sid")
        browser.cookies.delete("refund_sid")
        time.sleep(1.1)  # the ISSO's new request is parked after gdzwfw's authentication
        isso_login = browser.get(f"{stack.url('refund_portal')}/login")
        start = re.search(r'id="gdzwfw-login" href="([^"]+)"', isso_login.text).group(1)
        page = browser.get(str(isso_login.url.join(start)))
        assert str(page.url) == f"{stack.url('refund_portal')}/", page.url
        assert "91440104MA5DL2B24P" in page.text


def test_a_unit_raised_to_l2_at_gdzwfw_is_admitted_after_logging_in_again(stack: StackConfig) -> None:
    try:
        _raise_and_log_in_again(stack)
    finally:
        _set_level(stack, "demo_l1", TrustLevel.L1)  # the shared stack's demo_l1 stays L1 for other tests


def _raise_and_log_in_again(stack: StackConfig) -> None:
    with httpx.Client(follow_redirects=True) as browser:
        refused = portal_login(browser, stack.url("refund_portal"), "demo_l1")
        assert refused.status_code == 403 and "三级（原L1）" in refused.text

        # The verification itself is gdzwfw_idp's business (issue 3 tests it);
        # here the account's level rises through the same audited call.
        _set_level(stack, "demo_l1", TrustLevel.L2)

        # 「升级后重新登录」: prompt=login at the ISSO, forwarded upstream, so
        # the person authenticates again at gdzwfw (no silent single sign-on).
        isso_login = browser.get(f"{stack.url('refund_portal')}/login?fresh=1")
        assert isso_login.url.path == "/isso/login", isso_login.url
        start = re.search(r'id="gdzwfw-login" href="([^"]+)"', isso_login.text).group(1)
        gdzwfw_login = browser.get(str(isso_login.url.join(start)))
        assert gdzwfw_login.url.path == "/login" and "法人登录" in gdzwfw_login.text
        admitted = login_at_gdzwfw(browser, gdzwfw_login, "demo_l1")
        assert admitted.status_code == 200, admitted.text[:300]
        assert str(admitted.url) == f"{stack.url('refund_portal')}/"
        assert "四级（原L2）" in admitted.text and "91440106MA5DL1A170" in admitted.text


def test_the_apis_step_up_challenge_leads_through_both_hops_to_the_upgrade_and_back(stack: StackConfig) -> None:
    try:
        _challenge_to_upgrade_and_back(stack)
    finally:
        _set_level(stack, "demo_l1", TrustLevel.L1)


def _challenge_to_upgrade_and_back(stack: StackConfig) -> None:
    portal = stack.url("refund_portal")
    # The API refuses an L1 token with the RFC 9470 challenge.
    token = isso_tokens(stack, "demo_l1")["access_token"]
    answer = httpx.get(f"{portal}/api/v1/refunds/me", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    challenge = answer.headers["www-authenticate"]
    with httpx.Client(follow_redirects=True) as browser:
        assert portal_login(browser, portal, "demo_l1").status_code == 403  # signed in at L1 all along the chain
        # The challenge becomes a new authorization request requiring its
        # acr_values; the ISSO sends it upstream; gdzwfw_idp offers 实名核验.
        unmet = browser.get(f"{portal}/login/step-up", params={"challenge": challenge, "next": "/"})
        assert unmet.status_code == 403 and str(unmet.url).startswith(f"{stack.url('gdzwfw_idp')}/authorize"), unmet.url
        assert "账号可信等级不足" in unmet.text and "“广东人社统一认证”要求账号可信等级达到" in unmet.text
        hops = [str(r.url) for r in unmet.history]
        # Both hops push their requests (PAR): the level requirement travels
        # over the back channel, the browser carries only a request_uri.
        assert any("/isso/authorize?" in h and "request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A" in h for h in hops), hops
        assert str(unmet.url).startswith(f"{stack.url('gdzwfw_idp')}/authorize?client_id=") and "request_uri=" in str(unmet.url)
        assert not any("/authorize?" in h and "acr_values=" in h for h in [*hops, str(unmet.url)]), hops
        assert any("/isso/federation/gdzwfw/start?interaction=" in h for h in hops), hops
        upgrade = re.search(r'href="([^"]*/account/verification\?interaction=[^"]+)"', unmet.text).group(1)

        # The unit verifies (issue 3 tests the certificate itself); the
        # waiting request then continues down both hops to the portal.
        _set_level(stack, "demo_l1", TrustLevel.L2)
        verification = browser.get(upgrade)
        resume = re.search(r'id="continue-login" href="([^"]+)"', verification.text).group(1)
        admitted = browser.get(str(verification.url.join(resume)))
        assert str(admitted.url) == f"{portal}/", admitted.url
        assert admitted.status_code == 200 and "四级（原L2）" in admitted.text and "91440106MA5DL1A170" in admitted.text
