"""Failures across the hop to gdzwfw_idp (issue 5): each ends on a clear
Chinese page with a way back, nothing half-created, and a log entry. The
province is faked at the transport (tests/hrss_isso/conftest.FakeGdzwfw)."""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from services.hrss_isso.models import FederatedLogin, ProvincialLink, Unit
from tests.hrss_isso.conftest import GDZWFW, Isso

L2_UNIT = {
    "sub": "gd-legal-l2",
    "account_type": "legal_person",
    "uscc": "91440104MA5DL2B24P",
    "org_name": "广州市越秀区示范贸易有限公司",
    "acr": "urn:gdzwfw:loa:L2",
    "amr": ["pwd"],
}


def _start(browser) -> httpx.Response:
    return browser.get("/isso/federation/gdzwfw/start?kind=unit", follow_redirects=False)


def _query(response: httpx.Response) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def _counts(isso: Isso) -> tuple[int, int, int]:
    return isso.count(FederatedLogin), isso.count(ProvincialLink), isso.count(Unit)


def _not_logged_in(isso: Isso, browser) -> None:
    assert browser.get("/isso/", follow_redirects=False).headers["location"].endswith("/isso/login")


def _failure_page(response: httpx.Response, status: int, text: str) -> None:
    assert response.status_code == status, response.text[:300]
    assert text in response.text
    assert 'href="/isso/login' in response.text or "/isso/login" in response.text  # the way back


def _failing(isso: Isso, path: str, exc: type[Exception]) -> None:
    original = isso.fake_gdzwfw.transport.handler

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == path:
            raise exc("simulated", request=request)
        return original(request)

    isso.fake_gdzwfw.transport.handler = handler


def test_gdzwfw_down_at_the_start(isso: Isso, caplog: pytest.LogCaptureFixture) -> None:
    _failing(isso, "/.well-known/openid-configuration", httpx.ConnectError)
    browser = isso.new_browser()
    with caplog.at_level(logging.WARNING, logger="isso.login"):
        page = _start(browser)
    _failure_page(page, 502, "暂时无法连接广东省统一身份认证平台")
    assert any("unreachable" in r.getMessage() for r in caplog.records)


def test_gdzwfw_slow_at_the_token_endpoint(isso: Isso, caplog: pytest.LogCaptureFixture) -> None:
    before = _counts(isso)
    browser = isso.new_browser()
    start = _start(browser)
    _failing(isso, "/token", httpx.ReadTimeout)
    with caplog.at_level(logging.WARNING, logger="isso.login"):
        page = isso.fake_gdzwfw.login(browser, start, **L2_UNIT)
    _failure_page(page, 502, "暂时无法连接广东省统一身份认证平台")
    assert _counts(isso) == before
    _not_logged_in(isso, browser)
    assert any(r.getMessage() == "federated login failed" for r in caplog.records)


@pytest.mark.parametrize(
    ("error", "text"),
    [
        ("server_error", "省统一身份认证登录未完成"),
        ("temporarily_unavailable", "省统一身份认证登录未完成"),
        ("access_denied", "您已取消在广东省统一身份认证平台的登录"),
    ],
)
def test_an_error_answer_or_a_cancel_without_a_client_waiting(isso: Isso, error: str, text: str, caplog: pytest.LogCaptureFixture) -> None:
    before = _counts(isso)
    browser = isso.new_browser()
    query = _query(_start(browser))
    with caplog.at_level(logging.WARNING, logger="isso.login"):
        page = browser.get(
            "/isso/federation/gdzwfw/callback", params={"error": error, "state": query["state"], "iss": GDZWFW}, follow_redirects=False
        )
    _failure_page(page, 400, text)
    assert _counts(isso) == before
    _not_logged_in(isso, browser)
    assert any(getattr(r, "fields", {}).get("upstream_error") == error for r in caplog.records)


def test_a_wrong_iss_is_refused_before_the_code_is_used(isso: Isso) -> None:
    before = _counts(isso)
    browser = isso.new_browser()
    start = _start(browser)
    query = _query(start)
    isso.fake_gdzwfw.codes["c-evil"] = {}
    page = browser.get(
        "/isso/federation/gdzwfw/callback",
        params={"code": "c-evil", "state": query["state"], "iss": "https://evil.example"},
        follow_redirects=False,
    )
    _failure_page(page, 400, "登录结果并非来自广东省统一身份认证平台")
    assert "c-evil" in isso.fake_gdzwfw.codes  # never sent to the token endpoint
    assert _counts(isso) == before
    _not_logged_in(isso, browser)


def test_a_bad_signature_is_refused(isso: Isso) -> None:
    before = _counts(isso)
    other = RSAKey.generate_key(2048, parameters={"kid": "gd-1", "alg": "RS256", "use": "sig"})
    original = isso.fake_gdzwfw.transport.handler
    browser = isso.new_browser()
    start = _start(browser)
    nonce = _query(start)["nonce"]

    def forged(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            now = int(time.time())
            claims = {"iss": GDZWFW, "aud": "hrss-isso", "iat": now, "exp": now + 600, "auth_time": now, "nonce": nonce, **L2_UNIT}
            return httpx.Response(
                200,
                json={
                    "access_token": "at",
                    "token_type": "Bearer",
                    "expires_in": 900,
                    "id_token": jwt.encode({"alg": "RS256", "kid": "gd-1"}, claims, other),
                },
            )
        return original(request)

    isso.fake_gdzwfw.transport.handler = forged
    page = browser.get(
        "/isso/federation/gdzwfw/callback", params={"code": "c-1", "state": _query(start)["state"], "iss": GDZWFW}, follow_redirects=False
    )
    _failure_page(page, 400, "未通过安全校验")
    assert _counts(isso) == before
    _not_logged_in(isso, browser)


def test_a_replayed_or_unknown_state_is_refused(isso: Isso) -> None:
    browser = isso.new_browser()
    start = _start(browser)
    query = _query(start)
    first = isso.fake_gdzwfw.login(browser, start, **L2_UNIT)
    assert first.status_code == 303, first.text[:300]
    before = _counts(isso)
    # The same callback again (e.g. the back button), in a fresh browser.
    other = isso.new_browser()
    replay = other.get(
        "/isso/federation/gdzwfw/callback", params={"code": "code-x", "state": query["state"], "iss": GDZWFW}, follow_redirects=False
    )
    _failure_page(replay, 400, "登录状态已失效")
    unknown = other.get(
        "/isso/federation/gdzwfw/callback", params={"code": "code-y", "state": "made-up", "iss": GDZWFW}, follow_redirects=False
    )
    _failure_page(unknown, 400, "登录状态已失效")
    assert _counts(isso) == before
    _not_logged_in(isso, other)
