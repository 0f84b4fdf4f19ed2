"""The unit's login through hrss_isso (OpenID Connect, with RFC 9470
step-up), its logout, and hrss_isso's back-channel logout notices."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from services.refund_portal.admission import REQUIRED_LEVEL, STEP_UP_URL, admitted
from services.refund_portal.deps import BackchannelLogoutDep, RefundSettingsDep, RelyingPartyDep
from shared.metrics import record_login
from shared.oauth.challenge import parse_bearer_challenge
from shared.oauth.client import LoginFailed
from shared.trust import TrustLevel, require_level_claims
from shared.web.app import render
from shared.web.deps import CsrfForm, Refused, SessionDep
from shared.web.redirects import local_path
from shared.web.sessions import rotate_session

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
log = logging.getLogger("refund.login")
FAILURE_TEXT = {
    "unreachable": "暂时无法连接广东人社统一认证，请稍后再试。",
    "state": "登录状态已失效（页面停留过久、重复提交或在其他窗口登录），请重新登录。",
    "issuer_mismatch": "登录结果并非来自广东人社统一认证，未通过安全校验，已拒绝登录。",
    "invalid_response": "登录结果未通过安全校验（签名、签发方或有效期不符），已拒绝登录。",
    "upstream_error": "登录未完成。",
}
AFTER_LOGIN = "after_login"


@router.get("/login")
async def login(
    request: Request, session: SessionDep, rp: RelyingPartyDep, fresh: int = 0, acr_values: str = "", max_age: str = "", next: str = ""
) -> Response:
    # Step-up (RFC 9470): a challenge's acr_values (and max_age) become a
    # new authorization request; only known levels at or above L2 are
    # asked. The first login asks L2 as a preference (the gate below
    # checks what comes back); a step-up asks it as essential, so each
    # provider on the way offers the upgrade instead of answering lower.
    asked = [lvl for v in acr_values.split() if (lvl := TrustLevel.from_acr(v)) is not None and lvl >= REQUIRED_LEVEL]
    acr = " ".join(lvl.acr for lvl in asked) or REQUIRED_LEVEL.acr
    claims = require_level_claims(min(asked)) if asked else ""
    session.pop(AFTER_LOGIN, None)
    if (path := local_path(next)) is not None:
        session[AFTER_LOGIN] = path
    try:
        return await rp.start(
            request,
            acr_values=acr,
            claims=claims,
            max_age=max_age if max_age.isdigit() else "",
            prompt="login" if fresh else "",
        )
    except LoginFailed as failure:
        return render(request, "login_failed.html", {"message": FAILURE_TEXT["unreachable"], "code": failure.kind}, status_code=502)


@router.get("/login/step-up")
async def step_up(challenge: str = "", next: str = "/") -> Response:
    """For front ends of the portal's API: hand over the API's RFC 9470
    ``WWW-Authenticate`` challenge as it came, and the login starts again
    with the levels (and max_age) it asks for, then returns to ``next``."""
    parsed = parse_bearer_challenge(challenge)
    if parsed is None or not parsed.is_step_up:
        raise Refused("无法识别的认证要求，请返回重新登录。", status_code=400, back_url="/")
    params = {"acr_values": " ".join(parsed.acr_values), "next": local_path(next) or "/"}
    if parsed.max_age is not None:
        params["max_age"] = str(parsed.max_age)
    return RedirectResponse(f"/login?{urlencode(params)}", status_code=303)


@router.get("/auth/callback")
async def callback(request: Request, rp: RelyingPartyDep) -> Response:
    try:
        login = await rp.finish(request)
    except LoginFailed as failure:
        fields = {"kind": failure.kind, "upstream_error": failure.upstream_error, "detail": failure.detail[:200]}
        log.warning("login failed", extra={"fields": fields})
        record_login("hrss_isso", "failure")
        message = FAILURE_TEXT.get(failure.kind, FAILURE_TEXT["upstream_error"])
        upgrade = None
        if failure.upstream_error == "access_denied":
            message = "您已取消登录。"
        elif failure.upstream_error == "unmet_authentication_requirements":
            message = "您的账号可信等级不足，未能登录。稳岗返还信息确认需要四级（原L2）或以上，请先完成实名核验升级。"
            upgrade = STEP_UP_URL
        context = {"message": message, "code": failure.upstream_error or failure.kind, "upgrade_url": upgrade}
        return render(request, "login_failed.html", context, status_code=400)
    claims = login.claims
    level = TrustLevel.from_acr(claims.get("acr"))
    rotate_session(request)
    session = request.session
    session["unit"] = {
        "sub": claims["sub"],
        "org_name": claims.get("org_name"),
        "uscc": claims.get("uscc"),
        "unit_code": claims.get("unit_code"),
        "act": claims.get("act"),
        "idp": claims.get("idp"),
    }
    session["acr"] = level.acr if level else None
    session["id_token"] = login.id_token
    session["isso_sid"] = claims.get("sid")
    log.info("login", extra={"fields": {"acr": session["acr"], "admitted": admitted(session["acr"])}})
    record_login("hrss_isso", "success")
    # Back to where the login (or the step-up) set out from.
    return RedirectResponse(local_path(session.pop(AFTER_LOGIN, "") or "") or "/", status_code=303)


@router.get("/logout")
async def logout_page(request: Request) -> Response:
    """A link to /logout (an old bookmark) asks first: logging out on a GET would
    let any site's link or image end the session, and the ISSO's with it."""
    context = {"action": "/logout", "params": {}, "consequence": "退出后，需要重新通过广东人社统一认证登录。"}
    return render(request, "logout_confirm.html", context)


@router.post("/logout")
async def logout(form: CsrfForm, session: SessionDep, rp: RelyingPartyDep, settings: RefundSettingsDep) -> Response:
    id_token = session.get("id_token")
    session.clear()
    url = await rp.logout_url(id_token_hint=id_token, post_logout_redirect_uri=f"{settings.public_url}/")
    return RedirectResponse(url or "/", status_code=303)


@router.get("/auth/jwks.json")
async def client_jwks(rp: RelyingPartyDep) -> JSONResponse:
    """The public key of the portal's private_key_jwt assertions at the
    ISSO: the jwks_uri of its registration there."""
    return JSONResponse(rp.public_jwks(), headers={"Cache-Control": "public, max-age=300"})


@router.post("/auth/backchannel-logout")
async def backchannel_logout(request: Request, receive: BackchannelLogoutDep) -> Response:
    """OIDC Back-Channel Logout 1.0 §2.5 (see :mod:`.backchannel`)."""
    return await receive(request)
