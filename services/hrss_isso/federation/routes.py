"""The way in through 广东省统一身份认证 (the seed's part 一 (三)): the
start and the callback of the login at gdzwfw_idp, 登录初始化 of a provincial
legal person no unit is linked to, and the province's side of single logout
(``/isso/logged-out`` after RP-initiated logout there, ``/isso/backchannel-logout``)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from services.hrss_isso.accounts.units import ProvincialClaims, confirm_provincial_link
from services.hrss_isso.deps import PERSON_LOGIN, IssoDep, LogoutValidatorDep, ProviderDep, UpstreamDep
from services.hrss_isso.federation.callback import (
    INIT_DONE_KEY,
    INIT_KEY,
    INIT_LEVEL,
    LINK_PENDING_KEY,
    PROVINCIAL_PERSON_KEY,
    Declined,
    LevelTooLow,
    LinkNeedsLogin,
    Outcome,
    PersonExists,
    PersonLinked,
    PersonLogin,
    PersonToRegister,
    UnitInitialisation,
    UnitLogin,
    UnitNotLinked,
    federated_login,
)
from services.hrss_isso.forms import text_of
from services.hrss_isso.login.sessions import start_federated_unit_session, start_person_session
from services.hrss_isso.logout import AFTER_LOGOUT, end_isso_sessions
from services.hrss_isso.models import Unit
from services.hrss_isso.registration.contexts import (
    UNIT_FIELDS,
    UNIT_STEPS,
    check_registrant,
    registrant_of,
    submit_unit_info,
    unit_common,
    unit_info_ctx,
)
from services.hrss_isso.runtime import IssoServices
from services.hrss_isso.web import flash, page, parked, resume_or, with_interaction
from shared.clock import Clock
from shared.metrics import record_login
from shared.oauth.adapter import read_oauth2_request
from shared.oauth.backchannel import logout_receiver
from shared.oauth.client import LoginFailed
from shared.oauth.provider.provider import Provider
from shared.oauth.provider.routes import outcome_response
from shared.randomness import TokenSource
from shared.trust import TrustLevel, require_level_claims
from shared.web.app import render
from shared.web.deps import ClockDep, CsrfForm, DbDep, TokensDep

__all__ = ["router"]

log = logging.getLogger("isso.login")
router = APIRouter(prefix="/isso", include_in_schema=False)
FED_KINDS = ("unit", "personal", "link")
FORWARDED_DENIALS = {"access_denied", "unmet_authentication_requirements", "login_required"}
FAILURE_TEXT = {
    "unreachable": "暂时无法连接广东省统一身份认证平台，请稍后再试。",
    "state": "登录状态已失效（页面停留过久、重复提交或在其他窗口登录），请重新登录。",
    "issuer_mismatch": "登录结果并非来自广东省统一身份认证平台，未通过安全校验，已拒绝登录。",
    "invalid_response": "广东省统一身份认证平台返回的登录结果未通过安全校验，已拒绝登录。",
    "upstream_error": "省统一身份认证登录未完成。",
}
UNIT_GDZWFW_LOGIN = "/isso/login?tab=unit&method=gdzwfw"


# -- 省统一身份认证 ----------------------------------------------------------
@router.get("/federation/gdzwfw/start")
async def federation_start(
    request: Request, provider: ProviderDep, upstream: UpstreamDep, interaction: str = "", kind: str = "unit", require: str = ""
) -> Response:
    found = await parked(provider, interaction)
    params: dict[str, Any] = found.params if found else {}
    request.session["fed_interaction"] = found.id if found else ""
    request.session["fed_kind"] = kind if kind in FED_KINDS else "unit"
    claims = params.get("claims", "")
    acr_values = params.get("acr_values", "")
    if (level := TrustLevel.from_name(require)) is not None:
        # This hop's own requirement (登录初始化 needs L2): asked as
        # essential, so gdzwfw_idp offers its 实名核验 on the way.
        claims = require_level_claims(level, claims)
        acr_values = acr_values or level.acr
    try:
        # Forward the client's level request upstream (DESIGN.md); the
        # level that comes back is what the client will be told.
        return await upstream.start(
            request,
            acr_values=acr_values,
            claims=claims,
            max_age=params.get("max_age", ""),
            prompt="login" if found and "login" in found.requested_prompt.split() else "",
        )
    except LoginFailed as failure:
        log.warning("gdzwfw unreachable at start", extra={"fields": {"kind": failure.kind}})
        return failure_page(request, provider, failure, interaction)


def failure_page(request: Request, provider: Provider, failure: LoginFailed, interaction: str) -> Response:
    message = FAILURE_TEXT.get(failure.kind, FAILURE_TEXT["upstream_error"])
    if failure.upstream_error == "access_denied":
        message = "您已取消在广东省统一身份认证平台的登录。"
    retry = with_interaction(f"{provider.config.issuer}/login", interaction)
    context = {"message": message, "retry_url": retry, "code": failure.upstream_error or failure.kind}
    return render(request, "federation_failed.html", context, status_code=502 if failure.kind == "unreachable" else 400)


def declined_page(request: Request, provider: Provider, declined: Declined, interaction: str) -> Response:
    retry = with_interaction(f"{provider.config.issuer}/login?tab={declined.tab}", interaction if declined.keep_interaction else "")
    return render(
        request, "federation_failed.html", {"message": declined.message, "retry_url": retry, "code": declined.code}, status_code=400
    )


@router.get("/federation/gdzwfw/callback")
async def federation_callback(
    request: Request, provider: ProviderDep, upstream: UpstreamDep, services: IssoDep, db: DbDep, clock: ClockDep, tokens: TokensDep
) -> Response:
    interaction = request.session.pop("fed_interaction", "") or ""
    kind = request.session.pop("fed_kind", "unit") or "unit"
    try:
        login = await upstream.finish(request)
    except LoginFailed as failure:
        fields = {"kind": failure.kind, "upstream_error": failure.upstream_error, "detail": failure.detail[:200]}
        log.warning("federated login failed", extra={"fields": fields})
        record_login("gdzwfw", "failure")
        # Taken only to be answered with the province's refusal: otherwise
        # the failure page offers the request another try.
        forwarded = failure.upstream_error in FORWARDED_DENIALS and interaction
        found = await provider.interactions.atake(interaction) if forwarded else None
        if found is not None:
            async with provider.answering(found):
                req = await read_oauth2_request(request, params=found.params)
                outcome = await run_in_threadpool(provider.deny, req, failure.upstream_error)
            return outcome_response(request, provider, outcome)
        return failure_page(request, provider, failure, interaction)
    outcome = await run_in_threadpool(
        lambda: federated_login(
            login.claims,
            kind=kind,
            id_token=login.id_token,
            person_id=request.session.get("person_id"),
            upstream_issuer=upstream.issuer,
            db=db,
            clock=clock,
            tokens=tokens,
            persons=services.persons,
            hotline=services.settings.hotline,
        )
    )
    return await _render_outcome(request, outcome, provider=provider, interaction=interaction, clock=clock, tokens=tokens)


async def _render_outcome(
    request: Request, outcome: Outcome, *, provider: Provider, interaction: str, clock: Clock, tokens: TokenSource
) -> Response:
    """The session, page or redirect a federated login's outcome means."""
    issuer = provider.config.issuer
    session = request.session
    if outcome.first_login:
        for key in (INIT_KEY, INIT_DONE_KEY, LINK_PENDING_KEY):
            session.pop(key, None)
    match outcome:
        case UnitLogin():
            start_federated_unit_session(request, outcome.session)
            record_login("gdzwfw", "success")
            return resume_or(provider, interaction, f"{issuer}/")
        case Declined():
            return declined_page(request, provider, outcome, interaction)
        case LevelTooLow():
            found = await parked(provider, interaction)
            context = {
                "org_name": outcome.org_name,
                "level": outcome.level,
                "required": INIT_LEVEL,
                "client_name": found.client_name if found else None,
                "interaction": found.id if found else "",
                "upgrade_url": with_interaction(f"{issuer}/federation/gdzwfw/start?require={INIT_LEVEL.name}", found.id if found else ""),
                "decline_url": provider.url(provider.config.paths.authorization + "/decline"),
            }
            return render(request, "init_level_required.html", context, status_code=403)
        case UnitNotLinked():
            session[LINK_PENDING_KEY] = outcome.pending
            context = {"org_name": outcome.org_name, "uscc": outcome.uscc, "level": outcome.level}
            return render(request, "not_linked.html", context, status_code=409)
        case UnitInitialisation():
            session[INIT_KEY] = {"claims": outcome.claims}
            return RedirectResponse(f"{issuer}/init", status_code=303)
        case LinkNeedsLogin():
            return RedirectResponse(f"{issuer}/login?tab=personal", status_code=303)
        case PersonLinked():
            flash(request, outcome.notice)
            return RedirectResponse(f"{issuer}/account", status_code=303)
        case PersonExists():
            return render(request, "provincial_person_exists.html", {"interaction": interaction}, status_code=409)
        case PersonToRegister():
            session[PROVINCIAL_PERSON_KEY] = outcome.pending
            return RedirectResponse(with_interaction(f"{issuer}/register/provincial", interaction), status_code=303)
        case PersonLogin():
            start_person_session(request, person=outcome.person, amr=outcome.amr, clock=clock, tokens=tokens)
            record_login("gdzwfw", "success")
            still_parked = interaction if await parked(provider, interaction) else ""
            return RedirectResponse(with_interaction(f"{issuer}/login/units", still_parked), status_code=303)
    raise AssertionError(f"unhandled outcome {outcome!r}")


