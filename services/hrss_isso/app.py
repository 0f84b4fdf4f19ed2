"""``create_app(settings)`` for 广东人社统一认证 (hrss_isso, port 8002, /isso/).

Start-up builds the parts (the account services, the provider, the relying
party of gdzwfw_idp, the back-channel logout validator) and puts them on
``app.state``, where :mod:`services.hrss_isso.deps` finds them; the routers
are module-level and mounted here.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.routing import Mount

from services.hrss_isso.accounts.registry import PopulationRegistry
from services.hrss_isso.accounts.routes import router as accounts_router
from services.hrss_isso.authorisation_codes.routes import router as authorisation_codes_router
from services.hrss_isso.demo import demo_clients, load_demo_data
from services.hrss_isso.federation.routes import router as federation_router
from services.hrss_isso.hooks import IssoHooks
from services.hrss_isso.login.routes import router as login_router
from services.hrss_isso.models import kv_table, provider_tables
from services.hrss_isso.registration.routes import router as registration_router
from services.hrss_isso.runtime import IssoServices
from services.hrss_isso.settings import IssoSettings
from services.hrss_isso.staff.routes import router as staff_router
from shared.clock import Clock
from shared.oauth.backchannel import LogoutTokenValidator
from shared.oauth.client import upstream_relying_party
from shared.oauth.provider.provider import Provider
from shared.oauth.provider.routes import mount_provider
from shared.passwords import PasswordService
from shared.randomness import TokenSource
from shared.settings import client_destinations
from shared.web.app import Runtime, build_app
from shared.web.dev_sms import mount_sms_outbox

__all__ = ["create_app"]

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
CLAIMS = ("org_name", "uscc", "unit_code", "idp", "act")
ROUTERS = (login_router, federation_router, registration_router, accounts_router, authorisation_codes_router, staff_router)


def create_app(
    settings: IssoSettings,
    *,
    clock: Clock | None = None,
    tokens: TokenSource | None = None,
    upstream_transport: httpx.AsyncBaseTransport | None = None,
    passwords: PasswordService | None = None,
    registry: PopulationRegistry | None = None,
) -> FastAPI:
    runtime = Runtime.create(settings, namespace="isso", kv_table=kv_table, clock=clock, tokens=tokens)
    services = IssoServices.build(settings, runtime, passwords=passwords or PasswordService(), registry=registry)
    issuer = settings.issuer
    rp = upstream_relying_party(
        settings,
        "gdzwfw",
        # id_number: 个人注册 through the province needs the person's ID number.
        scope="openid profile id_number",
        key_label="hrss_isso at gdzwfw_idp",
        redirect_uri=f"{issuer}/federation/gdzwfw/callback",
        transport=upstream_transport,
        clock=runtime.clock,
    )
    provider = Provider.configure(
        settings,
        issuer=issuer,
        runtime=runtime,
        tables=provider_tables,
        hooks=IssoHooks(issuer=issuer, upstream=rp, tokens=runtime.tokens),
        claims_supported=CLAIMS,
        api_scopes=tuple(settings.api_scopes),
    )

    clients = list(settings.clients) + (demo_clients(settings.api_scopes) if settings.loads_demo_data else [])

    def prepare() -> None:
        provider.prepare(clients)
        if settings.loads_demo_data:
            load_demo_data(runtime.db, services=services, clock=runtime.clock, gdzwfw_issuer=settings.gdzwfw_issuer)

    app = build_app(
        runtime=runtime,
        service_name="hrss_isso",
        title="广东人社统一认证",
        template_dirs=[TEMPLATES],
        cookie_name="isso_sid",
        home_path="/isso/",
        # Logins and logouts go on to gdzwfw_idp and end at the clients.
        form_targets=[settings.gdzwfw_issuer, *client_destinations(clients)],
        on_startup=prepare,
    )
    # The shared mount serves /static; this service's own files are matched first.
    app.router.routes.insert(0, Mount("/static/isso", app=StaticFiles(directory=STATIC), name="isso-static"))
    app.state.provider = provider
    app.state.rp = rp
    app.state.isso = services
    app.state.logout_validator = LogoutTokenValidator(rp=rp, kv=runtime.kv, clock=runtime.clock)
    mount_provider(app, provider, prefix="/isso")
    for router in ROUTERS:
        app.include_router(router)
    if services.outbox is not None:
        # Development only: read the text messages the outbox holds.
        mount_sms_outbox(app, services.outbox)
    app.add_api_route("/", root, include_in_schema=False)
    return app


async def root() -> RedirectResponse:
    """The service lives under /isso (its issuer's path)."""
    return RedirectResponse("/isso/", status_code=303)
