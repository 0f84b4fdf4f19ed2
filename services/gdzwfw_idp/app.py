"""``create_app(settings)`` for 广东省统一身份认证平台 (gdzwfw_idp, port 8001)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.gdzwfw_idp.demo import DEMO_CLIENTS, load_demo_data
from services.gdzwfw_idp.hooks import IdpHooks
from services.gdzwfw_idp.login import LoginService
from services.gdzwfw_idp.models import kv_table, provider_tables
from services.gdzwfw_idp.pages import pages_router
from services.gdzwfw_idp.settings import IdpSettings
from shared.clock import Clock
from shared.oauth.provider.provider import Provider
from shared.oauth.provider.routes import provider_router
from shared.passwords import PasswordService
from shared.randomness import TokenSource
from shared.ratelimit import Limiter
from shared.web.app import Runtime, build_app

__all__ = ["create_app"]

TEMPLATES = Path(__file__).parent / "templates"
CLAIMS = ("account_type", "org_name", "uscc", "legal_rep_name", "name", "act")


def create_app(
    settings: IdpSettings,
    *,
    clock: Clock | None = None,
    tokens: TokenSource | None = None,
    passwords: PasswordService | None = None,
) -> FastAPI:
    runtime = Runtime.create(settings, namespace="gdzwfw", kv_table=kv_table, clock=clock, tokens=tokens)
    passwords = passwords or PasswordService()
    provider = Provider.configure(
        settings,
        issuer=settings.public_url,
        db=runtime.db,
        kv=runtime.kv,
        clock=runtime.clock,
        tokens=runtime.tokens,
        tables=provider_tables,
        hooks=IdpHooks(settings.public_url),
        claims_supported=CLAIMS,
    )

    def prepare() -> None:
        provider.prepare(list(settings.clients) + (DEMO_CLIENTS if settings.loads_demo_data else []))
        if settings.loads_demo_data:
            load_demo_data(runtime.db, passwords=passwords, clock=runtime.clock)

    app = build_app(
        runtime=runtime,
        service_name="gdzwfw_idp",
        title="广东省统一身份认证平台",
        template_dirs=[TEMPLATES],
        cookie_name="gdzwfw_sid",
        brand="广东省统一身份认证平台",
        on_startup=prepare,
    )
    app.state.provider = provider
    app.state.login_service = LoginService(
        passwords=passwords,
        per_account=Limiter(runtime.kv, "login-account", settings.login_max_failures, settings.login_lock_seconds),
        per_address=Limiter(runtime.kv, "login-address", settings.login_max_per_address, settings.login_lock_seconds),
    )
    app.include_router(provider_router(provider))
    app.include_router(pages_router())
    return app