# -- 登录初始化: an unlinked provincial legal person's 单位注册 -----------------
def init_claims(request: Request) -> dict | None:
    data = request.session.get(INIT_KEY)
    if not isinstance(data, dict) or not isinstance(data.get("claims"), dict):
        return None
    return data["claims"]


def init_ctx(services: IssoServices, claims: dict, values: dict[str, str]) -> dict[str, Any]:
    return {**unit_common(services), "values": values, "provincial": claims, "form_action": "/isso/init"}


@router.get("/init")
async def init_step1(request: Request, services: IssoDep) -> Response:
    claims = init_claims(request)
    if claims is None:
        return RedirectResponse(UNIT_GDZWFW_LOGIN, status_code=303)
    return page(request, "unit_register_step1.html", init_ctx(services, claims, {}))


@router.post("/init")
async def init_step1_submit(request: Request, form: CsrfForm, services: IssoDep) -> Response:
    claims = init_claims(request)
    if claims is None:
        return RedirectResponse(UNIT_GDZWFW_LOGIN, status_code=303)
    values, person_id, errors = await check_registrant(request, form, services)
    if errors:
        return page(request, "unit_register_step1.html", init_ctx(services, claims, values), errors=errors)
    request.session[INIT_KEY] = {"claims": claims, "person_id": person_id}
    return RedirectResponse("/isso/init/info", status_code=303)


