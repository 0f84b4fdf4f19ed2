"""Single logout across the chain (issue 5), over real HTTP."""

from __future__ import annotations

import httpx

from devtools.stack import StackConfig
from tests.chain_helpers import gdzwfw_logout, portal_login, portal_logout


def _gdzwfw_logged_in(browser: httpx.Client, stack: StackConfig) -> bool:
    page = browser.get(f"{stack.url('gdzwfw_idp')}/account")
    return page.url.path == "/account"


def test_logout_at_the_portal_ends_the_sessions_at_all_three(stack: StackConfig) -> None:
    portal, isso = stack.url("refund_portal"), f"{stack.url('hrss_isso')}/isso"
    with httpx.Client(follow_redirects=True) as browser:
        page = portal_login(browser, portal, "demo_l2")
        assert "稳岗返还信息确认" in page.text
        assert browser.get(f"{isso}/").url.path == "/isso/"
        assert _gdzwfw_logged_in(browser, stack)

        after = portal_logout(browser, portal)
        # Through the ISSO, gdzwfw_idp and the ISSO's /logged-out, back home.
        assert after.status_code == 200 and str(after.url) == f"{portal}/", [str(r.url) for r in after.history]
        hops = [str(r.url) for r in after.history]
        assert any(h.startswith(f"{stack.url('gdzwfw_idp')}/logout") for h in hops), hops
        assert any(h.startswith(f"{isso}/logged-out") for h in hops), hops
        assert "单位登录" in after.text
        assert "91440104MA5DL2B24P" not in browser.get(f"{portal}/").text
        assert browser.get(f"{isso}/").url.path == "/isso/login"
        assert not _gdzwfw_logged_in(browser, stack)


def test_back_channel_logout_from_gdzwfw_ends_the_isso_and_portal_sessions(stack: StackConfig) -> None:
    portal, isso = stack.url("refund_portal"), f"{stack.url('hrss_isso')}/isso"
    with httpx.Client(follow_redirects=True) as browser:
        assert "91440104MA5DL2B24P" in portal_login(browser, portal, "demo_l2").text
        assert browser.get(f"{isso}/").url.path == "/isso/"
        gdzwfw_logout(browser, stack.url("gdzwfw_idp"))
        assert not _gdzwfw_logged_in(browser, stack)
        assert browser.get(f"{isso}/").url.path == "/isso/login"
        home = browser.get(f"{portal}/")
        assert "91440104MA5DL2B24P" not in home.text and "请先登录" in home.text
