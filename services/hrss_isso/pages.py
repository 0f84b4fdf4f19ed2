"""广东人社统一认证 pages: login (单位登录 / 个人登录) and the federated way in
through 省统一身份认证 (the seed's part 一 (三))."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from services.hrss_isso.units import find_unit_for_provincial, get_unit, record_federated_login
from shared.oauth.adapter import read_oauth2_request
from shared.oauth.client import LoginFailed, RelyingParty
from shared.oauth.provider.provider import Provider
from shared.oauth.provider.routes import outcome_response
from shared.trust import TrustLevel
from shared.web.app import render
from shared.web.sessions import rotate_session

__all__ = ["pages_router"]

log = logging.getLogger("isso.federation")
TABS = {"unit": "单位登录", "personal": "个人登录"}
UNIT_METHODS = {"gdzwfw": "省统一身份认证", "password": "账号密码"}
PERSONAL_METHODS = {"password": "账号密码"}
FORWARDED_DENIALS = {"access_denied", "unmet_authentication_requirements", "login_required"}
FAILURE_TEXT = {
    "unreachable": "暂时无法连接广东省统一身份认证平台，请稍后再试。",
    "state": "登录状态已失效（页面停留过久、重复提交或在其他窗口登录），请重新登录。",
    "issuer_mismatch": "登录结果并非来自广东省统一身份认证平台，未通过安全校验，已拒绝登录。",
    "invalid_response": "广东省统一身份认证平台返回的登录结果未通过安全校验，已拒绝登录。",
    "upstream_error": "省统一身份认证登录未完成。",
}


def pages_router(*, provider: Provider, rp: RelyingParty) -> APIRouter:
    router = APIRouter(prefix="/isso")
    issuer = provider.config.issuer

    def parked(interaction: str):
        return provider.interactions.get(interaction) if interaction else None

    @router.get("/", include_in_schema=False)
    @router.get("", include_in_schema=False)
    async def home(request: Request) -> Response:
        unit_id = request.session.get("unit_id")
        unit = None
        if unit_id:
            def load():
                with request.app.state.db.transaction() as db:
                    found = get_unit(db, unit_id=unit_id)
                    if found is not None:
                        db.expunge(found)
                    return found
            unit = await run_in_threadpool(load)
        if unit is None:
            return RedirectResponse(f"{issuer}/login", status_code=303)
        level = TrustLevel.from_acr(request.session.get("acr"))
        return render(request, "home.html", {"unit": unit, "level": level, "idp": request.session.get("idp")})

    @router.get("/login", include_in_schema=False)
    async def login_page(request: Request, interaction: str = "", tab: str = "unit", method: str = "gdzwfw") -> Response:
        tab = tab if tab in TABS else "unit"
        methods = UNIT_METHODS if tab == "unit" else PERSONAL_METHODS
        method = method if method in methods else next(iter(methods))
        found = await run_in_threadpool(parked, interaction)
        return render(
            request,
            "login.html",
            {
                "interaction": interaction if found else "",
                "client_name": found.client_name if found else None,
                "tab": tab,
                "tabs": TABS,
                "method": method,
                "methods": methods,
            },
        )

    @router.get("/federation/gdzwfw/start", include_in_schema=False)
    async def federation_start(request: Request, interaction: str = "") -> Response:
        found = await run_in_threadpool(parked, interaction)
        params: dict[str, Any] = found.params if found else {}
        request.session["fed_interaction"] = found.id if found else ""
        try:
            # Forward the client's level request upstream (DESIGN.md); the
            # level that comes back is what the client will be told.
            return await rp.start(
                request,
                acr_values=params.get("acr_values", ""),
                claims=params.get("claims", ""),
                max_age=params.get("max_age", ""),
            )
        except LoginFailed as failure:
            log.warning("gdzwfw unreachable at start", extra={"fields": {"kind": failure.kind}})
            return failure_page(request, failure, interaction)

    def failure_page(request: Request, failure: LoginFailed, interaction: str) -> Response:
        message = FAILURE_TEXT.get(failure.kind, FAILURE_TEXT["upstream_error"])
        if failure.upstream_error == "access_denied":
            message = "您已取消在广东省统一身份认证平台的登录。"
        retry = f"{issuer}/login" + (f"?interaction={interaction}" if interaction else "")
        return render(request, "federation_failed.html", {"message": message, "retry_url": retry, "code": failure.upstream_error or failure.kind}, status_code=502 if failure.kind == "unreachable" else 400)

    @router.get("/federation/gdzwfw/callback", include_in_schema=False)
    async def federation_callback(request: Request) -> Response:
        interaction = request.session.pop("fed_interaction", "") or ""
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
        claims = login.claims
        if claims.get("account_type") != "legal_person" or not claims.get("uscc"):
            return render(request, "federation_failed.html", {"message": "单位登录请在广东省统一身份认证平台选择“法人登录”，使用单位的法人账号登录。", "retry_url": f"{issuer}/login" + (f"?interaction={interaction}" if interaction else ""), "code": "not_legal_person"}, status_code=400)
        level = TrustLevel.from_acr(claims.get("acr"))
        acr = level.acr if level else None  # an unknown acr is no level at all
        state = request.app.state
        sid = state.tokens.token(16)
        auth_time = int(claims.get("auth_time") or state.clock.timestamp())

        def resolve() -> str | None:
            with state.db.transaction() as db:
                unit = find_unit_for_provincial(db, issuer=rp.issuer, subject=claims["sub"], uscc=claims["uscc"], now=state.clock.now())
                if unit is None:
                    return None
                record_federated_login(db, unit=unit, issuer=rp.issuer, subject=claims["sub"], acr=acr, auth_time=auth_time, sid=sid, now=state.clock.now())
                return unit.id

        unit_id = await run_in_threadpool(resolve)
        if unit_id is None:
            log.info("provincial legal person not linked", extra={"fields": {"uscc": claims["uscc"]}})
            return render(request, "not_linked.html", {"org_name": claims.get("org_name"), "uscc": claims["uscc"], "level": level}, status_code=200)
        rotate_session(request)
        request.session.update(
            unit_id=unit_id,
            auth_time=auth_time,
            amr=list(claims.get("amr") or []) + ["fed"],
            acr=acr,
            sid=sid,
            idp="gdzwfw",
            upstream={"iss": rp.issuer, "sub": claims["sub"], "acr": claims.get("acr"), "auth_time": auth_time, "id_token": login.id_token},
        )
        if isinstance(claims.get("act"), dict):
            request.session["act"] = claims["act"]
        log.info("federated login", extra={"fields": {"acr": acr}})
        if interaction:
            return RedirectResponse(f"{issuer}/authorize/resume?interaction={interaction}", status_code=303)
        return RedirectResponse(f"{issuer}/", status_code=303)

    @router.get("/logged-out", include_in_schema=False)
    async def logged_out(request: Request) -> Response:
        return render(request, "logged_out.html", {})

    return router
