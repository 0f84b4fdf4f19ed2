"""The login page of 广东省统一身份认证平台 (the seed's 法人登录 → 账号密码):
wrong-password countdown and lockout, tab checks, CSRF, the session cookie,
and what every response carries."""

from __future__ import annotations

from collections.abc import Callable
from http.cookies import SimpleCookie

import httpx
from fastapi.testclient import TestClient

from services.gdzwfw_idp.app import create_app
from services.gdzwfw_idp.demo import DEMO_PASSWORD
from services.gdzwfw_idp.settings import IdpSettings
from shared.clock import FrozenClock
from shared.passwords import PasswordService
from tests.chain_helpers import form_value
from tests.gdzwfw_idp.conftest import ISSUER, Idp
from tests.oidc_helpers import Pkce, authorize_params, query_of


def submit_login(browser: TestClient, login_name: str, password: str, *, tab: str = "legal") -> httpx.Response:
    page = browser.get(f"/login?tab={'legal' if tab == 'legal' else 'personal'}")
    assert page.status_code == 200
    return browser.post(
        "/login",
        data={
            "csrf_token": form_value(page.text, "csrf_token"),
            "interaction": "",
            "tab": tab,
            "login_name": login_name,
            "password": password,
        },
        follow_redirects=False,
    )


def logged_in(browser: TestClient) -> bool:
    response = browser.get("/account", follow_redirects=False)
    return response.status_code == 200


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """The Set-Cookie headers of one response, by cookie name (raw header text)."""
    found = {}
    for header in response.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        for name in jar:
            found[name] = header
    return found


def cookie_value(header: str) -> str:
    return header.split(";", 1)[0].split("=", 1)[1]


# -- wrong passwords and lockout -----------------------------------------------
def test_a_wrong_password_counts_down_the_attempts_left(idp: Idp) -> None:
    browser = idp.new_browser()
    limit = idp.settings.login_max_failures
    for left in range(limit - 1, 0, -1):
        response = submit_login(browser, "demo_l2", "Wrong@pass123")
        assert response.status_code == 400
        assert f"账号或密码错误，您还可以尝试{left}次" in response.text
        assert 'value="demo_l2"' in response.text  # the account stays filled in
    assert not logged_in(browser)


def test_after_a_wrong_password_the_login_still_returns_to_the_client(idp: Idp) -> None:
    browser = idp.new_browser()
    params = authorize_params(Pkce.new())
    first = browser.get("/authorize", params=params, follow_redirects=False)
    page = browser.get(first.headers["location"])
    interaction = form_value(page.text, "interaction")
    wrong = browser.post(
        "/login",
        data={
            "csrf_token": form_value(page.text, "csrf_token"),
            "interaction": interaction,
            "tab": "legal",
            "login_name": "demo_l2",
            "password": "Wrong@pass123",
        },
        follow_redirects=False,
    )
    assert wrong.status_code == 400
    assert form_value(wrong.text, "interaction") == interaction
    right = browser.post(
        "/login",
        data={
            "csrf_token": form_value(wrong.text, "csrf_token"),
            "interaction": interaction,
            "tab": "legal",
            "login_name": "demo_l2",
            "password": DEMO_PASSWORD,
        },
        follow_redirects=False,
    )
    assert right.status_code == 303
    done = browser.get(right.headers["location"], follow_redirects=False)
    assert done.status_code == 302 and done.headers["location"].startswith("http://127.0.0.1:8099/cb?")
    assert query_of(done)["state"] == params["state"] and "code" in query_of(done)


def test_an_unknown_account_gets_the_same_message_as_a_wrong_password(idp: Idp) -> None:
    response = submit_login(idp.new_browser(), "no_such_user1", "Wrong@pass123")
    assert response.status_code == 400
    assert f"账号或密码错误，您还可以尝试{idp.settings.login_max_failures - 1}次" in response.text


