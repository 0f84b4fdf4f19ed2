"""Failures across the hop to gdzwfw_idp (issue 5), over real HTTP: the
services run as uvicorn processes on loopback (devtools.stack) and httpx
plays the browser. Each failure ends on a clear Chinese page with a way back
(or, when a client is waiting and the province refused, with the refusal
passed on to that client), nothing half-created at the ISSO, and a warning
in the ISSO's log under the request id the page shows.

Three configurations, started together once for the module:

- ``chain``: the real three services, for gdzwfw_idp going down, a wrong
  ``iss``, a replayed or foreign ``state`` and a cancel at the provincial page
  (its 可信等级不足 page, the one gdzwfw_idp page with a way back to the
  client; the login page itself has none, so a cancel with no client waiting
  at the ISSO cannot happen over real HTTP);
- ``broken``: an ISSO whose province is a loopback stand-in that never gives
  a usable discovery document (slow, 500, garbage). It needs its own ISSO:
  once an ISSO has read discovery it keeps it and never asks again;
- ``forging``: an ISSO whose stand-in province answers discovery and the
  authorization request properly, then misbehaves at the token endpoint
  (slow, 500, garbage, an error, a token signed with a key it does not
  publish).

The same cases with the province faked at the transport are in
tests/hrss_isso/test_federation_failures.py.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import html
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import uvicorn
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from sqlalchemy import create_engine, func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from devtools.stack import DEV_SECRET, SERVICES, Stack, StackConfig, database_urls, drop_databases, free_port
from services.gdzwfw_idp.models import provider_tables as gdzwfw_provider_tables
from services.hrss_isso.models import FederatedLogin, ProvincialLink, Unit
from shared.oauth.rp_keys import relying_party_key
from shared.randomness import hash_secret
from shared.settings import ServiceSettings
from tests.chain_helpers import form_value, login_at_gdzwfw
from tests.conftest import TEST_DATABASE_URL
from tests.oidc_helpers import DEMO_REDIRECT, Pkce, authorize_params, essential_acr_claims, query_of
from tests.redis_run import stack_redis

# What the user reads (services/hrss_isso/pages.py FAILURE_TEXT).
UNREACHABLE = "暂时无法连接广东省统一身份认证平台，请稍后再试。"
STATE = "登录状态已失效（页面停留过久、重复提交或在其他窗口登录），请重新登录。"
ISSUER_MISMATCH = "登录结果并非来自广东省统一身份认证平台，未通过安全校验，已拒绝登录。"
INVALID = "广东省统一身份认证平台返回的登录结果未通过安全校验，已拒绝登录。"
NOT_DONE = "省统一身份认证登录未完成。"

CALLBACK = "/isso/federation/gdzwfw/callback"
ISSO_CLIENT_ID = "hrss-isso"
TIMEOUT = 1.0  # ISSO_GDZWFW_TIMEOUT beside the stand-ins
HANG = 5 * TIMEOUT  # how long a slow stand-in would keep the ISSO waiting
L2_UNIT = {
    "sub": "province-l2",
    "account_type": "legal_person",
    "uscc": "91440104MA5DL2B24P",
    "org_name": "广州市越秀区示范贸易有限公司",
    "acr": "urn:gdzwfw:loa:L2",
    "amr": ["pwd"],
}


# -- a running configuration ---------------------------------------------------


@dataclass
class Running:
    config: StackConfig
    stack: Stack
    log_dir: Path

    @property
    def isso(self) -> str:
        return f"{self.config.url('hrss_isso')}/isso"

    def url(self, name: str) -> str:
        return self.config.url(name)

    def snapshot(self) -> tuple:
        """What a federated login creates or changes at the ISSO: units,
        provincial links (with the ``sub`` bound at the first login) and
        federated-login rows."""
        engine = create_engine(self.config.database_urls["hrss_isso"])
        try:
            with engine.connect() as conn:
                links = conn.execute(
                    select(ProvincialLink.unit_id, ProvincialLink.issuer, ProvincialLink.uscc, ProvincialLink.subject).order_by(
                        ProvincialLink.id
                    )
                ).all()
                logins = conn.execute(select(func.count()).select_from(FederatedLogin)).scalar_one()
                units = conn.execute(select(func.count()).select_from(Unit)).scalar_one()
        finally:
            engine.dispose()
        return [tuple(row) for row in links], logins, units

    def assert_not_logged_in(self, browser: httpx.Client) -> None:
        home = browser.get(f"{self.isso}/", follow_redirects=False)
        assert home.status_code == 303 and home.headers["location"] == f"{self.isso}/login", home.headers.get("location")
        # A client asking silently is told so too (OIDC prompt=none).
        silent = browser.get(f"{self.isso}/authorize", params=authorize_params(Pkce.new(), prompt="none"), follow_redirects=False)
        assert silent.status_code == 302 and silent.headers["location"].startswith(DEMO_REDIRECT), silent.text[:300]
        assert query_of(silent)["error"] == "login_required"

    def assert_logged(self, response: httpx.Response, message: str, **fields: str | None) -> None:
        """The ISSO logged ``message`` (a warning) with ``fields`` while
        answering ``response``: found by the request id the page shows."""
        request_id = response.headers["x-request-id"]
        entries = [json.loads(line) for line in (self.log_dir / "hrss_isso.log").read_text(encoding="utf-8").splitlines() if line.strip()]
        mine = [e for e in entries if e.get("request_id") == request_id]
        assert any(e["msg"] == message and e["level"] == "WARNING" and all(e.get(k) == v for k, v in fields.items()) for e in mine), mine


def migrated(tmp: Path, suffix: str, names: tuple[str, ...], **isso_env: str) -> Stack:
    """A configuration with its databases migrated, not started yet."""
    config = StackConfig(
        database_urls=database_urls(base_url=TEST_DATABASE_URL, var_dir=tmp, suffix=f"_{suffix}{os.getpid()}"),
        ports={name: free_port() for name in SERVICES},
        extra_env={"hrss_isso": isso_env} if isso_env else {},
        log_json=True,
        work_dir=tmp,
        **stack_redis(suffix),
    )
    stack = Stack(config, log_dir=tmp)
    stack.migrate(names)
    return stack


@contextmanager
def running(stack: Stack, names: tuple[str, ...]) -> Iterator[Running]:
    try:
        stack.start(names)
        yield Running(stack.config, stack, stack.log_dir)
    finally:
        stack.stop()
        drop_databases(stack.config.database_urls)


# -- what the user sees ----------------------------------------------------------


def assert_failure_page(page: httpx.Response, status: int, sentence: str, way_back: str) -> None:
    assert page.status_code == status, page.text[:500]
    assert page.headers["content-type"].startswith("text/html")
    assert sentence in page.text, page.text[:1500]
    assert f'href="{html.escape(way_back)}">重新登录</a>' in page.text, page.text[:1500]
    assert page.headers["x-request-id"] in page.text  # 请求编号, to quote to support


def gdzwfw_link(login_page: httpx.Response) -> str:
    """The ISSO login page's 省统一身份认证登录 button."""
    assert login_page.status_code == 200 and login_page.url.path == "/isso/login", login_page.text[:300]
    return str(login_page.url.join(re.search(r'id="gdzwfw-login" href="([^"]+)"', login_page.text).group(1)))


