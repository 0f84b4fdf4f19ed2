"""The refund portal in-process: hrss_isso faked at the transport (respx) with
a real signing key for logins and a token table for introspection; a frozen
clock; a cheap argon2 so staff logins are fast."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey

from services.refund_portal.agency.imports import apply_plan, prepare
from services.refund_portal.app import create_app
from services.refund_portal.audit import Actor
from services.refund_portal.demo import DEMO_RECORDS, DEMO_STAFF, DEMO_STAFF_PASSWORD, demo_csv
from services.refund_portal.settings import RefundSettings
from services.refund_portal.staff import create_staff, find_staff
from shared.clock import FrozenClock
from shared.passwords import PasswordService
from shared.totp import totp
from tests.redis_run import redis_settings

ISSO = "https://isso.example/isso"
PORTAL = "http://127.0.0.1:8003"
KEY = RSAKey.generate_key(2048, parameters={"kid": "isso-1", "alg": "RS256", "use": "sig"})
STAFF_PASSWORD = DEMO_STAFF_PASSWORD
STAFF_TOTP = "KRSXG5CUIFTGMVDPORYA"  # every fixture staff member's TOTP secret
FAST_PASSWORDS = PasswordService(time_cost=1, memory_cost=1024)

# The hrss_isso demo units (README): the portal sees them through these claims.
UNIT_L2 = {"sub": "unit-2", "org_name": "广州市越秀区示范贸易有限公司", "uscc": "91440104MA5DL2B24P", "unit_code": "44010400002"}
UNIT_L3 = {"sub": "unit-3", "org_name": "广州市荔湾区示范制造有限公司", "uscc": "91440103MA5DL3C31X", "unit_code": "44010300003"}
UNIT_L1 = {"sub": "unit-1", "org_name": "广州市天河区示范科技有限公司", "uscc": "91440106MA5DL1A170", "unit_code": "44010600001"}
HANDLER = {"sub": "person-42", "name": "陈晓"}
L1, L2, L3 = (f"urn:gdzwfw:loa:L{n}" for n in (1, 2, 3))
AUDIT_KEYS = {"t1": "test-audit-key-test-audit-key-0123456789"}
# What a client of the refund API registered for both scopes asks for.
FULL_SCOPE = "openid profile refund.read refund.confirm"

# The demo's rows (one per hrss_isso demo unit), copied so that no test can change the demo.
ROW_L1, ROW_L2, ROW_L3 = (list(row) for row in DEMO_RECORDS)


def serve_discovery(router: respx.MockRouter) -> respx.Route:
    """hrss_isso's discovery document and JWKS (KEY's public half); the
    token endpoint's route is returned for the test to answer."""
    router.get(f"{ISSO}/.well-known/openid-configuration").respond(
        json={
            "issuer": ISSO,
            "authorization_endpoint": f"{ISSO}/authorize",
            "token_endpoint": f"{ISSO}/token",
            "jwks_uri": f"{ISSO}/jwks.json",
            "introspection_endpoint": f"{ISSO}/introspect",
            "end_session_endpoint": f"{ISSO}/logout",
            "id_token_signing_alg_values_supported": ["RS256"],
            "authorization_response_iss_parameter_supported": True,
        }
    )
    router.get(f"{ISSO}/jwks.json").respond(json={"keys": [KEY.as_dict(private=False)]})
    return router.post(f"{ISSO}/token")


class FakeIsso:
    """hrss_isso's discovery, JWKS, token and introspection endpoints."""

    def __init__(self, router: respx.MockRouter, clock: FrozenClock) -> None:
        self.clock = clock
        self.tokens: dict[str, dict] = {}
        self.introspections = 0
        self.token_route = serve_discovery(router)
        router.post(f"{ISSO}/introspect").mock(side_effect=self._introspect)

    def _introspect(self, request: httpx.Request) -> httpx.Response:
        self.introspections += 1
        token = parse_qs(request.content.decode())["token"][0]
        claims = self.tokens.get(token)
        if claims is None:
            return httpx.Response(200, json={"active": False})
        body = {"active": True, "iss": ISSO, "client_id": "other-hrss-app", "token_type": "Bearer", "exp": self.clock.timestamp() + 900}
        return httpx.Response(200, json={**body, **claims})

    def issue(self, token: str, *, unit: dict, acr: str = L2, act: dict | None = HANDLER, scope: str | None = FULL_SCOPE, **extra) -> str:
        """An access token as hrss_isso introspects it; ``scope=None`` leaves
        the scope out of the answer altogether."""
        claims = {**unit, "acr": acr, "trust_level": acr.rsplit(":", 1)[-1], **({"act": act} if act else {}), **extra}
        if scope is not None:
            claims["scope"] = scope
        self.tokens[token] = claims
        return token

    def revoke(self, token: str) -> None:
        self.tokens.pop(token, None)

    def logout_token(self, sid: str) -> str:
        """A back-channel logout notice naming the ISSO session ``sid``."""
        now = self.clock.timestamp()
        claims = {"iss": ISSO, "aud": "refund-portal", "iat": now, "exp": now + 120, "jti": f"jti-{sid}-{now}", "sid": sid}
        claims["events"] = {"http://schemas.openid.net/event/backchannel-logout": {}}
        return jwt.encode({"alg": "RS256", "kid": "isso-1", "typ": "logout+jwt"}, claims, KEY)

    def answer_login(self, nonce: str, claims: dict) -> None:
        now = int(time.time())
        body = {"iss": ISSO, "aud": ["refund-portal"], "iat": now, "exp": now + 600, "auth_time": now, "nonce": nonce, **claims}
        id_token = jwt.encode({"alg": "RS256", "kid": "isso-1"}, body, KEY)
        self.token_route.respond(json={"access_token": "at", "token_type": "Bearer", "expires_in": 900, "id_token": id_token})


