"""Driving the login chain over real HTTP the way a browser does."""

from __future__ import annotations

import re
import time

import httpx

from devtools.demo_client import form_value, login_at_gdzwfw
from services.gdzwfw_idp.demo import DEMO_PASSWORD
from shared.totp import totp

__all__ = ["form_value", "gdzwfw_logout", "login_at_gdzwfw", "portal_login", "portal_logout", "sms_outbox", "staff_totp"]

# The last TOTP time step each staff secret logged in with in this session.
_USED_STEPS: dict[str, int] = {}


def staff_totp(secret: str) -> str:
    """A staff member's 动态口令 from the real clock, as their authenticator
    shows it. A code is accepted once, so when this session already logged
    the secret in during this 30-second step, wait for the next one."""
    step = int(time.time() // 30)
    if _USED_STEPS.get(secret, -1) >= step:
        time.sleep((_USED_STEPS[secret] + 1) * 30 - time.time() + 0.2)
        step = int(time.time() // 30)
    _USED_STEPS[secret] = step
    return totp(secret, step * 30)


def sms_outbox(isso_url: str, mobile: str, pattern: str = r"验证码为(\d{6})") -> str:
    """What hrss_isso's development SMS outbox (/dev/sms, newest first) last
    sent to ``mobile``: the first group of ``pattern``."""
    page = httpx.get(f"{isso_url}/dev/sms")
    assert page.status_code == 200, page.text[:300]
    for number, body in re.findall(r"<td>(\d{11})</td><td class=\"sms-body\">([^<]+)</td>", page.text):
        if number == mobile and (match := re.search(pattern, body)):
            return match.group(1)
    raise AssertionError(f"no message to {mobile} matching {pattern} in hrss_isso's outbox")


def portal_logout(browser: httpx.Client, portal_url: str) -> httpx.Response:
    """退出登录 at the portal: the header's form (a POST with the page's CSRF token)."""
    home = browser.get(f"{portal_url}/")
    return browser.post(f"{portal_url}/logout", data={"csrf_token": form_value(home.text, "csrf_token")})


def gdzwfw_logout(browser: httpx.Client, idp_url: str) -> None:
    """The province ends its session itself (its own logout page, confirmed):
    the back-channel notice reaches the ISSO, which tells the portal."""
    page = browser.get(f"{idp_url}/logout")
    if "csrf_token" in page.text and page.url.path == "/logout":
        page = browser.post(f"{idp_url}/logout", data={"csrf_token": form_value(page.text, "csrf_token"), "confirm": "yes"})
    assert page.status_code == 200, page.text[:300]


def portal_login(browser: httpx.Client, portal_url: str, login_name: str, password: str = DEMO_PASSWORD) -> httpx.Response:
    """From the refund portal, through hrss_isso's 省统一身份认证, to
    gdzwfw_idp's login page and all the way back."""
    isso_login = browser.get(f"{portal_url}/login")
    assert isso_login.status_code == 200 and "省统一身份认证" in isso_login.text, isso_login.text[:500]
    start = re.search(r'id="gdzwfw-login" href="([^"]+)"', isso_login.text).group(1)
    idp_login = browser.get(str(isso_login.url.join(start)))
    assert idp_login.status_code == 200, idp_login.text[:500]
    return login_at_gdzwfw(browser, idp_login, login_name, password)
