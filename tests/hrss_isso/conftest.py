"""An in-process hrss_isso with a frozen clock, demo data, cheap argon2, a
temporary upload directory and, when a test needs the province, a fake
gdzwfw_idp at the transport (discovery, JWKS from a fresh key, signed ID
tokens)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.hrss_isso.app import create_app
from services.hrss_isso.demo import DEMO_PASSWORD
from services.hrss_isso.settings import IssoSettings
from shared.clock import FrozenClock
from shared.passwords import PasswordService
from tests.chain_helpers import form_value
from tests.redis_run import redis_settings

ISSO = "http://127.0.0.1:8002"
ISSUER = f"{ISSO}/isso"
GDZWFW = "http://127.0.0.1:8001"
GDZWFW_KEY = RSAKey.generate_key(2048, parameters={"kid": "gd-1", "alg": "RS256", "use": "sig"})

__all__ = ["Isso", "FakeGdzwfw", "ISSO", "ISSUER", "GDZWFW", "DEMO_PASSWORD", "csrf_of"]


def csrf_of(html: str) -> str:
    return form_value(html, "csrf_token")


class FakeGdzwfw:
    """gdzwfw_idp as the ISSO's back channel sees it; the test plays the
    browser's part at /authorize by reading ``state`` and ``nonce``."""

    def __init__(self) -> None:
        self.codes: dict[str, dict] = {}
        self.transport = httpx.MockTransport(self.handle)
        # Its signing key, for tests that sign as the province (logout
        # tokens): pytest may load this conftest apart from an import of it,
        # each with its own GDZWFW_KEY.
        self.key = GDZWFW_KEY

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": GDZWFW,
                    "authorization_endpoint": f"{GDZWFW}/authorize",
                    "token_endpoint": f"{GDZWFW}/token",
                    "jwks_uri": f"{GDZWFW}/jwks.json",
                    "userinfo_endpoint": f"{GDZWFW}/userinfo",
                    "end_session_endpoint": f"{GDZWFW}/logout",
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "authorization_response_iss_parameter_supported": True,
                },
            )
        if path == "/jwks.json":
            return httpx.Response(200, json={"keys": [GDZWFW_KEY.as_dict(private=False)]})
        if path == "/token":
            code = parse_qs(request.content.decode())["code"][0]
            claims = self.codes.pop(code)
            id_token = jwt.encode({"alg": "RS256", "kid": "gd-1"}, claims, GDZWFW_KEY)
            return httpx.Response(200, json={"access_token": "at-" + code, "token_type": "Bearer", "expires_in": 900, "id_token": id_token})
        return httpx.Response(404)

    def login(self, browser: TestClient, start: httpx.Response, **claims) -> httpx.Response:
        """Answer the authorization request ``start`` redirected to, as the
        province would after a login with these claims; returns the ISSO's
        answer to the callback."""
        assert start.status_code in (302, 303), start.text[:300]
        query = {k: v[0] for k, v in parse_qs(urlsplit(start.headers["location"]).query).items()}
        now = int(time.time())
        code = f"code-{len(self.codes) + 1}-{now}"
        self.codes[code] = {
            "iss": GDZWFW,
            "aud": "hrss-isso",
            "iat": now,
            "exp": now + 600,
            "auth_time": now,
            "nonce": query["nonce"],
            **claims,
        }
        return browser.get(
            "/isso/federation/gdzwfw/callback", params={"code": code, "state": query["state"], "iss": GDZWFW}, follow_redirects=False
        )