async def init_registrant(request: Request, db: DbDep) -> tuple[dict, dict] | None:
    claims = init_claims(request)
    person_id = (request.session.get(INIT_KEY) or {}).get("person_id")
    if claims is None or not person_id:
        return None
    who = await run_in_threadpool(registrant_of, db, person_id)
    return None if who is None else (claims, who)


def init_info_ctx(services: IssoServices, claims: dict, who: dict, values: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        **unit_info_ctx(services, who, values, **extra),
        "provincial": claims,
        "form_action": "/isso/init/info",
        "restart_url": "/isso/init",
    }


@router.get("/init/info")
async def init_step2(request: Request, services: IssoDep, db: DbDep) -> Response:
    found = await init_registrant(request, db)
    if found is None:
        return RedirectResponse("/isso/init", status_code=303)
    return page(request, "unit_register_step2.html", init_info_ctx(services, *found, {}))


@router.post("/init/info")
async def init_step2_submit(request: Request, form: CsrfForm, services: IssoDep, db: DbDep) -> Response:
    found = await init_registrant(request, db)
    if found is None:
        return RedirectResponse("/isso/init", status_code=303)
    claims, who = found
    # USCC and 单位名称 are the province's, never the form's.
    values = {k: text_of(form, k, 120) for k in UNIT_FIELDS if k not in ("cert_type", "cert_number", "org_name")}
    provincial = ProvincialClaims(issuer=claims["iss"], subject=claims["sub"], uscc=claims["uscc"], org_name=claims["org_name"])

    def done(unit: Unit) -> str:
        request.session.pop(INIT_KEY, None)
        request.session[INIT_DONE_KEY] = {"unit_code": unit.unit_code, "login_name": unit.login_name, "org_name": unit.org_name}
        return "/isso/init/done"

    return await submit_unit_info(
        request,
        form,
        services,
        who=who,
        values=values,
        context=lambda values, **extra: init_info_ctx(services, claims, who, values, **extra),
        done=done,
        provincial=provincial,
    )


