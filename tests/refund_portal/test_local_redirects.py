"""Return addresses taken from the query (after login, after the 关怀版
switch, after the agency login) stay on the site: one rule for all."""

import pytest

from tests.refund_portal.conftest import Env


@pytest.mark.parametrize(
    "target", ["//evil.example/", "/\\evil.example/", "https://evil.example/", "/x\tevil", "/\\\\evil", "javascript:x"]
)
def test_the_care_switch_never_sends_the_browser_off_site(env: Env, target: str) -> None:
    response = env.client.get("/care-mode", params={"on": "1", "next": target}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert "care_mode=1" in response.headers["set-cookie"]


def test_the_care_switch_comes_back_to_the_page_it_was_used_on(env: Env) -> None:
    response = env.client.get("/care-mode", params={"on": "1", "next": "/records?year=2026"}, follow_redirects=False)
    assert response.headers["location"] == "/records?year=2026"


def test_a_nul_byte_in_a_page_address_gets_the_chinese_page_not_a_server_error(env: Env) -> None:
    """PostgreSQL's text cannot hold one; it is refused before any query (the
    route fuzzer's NUL in ``?q=`` was a 500 on the agency's record list)."""
    response = env.client.get("/login", params={"next": "/\x00"})
    assert response.status_code == 400 and "提交的内容含有无法识别的字符" in response.text
