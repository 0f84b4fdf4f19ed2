"""广东人社统一认证 login pages: 单位登录 / 个人登录 with 省统一身份认证 and
账号密码, the unit chooser after a personal login (the seed's part 二 (二)),
and the federated way in through 省统一身份认证 (part 一 (三))."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from services.hrss_isso import messages as msg
from services.hrss_isso.accounts.bindings import bindings_of_person, handler_level
from services.hrss_isso.accounts.persons import ProvincialPerson, find_by_id_number, get_person, level_label
from services.hrss_isso.accounts.units import find_unit_for_provincial, get_unit, record_federated_login, unit_with_uscc
from services.hrss_isso.hooks import PERSON_KEYS, handler_acr
from services.hrss_isso.registration.routes import INIT_DONE_KEY, INIT_KEY, LINK_PENDING_KEY
from services.hrss_isso.web import (
    client_address,
    enter_unit_as_handler,
    flash,
    isso,
    load_person,
    load_unit,
    start_person_session,
    start_unit_session,
    with_interaction,
)
from shared.oauth.adapter import read_oauth2_request
from shared.oauth.client import LoginFailed, RelyingParty
from shared.oauth.provider.provider import Provider
from shared.oauth.provider.routes import outcome_response
from shared.trust import TrustLevel, require_level_claims
from shared.web.app import render
from shared.web.csrf import verify_csrf_form
from shared.web.sessions import rotate_session

__all__ = ["pages_router"]

log = logging.getLogger("isso.login")
TABS = {"unit": "单位登录", "personal": "个人登录"}
UNIT_METHODS = {"gdzwfw": "省统一身份认证", "password": "账号密码"}
PERSONAL_METHODS = {"password": "账号密码", "gdzwfw": "省统一身份认证"}
FED_KINDS = ("unit", "personal", "link")
INIT_LEVEL = TrustLevel.L2  # the provincial level 登录初始化 needs
FORWARDED_DENIALS = {"access_denied", "unmet_authentication_requirements", "login_required"}
FAILURE_TEXT = {
    "unreachable": "暂时无法连接广东省统一身份认证平台，请稍后再试。",
    "state": "登录状态已失效（页面停留过久、重复提交或在其他窗口登录），请重新登录。",
    "issuer_mismatch": "登录结果并非来自广东省统一身份认证平台，未通过安全校验，已拒绝登录。",
    "invalid_response": "广东省统一身份认证平台返回的登录结果未通过安全校验，已拒绝登录。",
    "upstream_error": "省统一身份认证登录未完成。",
}


def pending_link(request: Request) -> dict | None:
    pending = request.session.get(LINK_PENDING_KEY)
    return pending if isinstance(pending, dict) else None


def pages_router(*, provider: Provider, rp: RelyingParty) -> APIRouter:
    router = APIRouter(prefix="/isso")
    issuer = provider.config.issuer

    def parked(interaction: str):
        return provider.interactions.get(interaction) if interaction else None

    def resume_or(interaction: str, fallback: str) -> RedirectResponse:
        if interaction:
            return RedirectResponse(f"{issuer}/authorize/resume?interaction={interaction}", status_code=303)
        return RedirectResponse(fallback, status_code=303)

    # -- home ----------------------------------------------------------------
    @router.get("/", include_in_schema=False)
    @router.get("", include_in_schema=False)
    async def home(request: Request) -> Response:
        unit = await load_unit(request)
        if unit is None:
            if request.session.get("person_id"):
                return RedirectResponse(f"{issuer}/login/units", status_code=303)
            return RedirectResponse(f"{issuer}/login", status_code=303)
        session = request.session
        act = session.get("act") if session.get("idp") == "hrss" else None
        acr = session.get("acr")
        if act:
            acr = await run_in_threadpool(_handler_acr, request, unit.id, act.get("sub", ""))
            if acr is None:
                # The binding ended while this browser was away.
                for key in ("unit_id", "unit_name", "act", "acr"):
                    session.pop(key, None)
                flash(request, msg.NOT_BOUND)
                return RedirectResponse(f"{issuer}/login/units", status_code=303)
        level = TrustLevel.from_acr(acr)
        return render(request, "home.html", {"unit": unit, "level": level, "idp": session.get("idp"), "act": act})

    def _handler_acr(request: Request, unit_id: str, person_id: str) -> str | None:
        with request.app.state.db.transaction() as db:
            return handler_acr(db, unit_id=unit_id, person_id=person_id)

    # -- login ---------------------------------------------------------------
    def login_context(interaction: str, tab: str, method: str, **extra: Any) -> dict[str, Any]:
        found = parked(interaction)
        return {
            "interaction": interaction if found else "",
            "client_name": found.client_name if found else None,
            "tab": tab,
            "tabs": TABS,
            "method": method,
            "methods": UNIT_METHODS if tab == "unit" else PERSONAL_METHODS,
            "error": None,
            "notice": None,
            "login_name": "",
            **extra,
        }

    @router.get("/login", include_in_schema=False)
    async def login_page(request: Request, interaction: str = "", tab: str = "unit", method: str = "") -> Response:
        tab = tab if tab in TABS else "unit"
        methods = UNIT_METHODS if tab == "unit" else PERSONAL_METHODS
        method = method if method in methods else next(iter(methods))
        ctx = await run_in_threadpool(login_context, interaction, tab, method)
        ctx["notice"] = request.session.pop("flash", None)
        return render(request, "login.html", ctx)

    @router.post("/login", include_in_schema=False)
    async def login_submit(request: Request) -> Response:
        form = await verify_csrf_form(request)
        interaction = str(form.get("interaction", ""))
        tab = str(form.get("tab", "unit"))
        tab = tab if tab in TABS else "unit"
        login_name = str(form.get("login_name", ""))[:40]
        password = str(form.get("password", ""))[:128]
        services = isso(request)
        service = services.person_login if tab == "personal" else services.unit_login
        result = await run_in_threadpool(
            lambda: service.authenticate(request.app.state.db, login_name=login_name, password=password, address=client_address(request))
        )
        if result.error or not result.account_id:
            ctx = await run_in_threadpool(lambda: login_context(interaction, tab, "password", error=result.error, login_name=login_name))
            return render(request, "login.html", ctx, status_code=400)
        found = parked(interaction)
        interaction = interaction if found else ""

        def load():
            with request.app.state.db.transaction() as db:
                account = get_person(db, person_id=result.account_id) if tab == "personal" else get_unit(db, unit_id=result.account_id)
                db.expunge(account)
                return account

        account = await run_in_threadpool(load)
        if tab == "personal":
            start_person_session(request, person=account, amr=["pwd"], generation=result.generation)
            log.info("personal login", extra={"fields": {"method": "password"}})
            return RedirectResponse(with_interaction(f"{issuer}/login/units", interaction), status_code=303)
        start_unit_session(request, unit=account)
        log.info("unit login", extra={"fields": {"method": "password"}})
        return resume_or(interaction, f"{issuer}/")

    # -- the unit chooser after a personal login ------------------------------
    def choices(request: Request, person_id: str) -> tuple[Any, list[dict[str, Any]]]:
        with request.app.state.db.transaction() as db:
            person = get_person(db, person_id=person_id)
            rows = []
            for binding, unit in bindings_of_person(db, person_id=person_id, statuses=("active",)):
                level = handler_level(person, binding)
                rows.append({"unit": unit, "binding": binding, "level": level})
            db.expunge_all()
        return person, rows

    @router.get("/login/units", include_in_schema=False)
    async def choose_unit(request: Request, interaction: str = "") -> Response:
        person = await load_person(request)
        if person is None:
            return RedirectResponse(with_interaction(f"{issuer}/login?tab=personal&method=password", interaction), status_code=303)
        person, rows = await run_in_threadpool(choices, request, person.id)
        found = parked(interaction)
        return render(
            request,
            "select_unit.html",
            {
                "person": person,
                "rows": rows,
                "interaction": interaction if found else "",
                "client_name": found.client_name if found else None,
                "level_label": level_label(person.realname_level),
                "current": request.session.get("unit_id"),
                "error": request.session.pop("flash", None),
                "button": msg.CHOOSE_UNIT_BUTTON,
                # Left by a 省统一身份认证 login of a unit registered the other
                # way: this handler may be the one to confirm the link.
                "link_pending": pending_link(request),
            },
        )

    @router.post("/login/units", include_in_schema=False)
    async def choose_unit_submit(request: Request) -> Response:
        form = await verify_csrf_form(request)
        interaction = str(form.get("interaction", ""))
        unit_id = str(form.get("unit_id", ""))
        person = await load_person(request)
        if person is None:
            return RedirectResponse(with_interaction(f"{issuer}/login?tab=personal&method=password", interaction), status_code=303)

        def decide():
            with request.app.state.db.transaction() as db:
                acr = handler_acr(db, unit_id=unit_id, person_id=person.id) if unit_id else None
                unit = get_unit(db, unit_id=unit_id) if acr else None
                if unit is not None:
                    db.expunge(unit)
                return unit, acr

        unit, acr = await run_in_threadpool(decide)
        if unit is None or unit.status != "active":
            person, rows = await run_in_threadpool(choices, request, person.id)
            found = parked(interaction)
            return render(
                request,
                "select_unit.html",
                {
                    "person": person,
                    "rows": rows,
                    "interaction": interaction if found else "",
                    "client_name": found.client_name if found else None,
                    "level_label": level_label(person.realname_level),
                    "current": None,
                    "error": msg.NOT_BOUND if unit_id else "请选择要办理业务的单位",
                    "button": msg.CHOOSE_UNIT_BUTTON,
                # Left by a 省统一身份认证 login of a unit registered the other
                # way: this handler may be the one to confirm the link.
                "link_pending": pending_link(request),
                },
                status_code=400,
            )
        enter_unit_as_handler(request, person=person, unit=unit, acr=acr)
        log.info("handler entered unit", extra={"fields": {"acr": acr}})
        return resume_or(interaction if parked(interaction) else "", f"{issuer}/")

    # -- 省统一身份认证 ----------------------------------------------------------
    @router.get("/federation/gdzwfw/start", include_in_schema=False)
    async def federation_start(request: Request, interaction: str = "", kind: str = "unit", require: str = "") -> Response:
        found = await run_in_threadpool(parked, interaction)
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
            return await rp.start(
                request,
                acr_values=acr_values,
                claims=claims,
                max_age=params.get("max_age", ""),
                prompt="login" if found and "login" in found.requested_prompt.split() else "",
            )
        except LoginFailed as failure:
            log.warning("gdzwfw unreachable at start", extra={"fields": {"kind": failure.kind}})
            return failure_page(request, failure, interaction)

    def failure_page(request: Request, failure: LoginFailed, interaction: str) -> Response:
        message = FAILURE_TEXT.get(failure.kind, FAILURE_TEXT["upstream_error"])
        if failure.upstream_error == "access_denied":
            message = "您已取消在广东省统一身份认证平台的登录。"
        retry = with_interaction(f"{issuer}/login", interaction)
        return render(request, "federation_failed.html", {"message": message, "retry_url": retry, "code": failure.upstream_error or failure.kind}, status_code=502 if failure.kind == "unreachable" else 400)

    def refused(request: Request, message: str, code: str, interaction: str, *, tab: str = "unit") -> Response:
        retry = with_interaction(f"{issuer}/login?tab={tab}", interaction)
        return render(request, "federation_failed.html", {"message": message, "retry_url": retry, "code": code}, status_code=400)

    @router.get("/federation/gdzwfw/callback", include_in_schema=False)
    async def federation_callback(request: Request) -> Response:
        interaction = request.session.pop("fed_interaction", "") or ""
        kind = request.session.pop("fed_kind", "unit") or "unit"
        try:
            login = await rp.finish(request)
        except LoginFailed as failure:
            log.warning("federated login failed", extra={"fields": {"kind": failure.kind, "upstream_error": failure.upstream_error, "detail": failure.detail[:200]}})
            found = await run_in_threadpool(parked, interaction)
            if found is not None and failure.upstream_error in FORWARDED_DENIALS:
                req = await read_oauth2_request(request, params=found.params)
                outcome = await run_in_threadpool(provider.deny, found, req, failure.upstream_error)
                return outcome_response(request, provider, outcome)
            return failure_page(request, failure, interaction)
        if kind in ("personal", "link"):
            return await personal_callback(request, login.claims, kind, interaction)
        claims = login.claims
        if claims.get("account_type") != "legal_person" or not claims.get("uscc"):
            return refused(request, "单位登录请在广东省统一身份认证平台选择“法人登录”，使用单位的法人账号登录。", "not_legal_person", interaction)
        level = TrustLevel.from_acr(claims.get("acr"))
        acr = level.acr if level else None  # an unknown acr is no level at all
        state = request.app.state
        sid = state.tokens.token(16)
        # Single logout: gdzwfw_idp's back-channel notice names its sid.
        upstream_sid = str(claims["sid"])[:128] if claims.get("sid") else None
        auth_time = int(claims.get("auth_time") or state.clock.timestamp())

        def resolve() -> tuple[str, str] | None:
            with state.db.transaction() as db:
                unit = find_unit_for_provincial(db, issuer=rp.issuer, subject=claims["sub"], uscc=claims["uscc"], now=state.clock.now())
                if unit is None:
                    return None
                record_federated_login(db, unit=unit, issuer=rp.issuer, subject=claims["sub"], acr=acr, auth_time=auth_time, sid=sid, now=state.clock.now(), upstream_sid=upstream_sid)
                return unit.id, unit.org_name

        found_unit = await run_in_threadpool(resolve)
        if found_unit is None:
            return await first_login(request, claims, acr, auth_time, level, interaction)
        rotate_session(request)
        for key in PERSON_KEYS + ("act",):
            request.session.pop(key, None)
        request.session.update(
            unit_id=found_unit[0],
            unit_name=found_unit[1],
            auth_time=auth_time,
            login_at=state.clock.timestamp(),
            amr=list(claims.get("amr") or []) + ["fed"],
            acr=acr,
            sid=sid,
            idp="gdzwfw",
            upstream={"iss": rp.issuer, "sub": claims["sub"], "acr": claims.get("acr"), "auth_time": auth_time, "sid": claims.get("sid"), "id_token": login.id_token},
        )

        if isinstance(claims.get("act"), dict):
            request.session["act"] = claims["act"]
        log.info("federated login", extra={"fields": {"acr": acr}})
        return resume_or(interaction, f"{issuer}/")

    async def first_login(request: Request, claims: dict[str, Any], acr: str | None, auth_time: int, level: TrustLevel | None, interaction: str) -> Response:
        """登录初始化 (part 一 (三) (2)): no unit linked to this provincial
        legal person. A unit with its USCC registered the other way is not
        linked by USCC alone; otherwise the verified claims wait in the
        server-side session for 单位注册 at /isso/init."""
        uscc = str(claims["uscc"]).upper()[:18]
        org_name = str(claims.get("org_name") or "")[:100]

        def registered() -> bool:
            with request.app.state.db.transaction() as db:
                return unit_with_uscc(db, uscc=uscc) is not None

        request.session.pop(INIT_KEY, None)
        request.session.pop(INIT_DONE_KEY, None)
        request.session.pop(LINK_PENDING_KEY, None)
        if level is None or level < INIT_LEVEL:
            # A unit is created (or linked) from the provincial claims only
            # when the province vouches for them by certificate, licence or
            # in person (seed 一 (三) (5): 初始化 and 四级（L2）或以上 let the
            # unit straight in). 三级 rests on what someone knows of the unit.
            log.info("provincial legal person below L2 at first login", extra={"fields": {"acr": acr}})
            found = await run_in_threadpool(parked, interaction)
            return render(
                request,
                "init_level_required.html",
                {
                    "org_name": org_name,
                    "level": level,
                    "required": INIT_LEVEL,
                    "client_name": found.client_name if found else None,
                    "interaction": found.id if found else "",
                    "upgrade_url": with_interaction(f"{issuer}/federation/gdzwfw/start?require={INIT_LEVEL.name}", found.id if found else ""),
                    "decline_url": provider.url(provider.config.paths.authorization + "/decline"),
                },
                status_code=403,
            )
        if await run_in_threadpool(registered):
            request.session[LINK_PENDING_KEY] = {"iss": rp.issuer, "sub": str(claims["sub"]), "uscc": uscc, "org_name": org_name}
            log.info("provincial legal person's unit registered but not linked", extra={"fields": {"uscc": uscc}})
            return render(request, "not_linked.html", {"org_name": org_name, "uscc": uscc, "level": level}, status_code=409)
        if not org_name:
            return refused(request, "广东省统一身份认证平台未提供单位名称，暂无法完成登录初始化，请稍后再试。", "no_org_name", "")
        log.info("provincial legal person not linked: initialisation", extra={"fields": {"uscc": uscc}})
        request.session[INIT_KEY] = {
            "claims": {"iss": rp.issuer, "sub": str(claims["sub"]), "uscc": uscc, "org_name": org_name, "acr": acr, "auth_time": auth_time}
        }
        return RedirectResponse(f"{issuer}/init", status_code=303)

    async def personal_callback(request: Request, claims: dict[str, Any], kind: str, interaction: str) -> Response:
        """个人登录 → 省统一身份认证: a natural person vouched for by the province."""
        if claims.get("account_type") != "natural_person":
            return refused(request, "个人登录请在广东省统一身份认证平台选择“个人登录”，使用您本人的个人账号登录。", "not_natural_person", interaction, tab="personal")
        level = TrustLevel.from_acr(claims.get("acr"))
        id_number = str(claims.get("id_number") or "").upper()
        name = str(claims.get("name") or "")
        if level is None or not id_number or not name:
            log.warning("provincial person without identity claims", extra={"fields": {"has_id": bool(id_number), "acr": claims.get("acr")}})
            return refused(request, "广东省统一身份认证平台未提供您的实名身份信息，暂无法通过此方式登录或注册，请使用账号密码登录。", "no_identity_claims", interaction, tab="personal")
        provincial = ProvincialPerson(issuer=rp.issuer, subject=str(claims["sub"]), name=name, id_number=id_number, acr=level.acr)
        services = isso(request)
        if kind == "link":
            person_id = request.session.get("person_id")
            if not person_id:
                return RedirectResponse(f"{issuer}/login?tab=personal", status_code=303)
            problem = await run_in_threadpool(lambda: services.persons.link_provincial(person_id=person_id, provincial=provincial))
            flash(request, problem or msg.REALNAME_DONE)
            return RedirectResponse(f"{issuer}/account", status_code=303)
        outcome = await run_in_threadpool(services.persons.provincial_login, provincial)
        if outcome is None:

            def registered() -> bool:
                with request.app.state.db.transaction() as db:
                    return find_by_id_number(db, id_number=id_number) is not None

            if await run_in_threadpool(registered):
                return render(request, "provincial_person_exists.html", {"interaction": interaction}, status_code=409)
            # Way 2 of 个人注册: finish with a mobile number and a password.
            request.session["fed_person"] = {"iss": provincial.issuer, "sub": provincial.subject, "name": name, "id_number": id_number, "acr": provincial.acr}
            return RedirectResponse(with_interaction(f"{issuer}/register/provincial", interaction), status_code=303)

        if outcome[1] == "disabled":
            return refused(request, msg.ACCOUNT_DISABLED, "account_disabled", interaction, tab="personal")

        def load():
            with request.app.state.db.transaction() as db:
                person = get_person(db, person_id=outcome[0])
                db.expunge(person)
                return person

        person = await run_in_threadpool(load)
        start_person_session(request, person=person, amr=list(claims.get("amr") or []) + ["fed"])
        log.info("personal federated login", extra={"fields": {"outcome": outcome[1]}})
        return RedirectResponse(with_interaction(f"{issuer}/login/units", interaction if parked(interaction) else ""), status_code=303)

    return router