def test_too_many_wrong_passwords_lock_the_account_even_for_the_right_password(idp: Idp) -> None:
    browser = idp.new_browser()
    for _ in range(idp.settings.login_max_failures - 1):
        submit_login(browser, "demo_l2", "Wrong@pass123")
    last = submit_login(browser, "demo_l2", "Wrong@pass123")
    assert last.status_code == 400 and "锁定" in last.text

    right = submit_login(browser, "demo_l2", DEMO_PASSWORD)
    assert right.status_code == 400 and "锁定" in right.text
    assert not logged_in(browser)
    # Another browser (say the real owner's) is locked out too: the lock is on the account.
    assert "锁定" in submit_login(idp.new_browser(), "demo_l2", DEMO_PASSWORD).text


def test_the_lock_is_per_account(idp: Idp) -> None:
    for _ in range(idp.settings.login_max_failures):
        submit_login(idp.new_browser(), "demo_l2", "Wrong@pass123")
    browser = idp.new_browser()
    assert submit_login(browser, "demo_l3", DEMO_PASSWORD).status_code == 303
    assert logged_in(browser)


def test_after_the_lock_window_the_right_password_works_again(idp: Idp) -> None:
    for _ in range(idp.settings.login_max_failures):
        submit_login(idp.new_browser(), "demo_l2", "Wrong@pass123")
    idp.clock.advance(idp.settings.login_lock_seconds - 1)
    assert "锁定" in submit_login(idp.new_browser(), "demo_l2", DEMO_PASSWORD).text
    idp.clock.advance(2)
    browser = idp.new_browser()
    response = submit_login(browser, "demo_l2", DEMO_PASSWORD)
    assert response.status_code == 303 and response.headers["location"] == "/account"
    assert logged_in(browser)


def test_a_successful_login_resets_the_countdown(idp: Idp) -> None:
    browser = idp.new_browser()
    for _ in range(idp.settings.login_max_failures - 1):
        submit_login(browser, "demo_l2", "Wrong@pass123")
    assert submit_login(browser, "demo_l2", DEMO_PASSWORD).status_code == 303
    again = submit_login(idp.new_browser(), "demo_l2", "Wrong@pass123")
    assert f"您还可以尝试{idp.settings.login_max_failures - 1}次" in again.text


def test_a_small_configured_limit_is_honoured(make_idp: Callable[..., Idp]) -> None:
    idp = make_idp(login_max_failures=2, login_lock_seconds=120)
    assert "您还可以尝试1次" in submit_login(idp.new_browser(), "demo_l1", "Wrong@pass123").text
    locked = submit_login(idp.new_browser(), "demo_l1", "Wrong@pass123")
    assert "锁定" in locked.text and "2分钟" in locked.text


def test_many_failures_from_one_address_throttle_it_before_any_account_lock(make_idp: Callable[..., Idp]) -> None:
    """The address's and the account's failures are read together; a
    throttled address is told so (not "locked") even for an account that is
    locked as well, and even with the right password of another account."""
    idp = make_idp(login_max_failures=3, login_max_per_address=4, login_lock_seconds=600)
    for name in ("demo_l1", "demo_l1", "demo_l2", "demo_l2"):
        assert submit_login(idp.new_browser(), name, "Wrong@pass123").status_code == 400
    throttled = submit_login(idp.new_browser(), "demo_l3", DEMO_PASSWORD)
    assert throttled.status_code == 400 and "登录尝试过于频繁，请10分钟后再试" in throttled.text
    idp.clock.advance(601)
    browser = idp.new_browser()
    assert submit_login(browser, "demo_l3", DEMO_PASSWORD).status_code == 303 and logged_in(browser)


# -- tabs -------------------------------------------------------------------------
def test_a_natural_person_in_the_legal_person_tab_is_told_to_switch(idp: Idp) -> None:
    browser = idp.new_browser()
    response = submit_login(browser, "demo_person", DEMO_PASSWORD, tab="legal")
    assert response.status_code == 400
    assert "切换到“个人登录”" in response.text
    assert not logged_in(browser)


