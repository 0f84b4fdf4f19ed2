"""失业保险稳岗返还 pages: login through hrss_isso, the L2 gate, logout."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from services.refund_portal.admission import REQUIRED_LEVEL, admitted
from shared.oauth.client import LoginFailed, RelyingParty
from shared.trust import TrustLevel
from shared.web.app import render
from shared.web.sessions import rotate_session

__all__ = ["pages_router"]

log = logging.getLogger("refund.login")
FAILURE_TEXT = {
    "unreachable": "暂时无法连接广东人社统一认证，请稍后再试。",
    "state": "登录状态已失效（页面停留过久、重复提交或在其他窗口登录），请重新登录。",
    "issuer_mismatch": "登录结果并非来自广东人社统一认证，未通过安全校验，已拒绝登录。",
    "invalid_response": "登录结果未通过安全校验（签名、签发方或有效期不符），已拒绝登录。",
    "upstream_error": "登录未完成。",
}


def pages_router(*, rp: RelyingParty) -> APIRouter:
    router = APIRouter()

    @router.get("/", include_in_schema=False)
    async def home(request: Request) -> Response:
        unit = request.session.get("unit")
        if not unit:
            return render(request, "landing.html", {})
        acr = request.session.get("acr")
        level = TrustLevel.from_acr(acr)
        if not admitted(acr):
            settings = request.app.state.settings
            return render(
                request,
                "level_required.html",
                {"unit": unit, "level": level, "required": REQUIRED_LEVEL, "verification_url": settings.gdzwfw_verification_url},
                status_code=403,
            )
        return render(request, "confirm.html", {"unit": unit, "level": level})

    @router.get("/login", include_in_schema=False)
    async def login(request: Request, fresh: int = 0) -> Response:
        try:
            # acr_values is a preference; the gate below checks what comes back.
            return await rp.start(request, acr_values=REQUIRED_LEVEL.acr, prompt="login" if fresh else "")
        except LoginFailed as failure:
            return render(request, "login_failed.html", {"message": FAILURE_TEXT["unreachable"], "code": failure.kind}, status_code=502)

    @router.get("/auth/callback", include_in_schema=False)
    async def callback(request: Request) -> Response:
        try:
            login = await rp.finish(request)
        except LoginFailed as failure:
            log.warning("login failed", extra={"fields": {"kind": failure.kind, "upstream_error": failure.upstream_error, "detail": failure.detail[:200]}})
            message = FAILURE_TEXT.get(failure.kind, FAILURE_TEXT["upstream_error"])
            if failure.upstream_error == "access_denied":
                message = "您已取消登录。"
            elif failure.upstream_error == "unmet_authentication_requirements":
                message = "您的账号可信等级不足，未能登录。稳岗返还信息确认需要四级（原L2）或以上。"
            return render(request, "login_failed.html", {"message": message, "code": failure.upstream_error or failure.kind}, status_code=400)
        claims = login.claims
        level = TrustLevel.from_acr(claims.get("acr"))
        rotate_session(request)
        request.session["unit"] = {
            "sub": claims["sub"],
            "org_name": claims.get("org_name"),
            "uscc": claims.get("uscc"),
            "unit_code": claims.get("unit_code"),
            "act": claims.get("act"),
        }
        request.session["acr"] = level.acr if level else None
        request.session["id_token"] = login.id_token
        log.info("login", extra={"fields": {"acr": request.session["acr"], "admitted": admitted(request.session["acr"])}})
        return RedirectResponse("/", status_code=303)

    @router.get("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        id_token = request.session.get("id_token")
        request.session.clear()
        public = request.app.state.settings.public_url
        url = await rp.logout_url(id_token_hint=id_token, post_logout_redirect_uri=f"{public}/")
        return RedirectResponse(url or "/", status_code=303)

    return router