def follow_until(browser: httpx.Client, response: httpx.Response, prefix: str) -> str:
    """Follow redirects as a browser would, stopping at the first one to a
    URL starting with ``prefix``; returns that URL."""
    for _ in range(10):
        assert response.status_code in (302, 303), response.text[:500]
        location = str(response.url.join(response.headers["location"]))
        if location.startswith(prefix):
            return location
        response = browser.get(location, follow_redirects=False)
    raise AssertionError(f"never redirected to {prefix}")


def settle(browser: httpx.Client, response: httpx.Response) -> httpx.Response:
    """Follow the rest of the redirects."""
    while response.status_code in (302, 303):
        response = browser.get(response.url.join(response.headers["location"]))
    return response


def params_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def with_params(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    return parts._replace(query=urlencode({**params_of(url), **changes})).geturl()


def code_used_at(chain: Running, code: str) -> dt.datetime | None:
    """gdzwfw_idp's own record of an authorization code: when it was redeemed."""
    t = gdzwfw_provider_tables.authorization_code
    engine = create_engine(chain.config.database_urls["gdzwfw_idp"])
    try:
        with engine.connect() as conn:
            row = conn.execute(select(t.c.used_at).where(t.c.code_hash == hash_secret(code))).one()
    finally:
        engine.dispose()
    return row.used_at


def portal_to_gdzwfw(chain: Running, browser: httpx.Client) -> tuple[str, httpx.Response]:
    """From the refund portal to gdzwfw_idp's login page; returns the ISSO
    interaction the portal's request is parked under, and that page."""
    login_page = browser.get(f"{chain.url('refund_portal')}/login", follow_redirects=True)
    interaction = params_of(str(login_page.url))["interaction"]
    idp_page = browser.get(gdzwfw_link(login_page), follow_redirects=True)
    assert idp_page.url.path == "/login" and "法人登录" in idp_page.text, idp_page.text[:300]
    return interaction, idp_page


def up_to_the_callback(chain: Running, browser: httpx.Client, login_name: str) -> tuple[str, str]:
    """Log in at gdzwfw_idp from the portal; returns the interaction and the
    callback URL gdzwfw_idp sends the browser back to, not yet followed."""
    interaction, idp_page = portal_to_gdzwfw(chain, browser)
    return interaction, follow_until(browser, login_at_gdzwfw(browser, idp_page, login_name), f"{chain.url('hrss_isso')}{CALLBACK}")


# -- a stand-in province on a loopback port --------------------------------------


class Province:
    """An OpenID provider standing in for gdzwfw_idp, served by uvicorn in a
    thread, whose discovery and token answers the test spoils one at a time.
    Its /authorize plays a user who logs in at once as the 越秀 legal person.
    It checks what the real one would (client, PKCE, redirect URI)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.key = RSAKey.generate_key(2048, parameters={"kid": "province-1", "alg": "RS256", "use": "sig"})
        # Another key under the published key's kid: a forger's signature.
        self.forger = RSAKey.generate_key(2048, parameters={"kid": "province-1", "alg": "RS256", "use": "sig"})
        self.client_secret = ""  # the ISSO's, once its configuration exists
        self.discovery = "ok"
        self.token = "ok"
        self.codes: dict[str, dict] = {}
        self.redeemed: list[str] = []
        app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._discovery),
                Route("/jwks.json", self._jwks),
                Route("/authorize", self._authorize),
                Route("/token", self._token, methods=["POST"]),
            ]
        )
        self.app = app

    def start(self) -> None:
        # A slow answer still being written at shutdown is abandoned.
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", timeout_graceful_shutdown=1)
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "the stand-in province did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    @contextmanager
    def serving(self) -> Iterator[Province]:
        self.start()
        try:
            yield self
        finally:
            self.stop()

    @contextmanager
    def down(self) -> Iterator[None]:
        """Nothing listens on the province's port: connection refused."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    async def _discovery(self, request: Request) -> Response:
        if self.discovery == "slow":
            await asyncio.sleep(HANG)
        if self.discovery == "500":
            return PlainTextResponse("Internal Server Error", status_code=500)
        if self.discovery == "html":
            return HTMLResponse("<html><body>系统维护中</body></html>")
        if self.discovery == "not_an_object":
            return JSONResponse(["系统维护中"])
        if self.discovery == "not_metadata":
            return JSONResponse({"code": 503, "message": "系统维护中"})
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks.json",
                "response_types_supported": ["code"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "authorization_response_iss_parameter_supported": True,
            }
        )

    async def _jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    async def _authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != ISSO_CLIENT_ID or q.get("code_challenge_method") != "S256" or not q.get("state"):
            return PlainTextResponse("bad authorization request", status_code=400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"nonce": q.get("nonce"), "challenge": q["code_challenge"], "redirect_uri": q["redirect_uri"]}
        return RedirectResponse(
            f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state'], 'iss': self.issuer})}", status_code=302
        )

    def _authenticated(self, request: Request, form: Any) -> bool:
        """The ISSO's private_key_jwt assertion (development: its key derived
        from the stack's secret key), or its secret."""
        if assertion := form.get("client_assertion"):
            key = relying_party_key(
                None,
                ServiceSettings(environment="development", database_url="sqlite://", secret_key=DEV_SECRET, public_url="http://x"),
                label="hrss_isso at gdzwfw_idp",
            )
            try:
                claims = jwt.decode(str(assertion), key, algorithms=["ES256"]).claims
            except JoseError:
                return False
            return claims.get("iss") == claims.get("sub") == ISSO_CLIENT_ID
        return (
            request.headers.get("authorization") == "Basic " + base64.b64encode(f"{ISSO_CLIENT_ID}:{self.client_secret}".encode()).decode()
        )

    async def _token(self, request: Request) -> Response:
        form = await request.form()
        if not self._authenticated(request, form):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = self.codes.pop(str(form.get("code")), None)
        verifier = str(form.get("code_verifier", ""))
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if grant is None or grant["challenge"] != challenge or grant["redirect_uri"] != form.get("redirect_uri"):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        self.redeemed.append(str(form["code"]))
        if self.token == "slow":
            await asyncio.sleep(HANG)
        if self.token == "500":
            return HTMLResponse("<html><body>Internal Server Error</body></html>", status_code=500)
        if self.token == "html":
            return HTMLResponse("<html><body>系统维护中</body></html>")
        if self.token == "invalid_grant":
            return JSONResponse({"error": "invalid_grant", "error_description": "code expired"}, status_code=400)
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": ISSO_CLIENT_ID,
            "iat": now,
            "exp": now + 600,
            "auth_time": now,
            "nonce": grant["nonce"],
            **L2_UNIT,
        }
        answer = {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 900}
        if self.token != "no_id_token":
            answer["id_token"] = jwt.encode(
                {"alg": "RS256", "kid": "province-1"}, claims, self.forger if self.token == "forged" else self.key
            )
        return JSONResponse(answer)


