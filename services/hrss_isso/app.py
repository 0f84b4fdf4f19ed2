"""``create_app(settings)`` for 广东人社统一认证 (hrss_isso, port 8002, /isso/)."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from services.hrss_isso.demo import DEMO_CLIENTS, load_demo_data
from services.hrss_isso.hooks import IssoHooks
from services.hrss_isso.models import kv_table, provider_tables
from services.hrss_isso.pages import pages_router
from services.hrss_isso.settings import IssoSettings
from shared.clock import Clock, SystemClock
from shared.db import Database
from shared.kvstore import make_kv_store
from shared.oauth.client import RelyingParty
from shared.oauth.provider.keys import KeyManager
from shared.oauth.provider.provider import Provider, ProviderConfig
from shared.oauth.provider.routes import provider_router
from shared.randomness import SystemTokenSource, TokenSource
from shared.web.app import build_app

__all__ = ["create_app"]

TEMPLATES = Path(__file__).parent / "templates"


def create_app(
    settings: IssoSettings,
    *,
    clock: Clock | None = None,
    tokens: TokenSource | None = None,
    upstream_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    clock = clock or SystemClock()
    tokens = tokens or SystemTokenSource()
    db = Database(settings.database_url)
    kv = make_kv_store(redis_url=settings.redis_url, namespace="isso", db=db, table=kv_table, clock=clock)
    issuer = settings.issuer
    provider = Provider(
        ProviderConfig(
            issuer=issuer,
            tables=provider_tables,
            clock=clock,
            tokens=tokens,
            kv=kv,
            keys=KeyManager(
                tables=provider_tables, clock=clock, secret_key=settings.secret_key.get_secret_value(), publish_grace=settings.id_token_ttl + 300
            ),
            hooks=IssoHooks(issuer=issuer, upgrade_url=settings.gdzwfw_verification_url),
            code_ttl=settings.code_ttl,
            access_token_ttl=settings.access_token_ttl,
            refresh_token_ttl=settings.refresh_token_ttl,
            id_token_ttl=settings.id_token_ttl,
            claims_supported=("sub", "acr", "amr", "auth_time", "trust_level", "org_name", "uscc", "unit_code", "idp", "act"),
        ),
        db,
    )
    rp = RelyingParty(
        name="gdzwfw",
        issuer=settings.gdzwfw_issuer,
        client_id=settings.gdzwfw_client_id,
        client_secret=settings.gdzwfw_client_secret.get_secret_value(),
        redirect_uri=f"{issuer}/federation/gdzwfw/callback",
        timeout=settings.gdzwfw_timeout,
        transport=upstream_transport,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        def prepare() -> None:
            demo = settings.is_development and settings.demo_data
            provider.prepare(list(settings.clients) + (DEMO_CLIENTS if demo else []))
            if demo:
                load_demo_data(db, clock=clock, gdzwfw_issuer=settings.gdzwfw_issuer)

        await run_in_threadpool(prepare)
        yield
        db.dispose()

    app = build_app(
        service_name="hrss_isso",
        title="广东人社统一认证",
        settings=settings,
        db=db,
        kv=kv,
        clock=clock,
        tokens=tokens,
        template_dirs=[TEMPLATES],
        cookie_name="isso_sid",
        brand="广东人社统一认证",
        home_path="/isso/",
    )
    app.router.lifespan_context = lifespan
    app.state.provider = provider
    app.state.rp = rp
    app.include_router(provider_router(provider, prefix="/isso"))
    app.include_router(pages_router(provider=provider, rp=rp))

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/isso/", status_code=303)

    return app
