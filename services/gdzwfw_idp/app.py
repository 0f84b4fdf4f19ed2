"""``create_app(settings)`` for 广东省统一身份认证平台 (gdzwfw_idp, port 8001)."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.routing import Mount

from services.gdzwfw_idp.account import routes as account
from services.gdzwfw_idp.demo import DEMO_CLIENTS, load_demo_data
from services.gdzwfw_idp.handlers import routes as handlers
from services.gdzwfw_idp.hooks import IdpHooks
from services.gdzwfw_idp.login import routes as login
from services.gdzwfw_idp.login.password_login import login_service as build_login_service
from services.gdzwfw_idp.models import kv_table, provider_tables, sms_tables
from services.gdzwfw_idp.parts import IdpParts
from services.gdzwfw_idp.qr import routes as qr
from services.gdzwfw_idp.qr.sessions import OneTimeSessions
from services.gdzwfw_idp.registration import routes as registration
from services.gdzwfw_idp.registry import load_registries
from services.gdzwfw_idp.settings import IdpSettings
from services.gdzwfw_idp.sms import routes as sms
from services.gdzwfw_idp.staff import routes as staff
from services.gdzwfw_idp.staff.accounts import StaffService
from services.gdzwfw_idp.standins import routes as standins
from services.gdzwfw_idp.verification import routes as verification
from services.gdzwfw_idp.verification.certificate.verifier import CertificateVerifier
from services.gdzwfw_idp.verification.licence.verifier import LicenceVerifier
from shared.clock import Clock
from shared.oauth.provider.provider import Provider
from shared.oauth.provider.routes import mount_provider
from shared.passwords import PasswordService
from shared.randomness import TokenSource
from shared.ratelimit import Limiter
from shared.sms import HttpSmsGateway, OutboxGateway, SmsCodes
from shared.web.app import Runtime, build_app
from shared.web.dev_sms import mount_sms_outbox

__all__ = ["create_app", "IdpParts"]

log = logging.getLogger("gdzwfw_idp")

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
# Every package's web layer, in the order their paths are matched.
ROUTERS = (
    login.router,
    account.router,
    registration.router,
    sms.router,
    qr.router,
    verification.router,
    handlers.router,
    staff.router,
)
CLAIMS = ("account_type", "org_name", "uscc", "legal_rep_name", "name", "act")


def static_version(directory: Path) -> str:
    """A short hash of every file under ``directory``: changes with any of them."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


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
        runtime=runtime,
        tables=provider_tables,
        hooks=IdpHooks(settings.public_url),
        claims_supported=CLAIMS,
        scoped_claims={"id_number": "id_number"},
    )
    staff_service = StaffService(
        totp_keys=settings.staff_totp_key_values,
        passwords=passwords,
        kv=runtime.kv,
        clock=runtime.clock,
        skew=settings.staff_totp_skew,
        max_failures=settings.login_max_failures,
        lock_seconds=settings.login_lock_seconds,
    )

    def prepare() -> None:
        if not settings.is_development:
            if not settings.sms_gateway_url:
                log.warning("no SMS gateway configured (GDZWFW_SMS_GATEWAY_URL): codes go to the outbox table only")
            if settings.registry_csv("legal") is None:
                log.warning(
                    "no 法人基础库 extract configured (GDZWFW_LEGAL_PERSON_REGISTRY_CSV): legal-person registration cannot complete"
                )
        provider.prepare(list(settings.clients) + (DEMO_CLIENTS if settings.loads_demo_data else []))
        load_registries(
            runtime.db, runtime.kv, legal_csv=settings.registry_csv("legal"), population_csv=settings.registry_csv("population")
        )
        if settings.loads_demo_data:
            load_demo_data(runtime.db, passwords=passwords, clock=runtime.clock, staff=staff_service)

    app = build_app(
        runtime=runtime,
        service_name="gdzwfw_idp",
        title="广东省统一身份认证平台",
        template_dirs=[TEMPLATES],
        cookie_name="gdzwfw_sid",
        # The certificate pages' script talks to the local 「CA助手」.
        connect_sources=[settings.ca_helper] if settings.ca_helper else [],
        # No form-action: after a login form Chromium checks every redirect of
        # the chain, which goes on past our client (the ISSO) to the ISSO's own
        # clients (the refund portal, …): origins this service does not know.
        form_targets=None,
        on_startup=prepare,
    )
    # The shared mount serves /static; this service's own files are matched first.
    app.router.routes.insert(0, Mount("/static/idp", app=StaticFiles(directory=STATIC), name="idp-static"))
    # In the pages' script and style addresses: a browser holding last
    # release's idp.js would meet this release's markup (the QR code is drawn
    # by the script now) until its cached copy aged out.
    app.state.templates.env.globals["idp_static"] = static_version(STATIC)

    outbox: OutboxGateway | None = None
    if settings.sms_gateway_url:
        gateway = HttpSmsGateway(settings.sms_gateway_url, settings.sms_gateway_token or "")
    else:
        gateway = outbox = OutboxGateway(sms_tables, runtime.clock)
    bank, ca, crls = settings.certificate_files()
    app.state.idp = IdpParts(
        settings=settings,
        db=runtime.db,
        kv=runtime.kv,
        clock=runtime.clock,
        tokens=runtime.tokens,
        provider=provider,
        login_service=build_login_service(
            passwords=passwords,
            per_account=Limiter(runtime.kv, "login-account", settings.login_max_failures, settings.login_lock_seconds),
            per_address=Limiter(runtime.kv, "login-address", settings.login_max_per_address, settings.login_lock_seconds),
            reads=runtime.reads,
        ),
        passwords=passwords,
        sms=SmsCodes(
            tables=sms_tables,
            gateway=gateway,
            kv=runtime.kv,
            clock=runtime.clock,
            tokens=runtime.tokens,
            code_ttl=settings.sms_code_ttl,
            resend_seconds=settings.sms_resend_seconds,
            per_number_per_day=settings.sms_per_number_per_day,
            per_address_per_hour=settings.sms_per_address_per_hour,
        ),
        outbox=outbox,
        qr=OneTimeSessions(runtime.kv, runtime.tokens, runtime.clock, ttl=settings.qr_ttl),
        certificates=CertificateVerifier(bank_anchors=bank, ca_anchors=ca, crls=crls, clock=runtime.clock),
        licence=LicenceVerifier(
            public_key_file=settings.licence_key_file(),
            issuer=settings.licence_authority_issuer,
            audience=settings.public_url,
            scope=settings.licence_scope,
            max_age=settings.licence_assertion_max_age,
            kv=runtime.kv,
            clock=runtime.clock,
        ),
        staff=staff_service,
    )
    mount_provider(app, provider)
    for router in ROUTERS:
        app.include_router(router)
    if settings.stand_ins_enabled:
        app.include_router(standins.router)
    if settings.is_development and outbox is not None:
        mount_sms_outbox(app, outbox)
    return app
