"""``create_app(settings)`` for 广东省统一身份认证平台 (gdzwfw_idp, port 8001)."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from services.gdzwfw_idp.demo import DEMO_CLIENTS, load_demo_data
from services.gdzwfw_idp.hooks import IdpHooks
from services.gdzwfw_idp.login import LoginService
from services.gdzwfw_idp.models import kv_table, provider_tables
from services.gdzwfw_idp.pages import pages_router
from services.gdzwfw_idp.settings import IdpSettings
from shared.clock import Clock, SystemClock
from shared.db import Database
from shared.kvstore import make_kv_store
from shared.oauth.provider.keys import KeyManager
from shared.oauth.provider.provider import Provider, ProviderConfig
from shared.oauth.provider.routes import provider_router
from shared.passwords import PasswordService
from shared.randomness import SystemTokenSource, TokenSource
from shared.ratelimit import Limiter
from shared.web.app import build_app

__all__ = ["create_app"]

TEMPLATES = Path(__file__).parent / "templates"


def create_app(
    settings: IdpSettings,
    *,
    clock: Clock | None = None,
    tokens: TokenSource | None = None,
    passwords: PasswordService | None = None,
) -> FastAPI:
    clock = clock or SystemClock()
    tokens = tokens or SystemTokenSource()
    passwords = passwords or PasswordService()
    db = Database(settings.database_url)
    kv = make_kv_store(redis_url=settings.redis_url, namespace="gdzwfw", db=db, table=kv_table, clock=clock)
    keys = KeyManager(
        tables=provider_tables,
        clock=clock,
        secret_key=settings.secret_key.get_secret_value(),
        publish_grace=settings.id_token_ttl + 300,
    )
    provider = Provider(
        ProviderConfig(
            issuer=settings.public_url,
            tables=provider_tables,
            clock=clock,
            tokens=tokens,
            kv=kv,
            keys=keys,
            hooks=IdpHooks(settings.public_url),
            code_ttl=settings.code_ttl,
            access_token_ttl=settings.access_token_ttl,
            refresh_token_ttl=settings.refresh_token_ttl,
            id_token_ttl=settings.id_token_ttl,
            claims_supported=("sub", "acr", "amr", "auth_time", "trust_level", "account_type", "org_name", "uscc", "legal_rep_name", "name", "act"),
        ),
        db,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        def prepare() -> None:
            demo = settings.is_development and settings.demo_data
            provider.prepare(list(settings.clients) + (DEMO_CLIENTS if demo else []))
            if demo:
                load_demo_data(db, passwords=passwords, clock=clock)

        await run_in_threadpool(prepare)
        yield
        db.dispose()

    app = build_app(
        service_name="gdzwfw_idp",
        title="广东省统一身份认证平台",
        settings=settings,
        db=db,
        kv=kv,
        clock=clock,
        tokens=tokens,
        template_dirs=[TEMPLATES],
        cookie_name="gdzwfw_sid",
        brand="广东省统一身份认证平台",
    )
    app.router.lifespan_context = lifespan
    app.state.provider = provider
    app.state.login_service = LoginService(
        passwords=passwords,
        per_account=Limiter(kv, "login-account", settings.login_max_failures, settings.login_lock_seconds),
        per_address=Limiter(kv, "login-address", settings.login_max_per_address, settings.login_lock_seconds),
    )
    app.include_router(provider_router(provider))
    app.include_router(pages_router())
    return app