def test_a_legal_person_in_the_personal_tab_is_told_to_switch(idp: Idp) -> None:
    response = submit_login(idp.new_browser(), "demo_l2", DEMO_PASSWORD, tab="personal")
    assert response.status_code == 400 and "切换到“法人登录”" in response.text


def test_a_natural_person_logs_in_in_the_personal_tab(idp: Idp) -> None:
    browser = idp.new_browser()
    assert submit_login(browser, "demo_person", DEMO_PASSWORD, tab="personal").status_code == 303
    assert logged_in(browser)


def test_the_login_page_names_the_client_that_asked(idp: Idp) -> None:
    first = idp.client.get("/authorize", params=authorize_params(Pkce.new()), follow_redirects=False)
    page = idp.client.get(first.headers["location"])
    assert page.status_code == 200
    assert "演示应用（demo-rp）" in page.text and "法人登录" in page.text and "个人登录" in page.text


# -- CSRF ---------------------------------------------------------------------------
def test_cancelling_at_the_login_page_sends_access_denied_back_to_the_client(idp: Idp) -> None:
    browser = idp.new_browser()
    params = authorize_params(Pkce.new())
    first = browser.get("/authorize", params=params, follow_redirects=False)
    page = browser.get(first.headers["location"])
    assert 'id="cancel-login"' in page.text and "取消登录，返回“演示应用（demo-rp）”" in page.text
    cancelled = browser.post(
        "/authorize/decline",
        data={"csrf_token": form_value(page.text, "csrf_token"), "interaction": form_value(page.text, "interaction"), "reason": "cancel"},
        follow_redirects=False,
    )
    query = query_of(cancelled)
    assert cancelled.headers["location"].startswith("http://127.0.0.1:8099/cb?")
    assert query["error"] == "access_denied" and query["state"] == params["state"] and query["iss"] == ISSUER and "code" not in query
    # Without a waiting client there is nothing to cancel back to.
    assert 'id="cancel-login"' not in browser.get("/login").text


def test_login_without_csrf_token_is_refused_with_a_chinese_page(idp: Idp) -> None:
    browser = idp.new_browser()
    browser.get("/login")
    response = browser.post("/login", data={"tab": "legal", "login_name": "demo_l2", "password": DEMO_PASSWORD}, follow_redirects=False)
    assert response.status_code == 400
    assert "页面已过期" in response.text
    assert not logged_in(browser)