@dataclass
class Env:
    client: TestClient
    isso: FakeIsso
    clock: FrozenClock
    app: FastAPI
    settings: RefundSettings
    staff_ids: dict[str, int] = field(default_factory=dict)
    # TOTP secrets of staff that do not have STAFF_TOTP (made by a test).
    staff_secrets: dict[str, str] = field(default_factory=dict)

    @property
    def db(self):
        return self.app.state.db

    @property
    def audit_keys(self):
        return self.app.state.audit_keys

    def login_unit(self, unit: dict, *, acr: str = L2, act: dict | None = HANDLER) -> None:
        response = self.client.get("/login", follow_redirects=False)
        query = {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}
        claims = {**unit, "acr": acr, **({"act": act} if act else {})}
        self.isso.answer_login(query["nonce"], claims)
        done = self.client.get("/auth/callback", params={"code": "c0de", "state": query["state"], "iss": ISSO}, follow_redirects=False)
        assert done.status_code == 303, done.text[:300]

    def staff_code(self, login_name: str) -> str:
        """The staff member's current 动态口令, in a time step of its own: each
        code is accepted once, so every login moves the clock on one step."""
        self.clock.advance(30)
        return totp(self.staff_secrets.get(login_name, STAFF_TOTP), self.clock.timestamp())

    def login_staff(self, login_name: str, password: str = STAFF_PASSWORD, *, code: str | None = None) -> httpx.Response:
        page = self.client.get("/agency/login")
        code = self.staff_code(login_name) if code is None else code
        return self.client.post(
            "/agency/login",
            data={"csrf_token": csrf_of(page.text), "login_name": login_name, "password": password, "totp": code, "next": "/agency/"},
            follow_redirects=False,
        )

    def import_rows(self, rows: list[list[str]], *, year: int = 2026) -> None:
        """Records as an import by the system would make them."""
        with self.db.transaction() as s:
            plan = prepare(s, policies=self.app.state.policies, year=year, filename="fixture.csv", content=demo_csv(rows), max_rows=100)
            assert not plan.errors, plan.errors
            system = Actor(kind="system", id="test", name="测试")
            apply_plan(s, plan, mode="all", actor=system, staff_id=None, clock=self.clock, audit_keys=self.audit_keys)

    def csrf(self, path: str = "/agency/login") -> str:
        return csrf_of(self.client.get(path).text)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no csrf_token on the page"
    return match.group(1)


@pytest.fixture
def make_settings(fresh_database: Callable[[str], str]) -> Callable[..., RefundSettings]:
    url = fresh_database("refund_portal")

    def build(**overrides) -> RefundSettings:
        values = {
            "environment": "test",
            "database_url": url,
            "secret_key": "test-secret-key-test-secret-key-0123456789",
            "public_url": PORTAL,
            "cookie_secure": False,
            "isso_issuer": ISSO,
            "isso_client_secret": "s3cret",
            "gdzwfw_verification_url": "http://127.0.0.1:8001/account/verification",
            "introspection_cache_seconds": 30,
            "audit_keys": AUDIT_KEYS,
            **redis_settings("refund_portal"),
        }
        values.update(overrides)
        return RefundSettings(**values)

    return build


@pytest.fixture
def env(make_settings) -> Iterator[Env]:
    yield from _env(make_settings())


def _env(settings: RefundSettings) -> Iterator[Env]:
    clock = FrozenClock(dt.datetime(2026, 11, 28, 1, 0, tzinfo=dt.UTC))
    with respx.mock(assert_all_called=False) as router:
        router.route(host="127.0.0.1").pass_through()
        isso = FakeIsso(router, clock)
        app = create_app(settings, clock=clock, passwords=FAST_PASSWORDS)
        with TestClient(app, base_url=PORTAL) as client:
            environment = Env(client=client, isso=isso, clock=clock, app=app, settings=settings)
            with app.state.db.transaction() as s:
                for spec in DEMO_STAFF:
                    account = find_staff(s, login_name=spec["login_name"]) or create_staff(
                        s,
                        **spec,
                        password_hash=FAST_PASSWORDS.hash(STAFF_PASSWORD),
                        totp_secret_encrypted=app.state.staff_login.cipher.encrypt(STAFF_TOTP),
                        clock=clock,
                    )
                    environment.staff_ids[spec["login_name"]] = account.id
            yield environment


@pytest.fixture
def env_factory(make_settings) -> Iterator[Callable[..., Env]]:
    """For tests that need other settings (cache bound, demo data …)."""
    stack: list[Iterator[Env]] = []

    def build(**overrides) -> Env:
        gen = _env(make_settings(**overrides))
        stack.append(gen)
        return next(gen)

    yield build
    for gen in reversed(stack):
        with contextlib.suppress(StopIteration):
            next(gen)
