"""``create_app(settings)`` for 失业保险稳岗返还 (refund_portal, port 8003)."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import IntegrityError
from starlette.routing import Mount

from services.refund_portal.agency.import_jobs import ImportJobs
from services.refund_portal.agency.imports import ListImporter
from services.refund_portal.agency.routes import refused_page
from services.refund_portal.agency.routes import router as agency_routes
from services.refund_portal.api.bearer import ApiTokens
from services.refund_portal.api.fast_lane import api_fast_routes
from services.refund_portal.api.routes import router as api_routes
from services.refund_portal.audit import AuditKeys, ensure_head
from services.refund_portal.demo import load_demo_data
from services.refund_portal.deps import BearerRefused, StaffRefused
from services.refund_portal.login.backchannel import backchannel_receiver
from services.refund_portal.login.routes import router as login_routes
from services.refund_portal.models import kv_table
from services.refund_portal.policy import PolicyBook
from services.refund_portal.records import RecordRows
from services.refund_portal.settings import RefundSettings
from services.refund_portal.staff import build_staff_login
from services.refund_portal.unit.routes import router as unit_routes
from shared.clock import Clock
from shared.money import format_fen
from shared.oauth.client import upstream_relying_party
from shared.oauth.introspection import TokenIntrospector
from shared.oauth.provider.dpop import NonceSource, ProofChecker
from shared.passwords import PasswordService
from shared.randomness import TokenSource
from shared.web.app import Runtime, build_app

__all__ = ["create_app"]

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
log = logging.getLogger("refund")


async def _bearer_refused(request: Request, exc: BearerRefused) -> JSONResponse:
    return JSONResponse(exc.body, status_code=exc.status_code, headers=exc.headers)


def create_app(
    settings: RefundSettings,
    *,
    clock: Clock | None = None,
    tokens: TokenSource | None = None,
    upstream_transport: httpx.AsyncBaseTransport | None = None,
    passwords: PasswordService | None = None,
) -> FastAPI:
    runtime = Runtime.create(settings, namespace="refund", kv_table=kv_table, clock=clock, tokens=tokens)
    policies = PolicyBook(settings.policy_rules)
    audit_keys = AuditKeys.from_settings(settings)
    passwords = passwords or PasswordService()
    rp = upstream_relying_party(
        settings,
        "isso",
        redirect_uri=f"{settings.public_url}/auth/callback",
        transport=upstream_transport,
        clock=runtime.clock,
        key_label="refund_portal at hrss_isso",
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

    staff_login = build_staff_login(settings, runtime, passwords=passwords)

    def prepare() -> None:
        ensure_head(runtime.db)
        if settings.loads_demo_data:
            try:
                load_demo_data(
                    runtime.db,
                    passwords=passwords,
                    staff_cipher=staff_login.cipher,
                    policies=policies,
                    clock=runtime.clock,
                    audit_keys=audit_keys,
                )
            except IntegrityError:
                log.info("demo data being loaded by another worker")

    app = build_app(
        runtime=runtime,
        service_name="refund_portal",
        title="失业保险稳岗返还",
        template_dirs=[TEMPLATES],
        cookie_name="refund_sid",
        # Login and logout go through the ISSO, which may pass them on to gdzwfw_idp in the same redirect chain.
        form_targets=[settings.isso_issuer, settings.gdzwfw_verification_url],
        on_startup=prepare,
        on_shutdown=http.aclose,
    )
    app.state.templates.env.filters["yuan"] = format_fen
    app.state.rp = rp
    app.state.introspector = introspector
    # RFC 9449 §9, §11.1: server nonces, when the operator asks for them, so a
    # proof made ahead of time (by whoever got at the key) soon stops working.
    nonces = NonceSource(settings.secret_key.get_secret_value()) if settings.api_dpop_nonce_required else None
    app.state.api_tokens = ApiTokens(
        introspector=introspector, proofs=ProofChecker(runtime.clock, nonces=nonces), kv=runtime.kv, public_url=settings.public_url
    )
    app.state.policies = policies
    app.state.audit_keys = audit_keys
    app.state.staff_login = staff_login
    app.state.backchannel_logout = backchannel_receiver(
        rp=rp, kv=runtime.kv, introspector=introspector, clock=runtime.clock, ttl=settings.session_idle_seconds + 3600
    )
    app.state.list_importer = ListImporter(
        runtime.db,
        policies=policies,
        clock=runtime.clock,
        tokens=runtime.tokens,
        audit_keys=audit_keys,
        max_bytes=settings.import_max_bytes,
        max_rows=settings.import_max_rows,
        upload_seconds=settings.import_upload_seconds,
    )
    app.state.import_jobs = ImportJobs(
        runtime.db,
        importer=app.state.list_importer,
        clock=runtime.clock,
        tokens=runtime.tokens,
        background_bytes=settings.import_background_bytes,
    )
    app.add_exception_handler(BearerRefused, _bearer_refused)
    app.add_exception_handler(StaffRefused, refused_page)
    # The shared mount serves /static; this service's own files (refund.css) are matched first.
    app.router.routes.insert(0, Mount("/static/refund", app=StaticFiles(directory=STATIC), name="refund-static"))
    app.include_router(login_routes)
    app.include_router(unit_routes)
    app.include_router(api_routes)
    app.state.record_rows = RecordRows(runtime.reads)
    for path, methods, handler in api_fast_routes(tokens=app.state.api_tokens, records_of=app.state.record_rows):
        app.add_fast_route(path, handler, methods=methods)
    app.include_router(agency_routes)
    return app
