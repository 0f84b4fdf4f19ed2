"""``create_app(settings)`` for 失业保险稳岗返还 (refund_portal, port 8003)."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from services.refund_portal.api import api_router
from services.refund_portal.models import kv_table
from services.refund_portal.pages import pages_router
from services.refund_portal.settings import RefundSettings
from shared.clock import Clock
from shared.oauth.client import RelyingParty
from shared.oauth.introspection import TokenIntrospector
from shared.randomness import TokenSource
from shared.web.app import Runtime, build_app

__all__ = ["create_app"]

TEMPLATES = Path(__file__).parent / "templates"


def create_app(
    settings: RefundSettings,
    *,
    clock: Clock | None = None,
    tokens: TokenSource | None = None,
    upstream_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    runtime = Runtime.create(settings, namespace="refund", kv_table=kv_table, clock=clock, tokens=tokens)
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
        cache=runtime.kv,
        clock=runtime.clock,
        cache_seconds=settings.introspection_cache_seconds,
        http=http,
    )

    app = build_app(
        runtime=runtime,
        service_name="refund_portal",
        title="失业保险稳岗返还",
        template_dirs=[TEMPLATES],
        cookie_name="refund_sid",
        brand="失业保险稳岗返还",
        on_shutdown=http.aclose,
    )
    app.state.rp = rp
    app.state.introspector = introspector
    app.include_router(pages_router(rp=rp))
    app.include_router(api_router(introspector=introspector))
    return app
