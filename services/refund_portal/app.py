"""``create_app(settings)`` for 失业保险稳岗返还 (refund_portal, port 8003)."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI

from services.refund_portal.api import api_router
from services.refund_portal.models import kv_table
from services.refund_portal.pages import pages_router
from services.refund_portal.settings import RefundSettings
from shared.clock import Clock, SystemClock
from shared.db import Database
from shared.kvstore import make_kv_store
from shared.oauth.client import RelyingParty
from shared.oauth.introspection import TokenIntrospector
from shared.randomness import SystemTokenSource, TokenSource
from shared.web.app import build_app

__all__ = ["create_app"]

TEMPLATES = Path(__file__).parent / "templates"


def create_app(
    settings: RefundSettings,
    *,
    clock: Clock | None = None,
    tokens: TokenSource | None = None,
    upstream_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    clock = clock or SystemClock()
    tokens = tokens or SystemTokenSource()
    db = Database(settings.database_url)
    kv = make_kv_store(redis_url=settings.redis_url, namespace="refund", db=db, table=kv_table, clock=clock)
    rp = RelyingParty(
        name="isso",
        issuer=settings.isso_issuer,
        client_id=settings.isso_client_id,
        client_secret=settings.isso_client_secret.get_secret_value(),
        redirect_uri=f"{settings.public_url}/auth/callback",
        timeout=settings.isso_timeout,
        transport=upstream_transport,
    )
    http = httpx.AsyncClient(timeout=settings.isso_timeout, transport=upstream_transport)

    async def introspection_endpoint() -> str:
        return (await rp.metadata())["introspection_endpoint"]

    introspector = TokenIntrospector(
        endpoint=introspection_endpoint,
        issuer=rp.issuer,
        client_id=settings.isso_client_id,
        client_secret=settings.isso_client_secret.get_secret_value(),
        cache=kv,
        clock=clock,
        cache_seconds=settings.introspection_cache_seconds,
        http=http,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        await http.aclose()
        db.dispose()

    app = build_app(
        service_name="refund_portal",
        title="失业保险稳岗返还",
        settings=settings,
        db=db,
        kv=kv,
        clock=clock,
        tokens=tokens,
        template_dirs=[TEMPLATES],
        cookie_name="refund_sid",
        brand="失业保险稳岗返还",
    )
    app.router.lifespan_context = lifespan
    app.state.rp = rp
    app.state.introspector = introspector
    app.include_router(pages_router(rp=rp))
    app.include_router(api_router(introspector=introspector))
    return app
