"""HTTP endpoints of the shared provider: decode, call :mod:`.provider`, render.

Mounted by each provider service below its issuer path ("" for gdzwfw_idp,
"/isso" for hrss_isso).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from shared.oauth.adapter import read_oauth2_request
from shared.oauth.provider.provider import ConfirmLogout, ErrorPage, Login, Provider, Respond, Unmet
from shared.web.app import render
from shared.web.csrf import verify_csrf_form

__all__ = ["provider_router", "outcome_response"]

_ERROR_TEXT = {
    "invalid_client": "发起登录的应用未在本平台登记，或其标识有误。",
    "invalid_request": "登录请求的参数不完整或有误，为保护您的账号安全，已停止跳转。",
}


def outcome_response(request: Request, provider: Provider, outcome: Respond | ErrorPage | Login | Unmet) -> Response:
    """Turn an authorization outcome into the page or redirect it means."""
    paths = provider.config.paths
    if isinstance(outcome, Respond):
        return outcome.response
    if isinstance(outcome, Login):
        return RedirectResponse(outcome.url, status_code=303)
    if isinstance(outcome, Unmet):
        return render(
            request,
            "acr_unmet.html",
            {
                "interaction": outcome.interaction,
                "principal": outcome.principal,
                "reached": outcome.principal.trust_level,
                "required": outcome.required,
                "upgrade_url": outcome.upgrade_url,
                "decline_url": provider.url(paths.authorization + "/decline"),
                "switch_url": provider.config.hooks.login_url(outcome.interaction.id),
            },
            status_code=403,
        )
    return render(
        request,
        "oauth_error.html",
        {
            "message": _ERROR_TEXT.get(outcome.error, "登录请求无效，为保护您的账号安全，已停止跳转。"),
            "error": outcome.error,
            "request_id": getattr(request.state, "request_id", "-"),
        },
        status_code=400,
    )



def provider_router(provider: Provider, *, prefix: str = "") -> APIRouter:
    router = APIRouter(prefix=prefix)
    paths = provider.config.paths

    @router.get("/.well-known/openid-configuration", include_in_schema=False)
    async def discovery() -> JSONResponse:
        return JSONResponse(provider.discovery(), headers={"Cache-Control": "public, max-age=300"})

    @router.get(paths.jwks, include_in_schema=False)
    async def jwks() -> JSONResponse:
        return JSONResponse(await run_in_threadpool(provider.jwks), headers={"Cache-Control": "public, max-age=60"})

    @router.api_route(paths.authorization, methods=["GET", "POST"], include_in_schema=False)
    async def authorize(request: Request) -> Response:
        req = await read_oauth2_request(request)
        return outcome_response(request, provider, await run_in_threadpool(provider.authorize, req))

    @router.get(paths.authorization + "/resume", include_in_schema=False)
    async def resume(request: Request, interaction: str = "") -> Response:
        parked = await run_in_threadpool(provider.interactions.get, interaction)
        if parked is None:
            return render(request, "oauth_error.html", {"message": "登录已超时，请返回原应用重新发起登录。", "error": "interaction_expired"}, status_code=400)
        req = await read_oauth2_request(request, params=parked.params)
        return outcome_response(request, provider, await run_in_threadpool(lambda: provider.authorize(req, resumed=parked)))

    @router.post(paths.authorization + "/decline", include_in_schema=False)
    async def decline(request: Request) -> Response:
        form = await verify_csrf_form(request)
        parked = await run_in_threadpool(provider.interactions.get, str(form.get("interaction", "")))
        if parked is None:
            return render(request, "oauth_error.html", {"message": "登录已超时，请返回原应用重新发起登录。", "error": "interaction_expired"}, status_code=400)
        req = await read_oauth2_request(request, params=parked.params)
        # 取消登录 on a login page, or 返回 from the "level too low" page.
        error = "access_denied" if form.get("reason") == "cancel" else "unmet_authentication_requirements"
        return outcome_response(request, provider, await run_in_threadpool(provider.deny, parked, req, error))

    @router.post(paths.token, include_in_schema=False)
    async def token(request: Request) -> Response:
        return await run_in_threadpool(provider.token, await read_oauth2_request(request))

    @router.post(paths.introspection, include_in_schema=False)
    async def introspect(request: Request) -> Response:
        return await run_in_threadpool(provider.endpoint, "introspection", await read_oauth2_request(request))

    @router.post(paths.revocation, include_in_schema=False)
    async def revoke(request: Request) -> Response:
        return await run_in_threadpool(provider.endpoint, "revocation", await read_oauth2_request(request))

    @router.api_route(paths.userinfo, methods=["GET", "POST"], include_in_schema=False)
    async def userinfo(request: Request) -> Response:
        return await run_in_threadpool(provider.endpoint, "userinfo", await read_oauth2_request(request))

    @router.api_route(paths.end_session, methods=["GET", "POST"], include_in_schema=False)
    async def end_session(request: Request) -> Response:
        confirmed = False
        if request.method == "POST":
            form = await verify_csrf_form(request)
            confirmed = form.get("confirm") == "yes"
            params = {k: v for k, v in form.items() if isinstance(v, str) and k not in ("csrf_token", "confirm")}
            req = await read_oauth2_request(request, params=params)
        else:
            req = await read_oauth2_request(request)
        # Read before the provider clears the session: a provider continuing
        # the logout upstream needs what the login held (its upstream ID token).
        ended = dict(request.session)
        result = await run_in_threadpool(lambda: provider.end_session(req, confirmed=confirmed))
        if isinstance(result, ConfirmLogout):
            return render(request, "logout_confirm.html", {"client_name": result.client_name, "params": dict(req.payload.data), "action": provider.url(paths.end_session)})
        # Short of the confirmation page the session has ended, so only now may
        # the logout go on elsewhere (the ISSO: to end the login at gdzwfw_idp).
        destination = result.headers.get("location") if result is not None and 300 <= result.status_code < 400 else None
        onward = await provider.config.hooks.continue_logout(request.session, ended, destination)
        if onward:
            return RedirectResponse(onward, status_code=303)
        if result is None:
            return render(request, "logged_out.html", {})
        return result

    return router