@router.get("/init/done")
async def init_step3(request: Request) -> Response:
    done = request.session.get(INIT_DONE_KEY)
    if not isinstance(done, dict):
        return RedirectResponse(UNIT_GDZWFW_LOGIN, status_code=303)
    return render(request, "unit_register_done.html", {"steps": UNIT_STEPS, "done": done, "provincial": True})


# -- 登录初始化 for a unit registered the other way: a handler confirms -----
@router.get("/init/confirm")
async def confirm_link(request: Request) -> Response:
    pending = request.session.get(LINK_PENDING_KEY)
    if not isinstance(pending, dict):
        return RedirectResponse(UNIT_GDZWFW_LOGIN, status_code=303)
    if not request.session.get("person_id"):
        return RedirectResponse(PERSON_LOGIN, status_code=303)
    return page(
        request, "provincial_link_confirm.html", {"pending": pending, "done": False, "person_name": request.session.get("person_name")}
    )


@router.post("/init/confirm")
async def confirm_link_submit(request: Request, form: CsrfForm, db: DbDep, clock: ClockDep) -> Response:
    pending = request.session.get(LINK_PENDING_KEY)
    person_id = request.session.get("person_id")
    if not isinstance(pending, dict) or not person_id:
        return RedirectResponse(UNIT_GDZWFW_LOGIN, status_code=303)

    def confirm() -> str | None:
        with db.transaction() as s:
            return confirm_provincial_link(
                s, person_id=person_id, issuer=pending["iss"], subject=pending["sub"], uscc=pending["uscc"], now=clock.now()
            )

    problem = await run_in_threadpool(confirm)
    ctx = {"pending": pending, "done": problem is None, "person_name": request.session.get("person_name")}
    if problem:
        return page(request, "provincial_link_confirm.html", ctx, errors={"": problem})
    request.session.pop(LINK_PENDING_KEY, None)
    return page(request, "provincial_link_confirm.html", ctx)


# -- single logout with the province ------------------------------------------------
@router.get("/logged-out")
async def logged_out(request: Request, state: str = "") -> Response:
    pending = request.session.pop(AFTER_LOGOUT, None)
    if isinstance(pending, dict) and state and pending.get("state") == state and pending.get("to"):
        # Back to the ISSO client's registered post_logout_redirect_uri
        # (already checked by the provider when the logout began).
        return RedirectResponse(pending["to"], status_code=303)
    return render(request, "logged_out.html", {})


@router.get("/federation/gdzwfw/jwks.json")
async def client_jwks(upstream: UpstreamDep) -> JSONResponse:
    """The public key of this service's private_key_jwt assertions at
    gdzwfw_idp: the jwks_uri of its registration there."""
    return JSONResponse(upstream.public_jwks(), headers={"Cache-Control": "public, max-age=300"})


@router.post("/backchannel-logout")
async def backchannel_logout(request: Request, validator: LogoutValidatorDep, provider: ProviderDep, upstream: UpstreamDep) -> Response:
    """gdzwfw_idp ended a login: so do the ISSO sessions made from it."""
    receive = logout_receiver(validator, lambda sid: end_isso_sessions(provider, issuer=upstream.issuer, upstream_sid=sid), source="gdzwfw")
    return await receive(request)