def beside_a_province(tmp: Path, suffix: str) -> AbstractContextManager[tuple[Running, Province]]:
    """An ISSO alone, whose gdzwfw_idp is a stand-in, with a short back-channel timeout."""
    province = Province()
    stack = migrated(tmp, suffix, ("hrss_isso",), ISSO_GDZWFW_ISSUER=province.issuer, ISSO_GDZWFW_TIMEOUT=str(TIMEOUT))
    province.client_secret = stack.config.isso_secret_at_gdzwfw
    return serving_beside(stack, province)


@contextmanager
def serving_beside(stack: Stack, province: Province) -> Iterator[tuple[Running, Province]]:
    with province.serving(), running(stack, ("hrss_isso",)) as started:
        yield started, province


# -- the three configurations, started side by side ---------------------------


@pytest.fixture(scope="module")
def configurations(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    # Migrated one at a time (Alembic's context is global to the process),
    # then started together: starting a service is mostly importing it, so
    # the five processes take little longer than the slowest.
    contexts = {
        "chain": running(migrated(tmp_path_factory.mktemp("failures-chain"), "fchain", SERVICES), SERVICES),
        "broken": beside_a_province(tmp_path_factory.mktemp("failures-broken"), "fbroken"),
        "forging": beside_a_province(tmp_path_factory.mktemp("failures-forging"), "fforging"),
    }
    with ExitStack() as exits:
        with ThreadPoolExecutor(len(contexts)) as pool:
            futures = {name: pool.submit(exits.enter_context, context) for name, context in contexts.items()}
        yield {name: future.result() for name, future in futures.items()}


@pytest.fixture
def chain(configurations: dict) -> Running:
    return configurations["chain"]


@pytest.fixture
def broken(configurations: dict) -> tuple[Running, Province]:
    return configurations["broken"]


@pytest.fixture
def forging(configurations: dict) -> tuple[Running, Province]:
    return configurations["forging"]


# -- the real chain --------------------------------------------------------------


def test_gdzwfw_down_when_the_isso_redeems_the_code(chain: Running) -> None:
    portal = chain.url("refund_portal")
    with httpx.Client() as browser:
        interaction, callback = up_to_the_callback(chain, browser, "demo_l3")
        before = chain.snapshot()
        chain.stack.stop(("gdzwfw_idp",))
        try:
            page = browser.get(callback)
            assert_failure_page(page, 502, UNREACHABLE, f"{chain.isso}/login?interaction={interaction}")
            chain.assert_logged(page, "federated login failed", kind="unreachable")
            chain.assert_not_logged_in(browser)
            assert chain.snapshot() == before
        finally:
            chain.stack.start(("gdzwfw_idp",))
        assert code_used_at(chain, params_of(callback)["code"]) is None
        # The way back, once the province is up: the portal's request is still
        # parked, and the person's gdzwfw session (from before the outage)
        # brings them straight through to the portal.
        back = browser.get(f"{chain.isso}/login?interaction={interaction}")
        home = browser.get(gdzwfw_link(back), follow_redirects=True)
        assert str(home.url) == f"{portal}/" and "91440103MA5DL3C31X" in home.text, [str(r.url) for r in home.history]


def test_a_wrong_iss_is_refused_and_the_code_never_redeemed(chain: Running) -> None:
    with httpx.Client() as browser:
        interaction, callback = up_to_the_callback(chain, browser, "demo_l2")
        assert params_of(callback)["iss"] == chain.url("gdzwfw_idp")
        before = chain.snapshot()
        # A mix-up attacker's answer: the honest code, another issuer.
        page = browser.get(with_params(callback, iss="http://127.0.0.1:9"))
        assert_failure_page(page, 400, ISSUER_MISMATCH, f"{chain.isso}/login?interaction={interaction}")
        chain.assert_logged(page, "federated login failed", kind="issuer_mismatch")
        chain.assert_not_logged_in(browser)
        # The refused login is over: the honest answer cannot complete it afterwards.
        late = browser.get(callback, follow_redirects=False)
        assert_failure_page(late, 400, STATE, f"{chain.isso}/login")
    assert chain.snapshot() == before
    # RFC 9207: refused before the token endpoint; gdzwfw_idp never saw it back.
    assert code_used_at(chain, params_of(callback)["code"]) is None


def test_a_replayed_state_is_refused(chain: Running) -> None:
    with httpx.Client(follow_redirects=True) as browser:
        _, idp_page = portal_to_gdzwfw(chain, browser)
        home = login_at_gdzwfw(browser, idp_page, "demo_l2")
        assert str(home.url) == f"{chain.url('refund_portal')}/", home.text[:300]
        callback = next(str(r.url) for r in home.history if r.url.path == CALLBACK)
        assert code_used_at(chain, params_of(callback)["code"]) is not None  # the login redeemed it
        before = chain.snapshot()
        # The back button: the same callback again in the same browser.
        again = browser.get(callback, follow_redirects=False)
        assert_failure_page(again, 400, STATE, f"{chain.isso}/login")
        chain.assert_logged(again, "federated login failed", kind="state")
    # The same callback URL replayed from somewhere else.
    with httpx.Client() as other:
        replay = other.get(callback)
        assert_failure_page(replay, 400, STATE, f"{chain.isso}/login")
        chain.assert_logged(replay, "federated login failed", kind="state")
        chain.assert_not_logged_in(other)
    assert chain.snapshot() == before


def test_a_callback_for_someone_elses_login_is_refused(chain: Running) -> None:
    """Login CSRF: an attacker logs in at gdzwfw_idp and slips the callback
    into a victim's browser, which has a login of its own under way."""
    with httpx.Client() as attacker:
        _, planted = up_to_the_callback(chain, attacker, "demo_l3")
    with httpx.Client() as victim:
        pending = victim.get(f"{chain.isso}/federation/gdzwfw/start")
        # The victim's own request was pushed (PAR): its state is not in the URL, and is not the planted one.
        assert pending.status_code in (302, 303) and "request_uri" in params_of(pending.headers["location"])
        before = chain.snapshot()
        page = victim.get(planted)
        assert_failure_page(page, 400, STATE, f"{chain.isso}/login")
        chain.assert_logged(page, "federated login failed", kind="state")
        chain.assert_not_logged_in(victim)
    assert chain.snapshot() == before
    assert code_used_at(chain, params_of(planted)["code"]) is None


def test_a_cancel_at_the_provincial_page_is_passed_on_to_the_waiting_client(chain: Running) -> None:
    """demo-rp needs 五级（原L3）; the ISSO forwards that to gdzwfw_idp, which
    tells the L2 legal person so, and the person goes back instead of
    upgrading: the ISSO ends demo-rp's request with the province's answer."""
    params = authorize_params(Pkce.new(), claims=essential_acr_claims("urn:gdzwfw:loa:L3"))
    before = chain.snapshot()
    with httpx.Client() as browser:
        login_page = browser.get(f"{chain.isso}/authorize", params=params, follow_redirects=True)
        idp_page = browser.get(gdzwfw_link(login_page), follow_redirects=True)
        unmet = login_at_gdzwfw(browser, idp_page, "demo_l2")
        unmet = settle(browser, unmet)
        assert unmet.status_code == 403 and "账号可信等级不足" in unmet.text and "返回“广东人社统一认证”" in unmet.text, unmet.text[:500]
        declined = browser.post(
            f"{chain.url('gdzwfw_idp')}/authorize/decline",
            data={"csrf_token": form_value(unmet.text, "csrf_token"), "interaction": form_value(unmet.text, "interaction")},
        )
        callback = follow_until(browser, declined, f"{chain.url('hrss_isso')}{CALLBACK}")
        assert params_of(callback)["error"] == "unmet_authentication_requirements"
        answer = browser.get(callback)
        assert answer.status_code == 302 and answer.headers["location"].startswith(DEMO_REDIRECT), answer.text[:500]
        told = query_of(answer)
        assert (told["error"], told["state"], told["iss"]) == (
            "unmet_authentication_requirements",
            params["state"],
            chain.isso,
        ) and "code" not in told
        chain.assert_logged(answer, "federated login failed", kind="upstream_error", upstream_error="unmet_authentication_requirements")
        chain.assert_not_logged_in(browser)
    assert chain.snapshot() == before


def test_cancelling_at_the_provincial_login_page_reaches_the_portal(chain: Running) -> None:
    """取消登录 on gdzwfw_idp's login page: access_denied to the ISSO, which
    ends the portal's request with it; the portal says so in Chinese."""
    before = chain.snapshot()
    with httpx.Client() as browser:
        portal = chain.url("refund_portal")
        login_page = browser.get(f"{portal}/login", follow_redirects=True)
        idp_page = browser.get(gdzwfw_link(login_page), follow_redirects=True)
        assert "取消登录，返回“广东人社统一认证”" in idp_page.text
        cancelled = browser.post(
            f"{chain.url('gdzwfw_idp')}/authorize/decline",
            data={
                "csrf_token": form_value(idp_page.text, "csrf_token"),
                "interaction": form_value(idp_page.text, "interaction"),
                "reason": "cancel",
            },
        )
        callback = follow_until(browser, cancelled, f"{chain.url('hrss_isso')}{CALLBACK}")
        assert params_of(callback)["error"] == "access_denied"
        answer = browser.get(callback)
        chain.assert_logged(answer, "federated login failed", kind="upstream_error", upstream_error="access_denied")
        told = browser.get(answer.headers["location"], follow_redirects=True)
        assert str(told.url).startswith(f"{portal}/auth/callback") and told.status_code == 400
        assert "您已取消登录。" in told.text and 'href="/login"' in told.text
        chain.assert_not_logged_in(browser)
    assert chain.snapshot() == before


# -- beside a stand-in province -----------------------------------------------------


def park_at_isso(isso: Running, browser: httpx.Client) -> str:
    """demo-rp's authorization request, parked at the ISSO's login page."""
    parked = browser.get(f"{isso.isso}/authorize", params=authorize_params(Pkce.new()))
    assert parked.status_code == 303, parked.text[:300]
    return params_of(parked.headers["location"])["interaction"]


@pytest.mark.parametrize("answer", ["down", "slow", "500", "html", "not_an_object", "not_metadata"])
def test_no_usable_discovery_document_at_the_start(broken: tuple[Running, Province], answer: str) -> None:
    isso, province = broken
    province.discovery = answer
    before = isso.snapshot()
    with httpx.Client() as browser:
        interaction = park_at_isso(isso, browser)
        with province.down() if answer == "down" else nullcontext():
            page = browser.get(f"{isso.isso}/federation/gdzwfw/start?interaction={interaction}")
        assert_failure_page(page, 502, UNREACHABLE, f"{isso.isso}/login?interaction={interaction}")
        if answer == "slow":
            assert TIMEOUT <= page.elapsed.total_seconds() < HANG  # ISSO_GDZWFW_TIMEOUT bounds the wait
        isso.assert_logged(page, "gdzwfw unreachable at start", kind="unreachable")
        isso.assert_not_logged_in(browser)
    assert isso.snapshot() == before


def through_the_province(isso: Running, browser: httpx.Client) -> str:
    """Start at the ISSO; the stand-in logs the user in at once; returns the
    callback URL it sends the browser back to."""
    start = browser.get(f"{isso.isso}/federation/gdzwfw/start")
    return follow_until(browser, start, f"{isso.url('hrss_isso')}{CALLBACK}")


def test_the_stand_in_province_does_log_a_unit_in_when_it_answers_properly(forging: tuple[Running, Province]) -> None:
    """The control for the cases below: the same path with honest answers
    logs the 越秀 unit in and records it."""
    isso, province = forging
    province.token = "ok"
    _, logins, _ = isso.snapshot()
    with httpx.Client() as browser:
        done = browser.get(through_the_province(isso, browser))
        assert done.status_code == 303 and done.headers["location"] == f"{isso.isso}/", done.text[:500]
        assert "广州市越秀区示范贸易有限公司" in browser.get(f"{isso.isso}/").text
    links, after, _ = isso.snapshot()
    assert after == logins + 1 and (province.issuer, "91440104MA5DL2B24P", "province-l2") in [link[1:] for link in links]


@pytest.mark.parametrize(
    ("answer", "status", "sentence", "kind"),
    [
        pytest.param("slow", 502, UNREACHABLE, "unreachable", id="slow"),
        pytest.param("500", 502, UNREACHABLE, "unreachable", id="500"),
        pytest.param("html", 400, INVALID, "invalid_response", id="garbage"),
        pytest.param("no_id_token", 400, INVALID, "invalid_response", id="no-id-token"),
        pytest.param("invalid_grant", 400, NOT_DONE, "upstream_error", id="error-answer"),
        pytest.param("forged", 400, INVALID, "invalid_response", id="bad-signature"),
    ],
)
def test_a_province_failing_at_the_token_endpoint(
    forging: tuple[Running, Province], answer: str, status: int, sentence: str, kind: str
) -> None:
    isso, province = forging
    province.token = answer
    before = isso.snapshot()
    with httpx.Client() as browser:
        callback = through_the_province(isso, browser)
        page = browser.get(callback)
        assert_failure_page(page, status, sentence, f"{isso.isso}/login")
        if answer == "slow":
            assert TIMEOUT <= page.elapsed.total_seconds() < HANG
        isso.assert_logged(page, "federated login failed", kind=kind)
        isso.assert_not_logged_in(browser)
    assert province.redeemed[-1] == params_of(callback)["code"]  # it failed at the token endpoint, not before
    assert isso.snapshot() == before
