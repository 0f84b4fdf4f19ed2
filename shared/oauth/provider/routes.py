"""HTTP endpoints of the shared provider: decode, call :mod:`.provider`, render.

:func:`mount_provider` puts them below the issuer path of a service ("" for
gdzwfw_idp, "/isso" for hrss_isso): the browser's endpoints (authorization,
its resume and decline, logout) on the module-level :data:`router`, which
needs sessions, CSRF and templates; the machine endpoints (discovery, JWKS,
token, introspection, revocation, userinfo) on the fast lane
(:mod:`shared.web.fastlane`), which skips all of that.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from shared.oauth.adapter import machine_oauth2_request, read_oauth2_request
from shared.oauth.provider.provider import ConfirmLogout, EndpointPaths, ErrorPage, Login, Provider, Respond, Unmet
from shared.web.app import render
from shared.web.deps import csrf_form, state
from shared.web.fastlane import MachineRequest, MachineResponse, ServiceApp
from shared.web.plain_pages import plain_page

__all__ = ["router", "mount_provider", "outcome_response"]

PATHS = EndpointPaths()

_ERROR_TEXT = {
    "invalid_client": "发起登录的应用未在本平台登记，或其标识有误。",
    "invalid_request": "登录请求的参数不完整或有误，为保护您的账号安全，已停止跳转。",
    "invalid_request_object": "登录请求的签名或内容无法核实，为保护您的账号安全，已停止跳转。",
    "invalid_request_uri": "登录请求已失效（已使用或已超时），请返回原应用重新发起登录。",
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


router = APIRouter(include_in_schema=False)


def _interaction_expired(request: Request) -> Response:
    return render(
        request, "oauth_error.html", {"message": "登录已超时，请返回原应用重新发起登录。", "error": "interaction_expired"}, status_code=400
    )


# The browser's endpoints are plain routes (shared.web.plain_pages): every
# login passes the authorization request and its resume. Their metric label
# is then the path served, /isso included, as for the service's own pages
# (FastAPI would label a route of this router, included below a prefix,
# without it).
def _provider(request: Request) -> Provider:
    return state(request, "provider")


@plain_page(router, PATHS.authorization, methods=["GET", "POST"])
async def authorize(request: Request) -> Response:
    provider = _provider(request)
    req = await read_oauth2_request(request)
    decided = await provider.hot.authorize(req)
    if decided is None:
        decided = await run_in_threadpool(provider.authorize, req)
    return outcome_response(request, provider, await provider.conclude(req, decided, resumed=None))


@plain_page(router, PATHS.authorization + "/resume", methods=["GET"])
async def resume(request: Request) -> Response:
    provider = _provider(request)
    # Taken, not read: a resume sent twice at once gets one answer.
    parked = await provider.interactions.atake(request.query_params.get("interaction", ""))
    if parked is None:
        return _interaction_expired(request)
    async with provider.answering(parked):
        req = await read_oauth2_request(request, params=parked.params)
        decided = await provider.hot.authorize(req, resumed=parked)
        if decided is None:
            decided = await run_in_threadpool(lambda: provider.authorize(req, resumed=parked))
        outcome = await provider.conclude(req, decided, resumed=parked)
    return outcome_response(request, provider, outcome)


@plain_page(router, PATHS.authorization + "/decline", methods=["POST"])
async def decline(request: Request) -> Response:
    provider, form = _provider(request), await csrf_form(request)
    # Taken, as by the resume: a decline racing a resume (or another
    # decline) leaves the client one answer.
    parked = await provider.interactions.atake(str(form.get("interaction", "")))
    if parked is None:
        return _interaction_expired(request)
    async with provider.answering(parked):
        req = await read_oauth2_request(request, params=parked.params)
        # 取消登录 on a login page, or 返回 from the "level too low" page.
        error = "access_denied" if form.get("reason") == "cancel" else "unmet_authentication_requirements"
        outcome = await run_in_threadpool(provider.deny, req, error)
    return outcome_response(request, provider, outcome)


@plain_page(router, PATHS.end_session, methods=["GET", "POST"])
async def end_session(request: Request) -> Response:
    provider = _provider(request)
    confirmed = False
    if request.method == "POST":
        form = await csrf_form(request)
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
        context = {"client_name": result.client_name, "params": dict(req.payload.data), "action": provider.url(PATHS.end_session)}
        return render(request, "logout_confirm.html", context)
    # Short of the confirmation page the session has ended, so only now may
    # the logout go on elsewhere (the ISSO: to end the login at gdzwfw_idp).
    destination = result.headers.get("location") if result is not None and 300 <= result.status_code < 400 else None
    onward = await provider.config.hooks.continue_logout(request.session, ended, destination)
    if onward:
        return RedirectResponse(onward, status_code=303)
    if result is None:
        return render(request, "logged_out.html", {})
    return result


# -- the machine endpoints, on the fast lane --------------------------------
def _machine(response: Response) -> MachineResponse:
    headers = [(k, v) for k, v in response.raw_headers if k != b"content-length"]
    return MachineResponse(status=response.status_code, body=bytes(response.body), headers=headers)


def machine_endpoints(provider: Provider, *, public_url: str):
    """(path, methods, handler) of the endpoints programs call."""
    discovery_body = json.dumps(provider.discovery(), ensure_ascii=False).encode()
    cached_json = [(b"content-type", b"application/json"), (b"cache-control", b"public, max-age=300")]

    async def discovery(_: MachineRequest) -> MachineResponse:
        return MachineResponse(status=200, body=discovery_body, headers=cached_json)

    async def jwks(_: MachineRequest) -> MachineResponse:
        keys = await run_in_threadpool(provider.jwks)
        return MachineResponse(
            status=200,
            body=json.dumps(keys).encode(),
            headers=[(b"content-type", b"application/json"), (b"cache-control", b"public, max-age=60")],
        )

    async def token(request: MachineRequest) -> MachineResponse:
        return _machine(await provider.hot.token(machine_oauth2_request(request, public_url=public_url)))

    async def introspect(request: MachineRequest) -> MachineResponse:
        return _machine(await provider.hot.introspect(machine_oauth2_request(request, public_url=public_url)))

    async def pushed_authorization(request: MachineRequest) -> MachineResponse:
        req = machine_oauth2_request(request, public_url=public_url)
        return _machine(await run_in_threadpool(provider.push, req))

    def endpoint(name: str):
        async def handle(request: MachineRequest) -> MachineResponse:
            req = machine_oauth2_request(request, public_url=public_url)
            return _machine(await run_in_threadpool(provider.endpoint, name, req))

        return handle

    return [
        ("/.well-known/openid-configuration", ("GET", "HEAD"), discovery),
        (PATHS.jwks, ("GET", "HEAD"), jwks),
        (PATHS.token, ("POST",), token),
        (PATHS.introspection, ("POST",), introspect),
        (PATHS.revocation, ("POST",), endpoint("revocation")),
        (PATHS.pushed_authorization, ("POST",), pushed_authorization),
        (PATHS.userinfo, ("GET", "POST"), endpoint("userinfo")),
    ]


def mount_provider(app: ServiceApp, provider: Provider, *, prefix: str = "") -> None:
    """The provider's endpoints below ``prefix`` (its issuer's path)."""
    app.state.provider = provider
    app.state.metrics_collectors.append(provider.outbox_depth)
    app.include_router(router, prefix=prefix)
    for path, methods, handler in machine_endpoints(provider, public_url=app.state.settings.public_url):
        app.add_fast_route(prefix + path, handler, methods=methods)