@dataclass
class Isso:
    app: FastAPI
    client: TestClient
    clock: FrozenClock
    settings: IssoSettings
    fake_gdzwfw: FakeGdzwfw
    browsers: list[TestClient] = field(default_factory=list)

    def new_browser(self) -> TestClient:
        browser = TestClient(self.app, base_url=ISSO)
        self.browsers.append(browser)
        return browser

    @contextmanager
    def db(self) -> Iterator[Session]:
        with self.app.state.db.transaction() as s:
            yield s

    def count(self, model, *where) -> int:
        with self.db() as s:
            return s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()

    # -- SMS ------------------------------------------------------------------
    def outbox(self, mobile: str) -> list[str]:
        from services.hrss_isso.models import sms_tables

        t = sms_tables.outbox
        with self.db() as s:
            return [row.body for row in s.execute(select(t.c.body).where(t.c.mobile == mobile).order_by(t.c.id.desc()))]

    def sms_code(self, mobile: str) -> str:
        messages = self.outbox(mobile)
        assert messages, f"no text message to {mobile}"
        return re.search(r"验证码为(\d{6})", messages[0]).group(1)

    def authorization_code(self, mobile: str) -> str:
        for body in self.outbox(mobile):
            if match := re.search(r"授权码：([0-9A-Z]{8})", body):
                return match.group(1)
        raise AssertionError(f"no authorisation code sent to {mobile}")

    # -- forms ------------------------------------------------------------------
    def post_form(
        self, path: str, data: dict, *, browser: TestClient | None = None, page: str | None = None, files=None, **kwargs
    ) -> httpx.Response:
        """GET ``page`` (default: ``path``) for its CSRF token, then POST."""
        browser = browser or self.client
        form_page = browser.get(page or path)
        assert form_page.status_code == 200, form_page.text[:300]
        return browser.post(path, data={"csrf_token": csrf_of(form_page.text), **data}, files=files, follow_redirects=False, **kwargs)

    def send_sms(self, path: str, mobile_field: str, mobile: str, *, browser: TestClient | None = None) -> httpx.Response:
        response = self.post_form(
            path, {"action": "send_sms", mobile_field: mobile}, browser=browser, headers={"Accept": "application/json"}
        )
        return response

    def login(
        self,
        login_name: str,
        password: str = DEMO_PASSWORD,
        *,
        tab: str = "personal",
        browser: TestClient | None = None,
        interaction: str = "",
    ) -> httpx.Response:
        return self.post_form(
            "/isso/login",
            {"tab": tab, "login_name": login_name, "password": password, "interaction": interaction},
            page=f"/isso/login?tab={tab}&method=password",
            browser=browser,
        )

    def choose_unit(self, unit_id: str, *, browser: TestClient | None = None, interaction: str = "") -> httpx.Response:
        # The login page always has a form, so it always carries the CSRF token.
        return self.post_form(
            "/isso/login/units",
            {"unit_id": unit_id, "interaction": interaction},
            browser=browser,
            page="/isso/login?tab=personal&method=password",
        )


@pytest.fixture
def make_isso(fresh_database: Callable[[str], str]) -> Iterator[Callable[..., Isso]]:
    built: list[Isso] = []

    def start(settings: IssoSettings, clock: FrozenClock, fake: FakeGdzwfw) -> Isso:
        app = create_app(settings, clock=clock, passwords=PasswordService(time_cost=1, memory_cost=1024), upstream_transport=fake.transport)
        client = TestClient(app, base_url=ISSO)
        client.__enter__()
        built.append(Isso(app=app, client=client, clock=clock, settings=settings, fake_gdzwfw=fake))
        return built[-1]

    def build(replica_of: Isso | None = None, **overrides) -> Isso:
        """A new ISSO on an emptied database, or (``replica_of``) another
        replica of one: its own app on the same database, clock and Redis."""
        if replica_of is not None:
            return start(replica_of.settings, replica_of.clock, replica_of.fake_gdzwfw)
        fields = {
            "environment": "development",
            "database_url": fresh_database("hrss_isso"),
            "secret_key": "test-secret-key-test-secret-key-0123456789",
            "public_url": ISSO,
            "cookie_secure": False,
            "log_json": False,
            "gdzwfw_issuer": GDZWFW,
            "gdzwfw_client_secret": "isso-secret-at-gdzwfw",
        }
        settings = IssoSettings(**{**fields, **redis_settings("hrss_isso"), **overrides})
        return start(settings, FrozenClock(), FakeGdzwfw())

    yield build
    for isso in built:
        for browser in isso.browsers:
            browser.close()
        isso.client.__exit__(None, None, None)


@pytest.fixture
def isso(make_isso: Callable[..., Isso]) -> Isso:
    return make_isso()
