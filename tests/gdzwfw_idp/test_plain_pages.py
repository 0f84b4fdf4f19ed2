"""The login chain's busiest pages are plain routes (shared.web.plain_pages):
what FastAPI's routes did for them still holds."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.gdzwfw_idp.conftest import Idp
from tests.gdzwfw_idp.journeys import csrf
from tests.oidc_helpers import Pkce, authorize_params


@pytest.mark.parametrize("path", ["/login", "/authorize", "/authorize/resume"])
def test_a_head_request_is_not_answered_as_a_get(idp: Idp, path: str) -> None:
    # Starlette's routes would answer HEAD like GET: an authorization parked, a QR session made.
    response = idp.client.head(path)
    assert response.status_code == 405 and response.headers["allow"] == ("GET, POST" if path == "/authorize" else "GET")


@pytest.mark.parametrize(
    "url",
    [
        "/login?tab=legal&login_name=a%00b",
        "/authorize/resume?interaction=%00",
        "/authorize?client_id=x%00",
        # A repeated name's earlier value, and a name itself.
        "/login?tab=a%00b&tab=legal",
        "/login?ta%00b=legal",
        "/help?x%00=1",
    ],
)
def test_a_nul_byte_in_the_address_is_refused_with_the_chinese_page(idp: Idp, url: str) -> None:
    response = idp.client.get(url)
    assert response.status_code == 400 and "提交的内容含有无法识别的字符" in response.text


def test_the_login_page_keeps_its_query_and_post_login_its_csrf_check(idp: Idp) -> None:
    browser = idp.new_browser()
    first = browser.get("/authorize", params=authorize_params(Pkce.new()), follow_redirects=False)
    page = browser.get(first.headers["location"] + "&tab=personal&login_name=zhangsan")
    assert page.status_code == 200 and 'value="zhangsan"' in page.text and "个人登录" in page.text
    refused = browser.post("/login", data={"csrf_token": "forged", "login_name": "demo_l2", "password": "x"})
    assert refused.status_code == 400 and "页面已过期" in refused.text


@pytest.mark.parametrize("extra", [[("login_name", "a\x00b"), ("login_name", "demo_l2")], [("pass\x00word", "x")]])
def test_a_nul_byte_anywhere_in_a_posted_form_is_refused_with_the_chinese_page(idp: Idp, extra: list[tuple[str, str]]) -> None:
    browser = idp.new_browser()
    page = browser.get("/login?tab=personal")
    fields = [("csrf_token", csrf(page.text)), ("tab", "personal"), ("interaction", ""), ("password", "x"), *extra]
    response = browser.post("/login", content=urlencode(fields), headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400 and "提交的内容含有无法识别的字符" in response.text


def test_a_nul_byte_in_a_posted_authorization_request_is_refused_with_the_chinese_page(idp: Idp) -> None:
    fields = [*authorize_params(Pkce.new()).items(), ("cla\x00ims", "{}")]
    response = idp.client.post("/authorize", content=urlencode(fields), headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400 and "提交的内容含有无法识别的字符" in response.text
