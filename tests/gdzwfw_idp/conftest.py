"""An in-process gdzwfw_idp with a frozen clock and demo data."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.gdzwfw_idp.app import create_app
from services.gdzwfw_idp.demo import DEMO_PASSWORD
from services.gdzwfw_idp.settings import IdpSettings
from shared.clock import FrozenClock
from shared.passwords import PasswordService
from tests.chain_helpers import form_value
from tests.oidc_helpers import DEMO_RP, Pkce, authorize_params, query_of
from tests.redis_run import redis_settings

ISSUER = "http://127.0.0.1:8001"


@dataclass
class Idp:
    app: FastAPI
    client: TestClient
    clock: FrozenClock
    settings: IdpSettings

    def new_browser(self) -> TestClient:
        """Another user agent (its own cookies) on the same app."""
        return TestClient(self.app, base_url=ISSUER)

    def login(self, login_name: str, *, browser: TestClient | None = None, **how: Any) -> httpx.Response:
        """Start at /authorize, log in on the page, return the final redirect
        (``how``: :meth:`logged_in`'s ``params``, ``password``, ``tab``)."""
        browser = browser or self.client
        done = self.logged_in(login_name, browser=browser, **how)
        if done.status_code != 303 or done.request.url.path != "/login":
            return done
        return browser.get(done.headers["location"], follow_redirects=False)

    def logged_in(
        self,
        login_name: str,
        *,
        params: dict[str, str],
        browser: TestClient | None = None,
        password: str = DEMO_PASSWORD,
        tab: str = "legal",
    ) -> httpx.Response:
        """Start at /authorize and log in on the page: the answer to the
        login (a 303 to the resume when it succeeded), not followed."""
        browser = browser or self.client
        first = browser.get("/authorize", params=params, follow_redirects=False)
        if first.status_code != 303:
            return first
        page = browser.get(first.headers["location"])
        return browser.post(
            "/login",
            data={
                "csrf_token": form_value(page.text, "csrf_token"),
                "interaction": form_value(page.text, "interaction"),
                "tab": tab,
                "login_name": login_name,
                "password": password,
            },
            follow_redirects=False,
        )

    def code_for(self, login_name: str, pkce: Pkce, **extra: str) -> str:
        response = self.login(login_name, params=authorize_params(pkce, **extra))
        assert response.status_code == 302, response.text[:300]
        return query_of(response)["code"]

    def redeem(self, code: str, pkce: Pkce | None, *, auth: tuple[str, str] = DEMO_RP, client: TestClient | None = None) -> httpx.Response:
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": "http://127.0.0.1:8099/cb"}
        if pkce is not None:
            data["code_verifier"] = pkce.verifier
        return (client or self.client).post("/token", data=data, auth=auth)


@pytest.fixture
def make_idp(fresh_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Idp]]:
    clients: list[TestClient] = []

    def build(**overrides) -> Idp:
        # Never the developer's var/certs: a test trusts only the PKI it is given.
        overrides.setdefault("dev_certs_dir", str(tmp_path_factory.mktemp("no-certs") / "absent"))
        settings = IdpSettings(
            environment="development",
            database_url=fresh_database("gdzwfw_idp"),
            secret_key="test-secret-key-test-secret-key-0123456789",
            public_url=ISSUER,
            cookie_secure=False,
            log_json=False,
            **{**redis_settings("gdzwfw_idp"), **overrides},
        )
        clock = FrozenClock()
        # A cheap argon2 setting keeps demo-data hashing fast; the hash type is still argon2id.
        app = create_app(settings, clock=clock, passwords=PasswordService(time_cost=1, memory_cost=1024))
        client = TestClient(app, base_url=ISSUER)
        client.__enter__()
        clients.append(client)
        return Idp(app=app, client=client, clock=clock, settings=settings)

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def idp(make_idp: Callable[..., Idp]) -> Idp:
    return make_idp()


# -- the test PKI and the electronic-licence authority key ------------------------
@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory):
    """The project's test CA hierarchy, valid at the frozen clock's time."""
    from devtools.certs import generate

    return generate(tmp_path_factory.mktemp("pki"), now=FrozenClock().now())


@pytest.fixture
def pki_idp(make_idp: Callable[..., Idp], pki) -> Idp:
    """An idp that trusts the test PKI and the licence authority's key."""
    return make_idp(**pki.settings())