def test_login_with_another_sessions_csrf_token_is_refused(idp: Idp) -> None:
    attacker = idp.new_browser()
    token = form_value(attacker.get("/login").text, "csrf_token")
    victim = idp.new_browser()
    victim.get("/login")
    response = victim.post(
        "/login", data={"csrf_token": token, "tab": "legal", "login_name": "demo_l2", "password": DEMO_PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 400
    assert not logged_in(victim)


# -- the session cookie ---------------------------------------------------------------
def test_the_session_cookie_is_gdzwfw_sid_httponly_samesite_lax(idp: Idp) -> None:
    browser = idp.new_browser()
    response = submit_login(browser, "demo_l2", DEMO_PASSWORD)
    cookies = set_cookies(response)
    assert set(cookies) == {"gdzwfw_sid"}
    header = cookies["gdzwfw_sid"]
    attributes = [part.strip().lower() for part in header.split(";")]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "path=/" in attributes


def test_the_session_cookie_is_secure_when_configured(fresh_database: Callable[[str], str]) -> None:
    settings = IdpSettings(
        environment="development",
        database_url=fresh_database("gdzwfw_idp"),
        secret_key="test-secret-key-test-secret-key-0123456789",
        public_url=ISSUER,
        cookie_secure=True,
        log_json=False,
    )
    app = create_app(settings, clock=FrozenClock(), passwords=PasswordService(time_cost=1, memory_cost=1024))
    with TestClient(app, base_url=ISSUER) as browser:
        header = set_cookies(browser.get("/login"))["gdzwfw_sid"]
    assert "secure" in [part.strip().lower() for part in header.split(";")]


def test_login_gives_the_session_a_new_id(idp: Idp) -> None:
    browser = idp.new_browser()
    page = browser.get("/login")
    before = cookie_value(set_cookies(page)["gdzwfw_sid"])
    done = browser.post(
        "/login",
        data={
            "csrf_token": form_value(page.text, "csrf_token"),
            "interaction": "",
            "tab": "legal",
            "login_name": "demo_l2",
            "password": DEMO_PASSWORD,
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    after = cookie_value(set_cookies(done)["gdzwfw_sid"])
    assert after and after != before
    assert logged_in(browser)
    # An id planted before login (session fixation) is worthless afterwards.
    planted = TestClient(idp.app, base_url=str(browser.base_url), cookies={"gdzwfw_sid": before})
    assert not logged_in(planted)


def test_an_idle_session_expires(idp: Idp) -> None:
    browser = idp.new_browser()
    assert submit_login(browser, "demo_l2", DEMO_PASSWORD).status_code == 303
    idp.clock.advance(idp.settings.session_idle_seconds - 10)
    assert logged_in(browser)  # each request slides the idle timeout
    idp.clock.advance(idp.settings.session_idle_seconds - 10)
    assert logged_in(browser)
    idp.clock.advance(idp.settings.session_idle_seconds + 1)
    assert not logged_in(browser)


# -- every response ---------------------------------------------------------------------
def test_every_response_carries_a_request_id(idp: Idp) -> None:
    responses = [
        idp.client.get("/login"),
        idp.client.get("/healthz"),
        idp.client.get("/.well-known/openid-configuration"),
        idp.client.get("/jwks.json"),
        idp.client.get("/no-such-page"),
        idp.client.post("/token", data={"grant_type": "client_credentials"}),
        idp.client.get("/authorize", params=authorize_params(Pkce.new()), follow_redirects=False),
        idp.client.post("/login", data={}),
    ]
    for response in responses:
        assert response.headers.get("x-request-id"), (response.request.url, response.status_code)
    ids = {r.headers["x-request-id"] for r in responses}
    assert len(ids) == len(responses)


def test_a_clients_own_request_id_is_not_believed(idp: Idp) -> None:
    # Only a trusted proxy's is (tests/shared/test_trusted_proxies.py); no proxy is configured here.
    response = idp.client.get("/healthz", headers={"X-Request-ID": "trace-abc.123"})
    assert response.headers["x-request-id"] != "trace-abc.123"


def test_healthz_is_ok(idp: Idp) -> None:
    response = idp.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": "gdzwfw_idp"}


def _active_subtab(html: str) -> str:
    return html.split('aria-selected="true"', 1)[1].split(">", 1)[1].split("<", 1)[0]


def test_the_legal_login_opens_on_wechat_scan_as_the_guide_shows(idp: Idp) -> None:
    first = idp.client.get("/authorize", params=authorize_params(Pkce.new()), follow_redirects=False)
    page = idp.client.get(first.headers["location"])
    assert _active_subtab(page.text) == "微信扫码" and "请您使用 <strong>【微信】</strong> 扫码登录" in page.text
    assert 'name="login_name"' not in page.text
    # The page still carries the request it belongs to, and the 账号密码 form is one tab away.
    interaction = form_value(page.text, "interaction")
    password_tab = idp.client.get(f"/login?tab=legal&method=password&interaction={interaction}")
    assert _active_subtab(password_tab.text) == "账号密码" and 'name="login_name"' in password_tab.text
    # 个人登录 and 经办人登录 have only a password form.
    for path in ("/login?tab=personal", "/login?tab=legal&handler=1"):
        assert 'name="login_name"' in idp.client.get(path).text, path
    # The form post needs no tab switch: it logs in from the page it was shown on.
    done = idp.client.post(
        "/login",
        data={
            "csrf_token": form_value(page.text, "csrf_token"),
            "interaction": interaction,
            "tab": "legal",
            "login_name": "demo_l2",
            "password": DEMO_PASSWORD,
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and "/authorize/resume" in done.headers["location"]


def test_the_login_page_draws_its_qr_code_and_challenge_without_the_synchronous_engine(idp: Idp) -> None:
    """The 法人登录 page opens on a QR code and the certificate tabs carry a
    challenge: both are written on the event loop, so on PostgreSQL the page
    sends nothing through the synchronous engine (no worker thread)."""
    import re

    from sqlalchemy import Engine, event

    first = idp.client.get("/authorize", params=authorize_params(Pkce.new()), follow_redirects=False)
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    # Every synchronous engine: the key-value store has its own (unflushed writes).
    event.listen(Engine, "before_cursor_execute", count)
    try:
        page = idp.client.get(first.headers["location"])
        interaction = form_value(page.text, "interaction")
        ca_tab = idp.client.get(f"/login?tab=legal&method=ca&interaction={interaction}")
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert page.status_code == 200 and ca_tab.status_code == 200
    # The QR code shown is a pending one-time session, waiting for this login.
    sid = re.search(r'data-sid="([^"]+)"', page.text).group(1)
    pending = idp.app.state.idp.qr.peek("licence", sid)
    assert pending is not None and pending.data == {"purpose": "login", "interaction": interaction}
    # The challenge is kept for a CA-certificate login.
    nonce = form_value(ca_tab.text, "nonce")
    assert idp.app.state.idp.kv.get(f"cert-challenge:{nonce}")["purpose"] == "ca-login"
    if idp.app.state.db.engine.dialect.name == "postgresql":
        assert statements == []


def test_a_password_login_reads_its_counters_and_account_without_the_synchronous_engine(idp: Idp) -> None:
    """The login form's counters and account are read on the event loop and
    only the hash runs in a worker thread: on PostgreSQL a right password
    sends nothing through the synchronous engine. A wrong one is still
    counted against the account, and the next right one clears the count."""
    from sqlalchemy import Engine, event

    def submit(password: str):
        """The password on a new login page (the form's token is the browser session's, renewed by a login)."""
        first = idp.client.get("/authorize", params={**authorize_params(Pkce.new()), "prompt": "login"}, follow_redirects=False)
        page = idp.client.get(first.headers["location"])
        fields = {"interaction": form_value(page.text, "interaction"), "tab": "legal", "login_name": "demo_l2", "password": password}
        return idp.client.post("/login", data={"csrf_token": form_value(page.text, "csrf_token"), **fields}, follow_redirects=False)

    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    first = idp.client.get("/authorize", params=authorize_params(Pkce.new()), follow_redirects=False)
    page = idp.client.get(first.headers["location"])
    fields = {"interaction": form_value(page.text, "interaction"), "tab": "legal", "login_name": "demo_l2", "password": DEMO_PASSWORD}
    event.listen(Engine, "before_cursor_execute", count)
    try:
        done = idp.client.post("/login", data={"csrf_token": form_value(page.text, "csrf_token"), **fields}, follow_redirects=False)
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert done.status_code == 303 and "/authorize/resume" in done.headers["location"]
    if idp.app.state.db.engine.dialect.name == "postgresql":
        assert statements == []
    limit = idp.settings.login_max_failures
    wrong = submit("not-the-password")
    assert wrong.status_code == 400 and f"账号或密码错误，您还可以尝试{limit - 1}次" in wrong.text
    assert submit(DEMO_PASSWORD).status_code == 303
    # The right password cleared the count: the next wrong one has the whole allowance again.
    assert f"您还可以尝试{limit - 1}次" in submit("not-the-password").text
