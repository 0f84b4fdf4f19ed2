"""Single logout at the ISSO (DESIGN.md § Protocol floor, issue 5).

- RP-initiated logout (``/isso/logout``): the provider's own end of session,
  then, when the login came from gdzwfw_idp, RP-initiated logout there too
  (``id_token_hint`` = the upstream ID token, ``post_logout_redirect_uri`` =
  ``/isso/logged-out``); ``/isso/logged-out`` then continues to where the
  ISSO's client asked to be sent, carried in the session under a one-time
  ``state``.
- Back-channel logout from gdzwfw_idp (``/isso/backchannel-logout``): the
  upstream ``sid`` names the ISSO sessions made from it (``federated_login``
  records both sids). Each is marked ended (``ended_at``:
  ``hooks.session_principal`` and the pages refuse it), its tokens are
  revoked and the ISSO's own clients get their back-channel notices.
"""

from __future__ import annotations

import logging

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from services.hrss_isso.units import end_federated_logins
from shared.kvstore import KeyValueStore
from shared.oauth.adapter import read_oauth2_request
from shared.oauth.backchannel import LogoutTokenValidator, logout_receiver
from shared.oauth.client import RelyingParty
from shared.oauth.provider.provider import ConfirmLogout, Provider
from shared.web.app import render
from shared.web.csrf import verify_csrf_form

__all__ = ["logout_router"]

log = logging.getLogger("isso.logout")
AFTER_LOGOUT = "after_upstream_logout"


def logout_router(*, provider: Provider, rp: RelyingParty, kv: KeyValueStore) -> APIRouter:
    """Mounted before the provider's router, so its ``/isso/logout`` wins."""
    router = APIRouter(prefix="/isso")
    issuer = provider.config.issuer
    end_session_path = provider.config.paths.end_session
    validator = LogoutTokenValidator(rp=rp, kv=kv, clock=provider.config.clock)

    @router.api_route(end_session_path, methods=["GET", "POST"], include_in_schema=False)
    async def end_session(request: Request) -> Response:
        confirmed = False
        if request.method == "POST":
            form = await verify_csrf_form(request)
            confirmed = form.get("confirm") == "yes"
            params = {k: v for k, v in form.items() if isinstance(v, str) and k not in ("csrf_token", "confirm")}
            req = await read_oauth2_request(request, params=params)
        else:
            req = await read_oauth2_request(request)
        upstream = request.session.get("upstream") if request.session.get("idp") == "gdzwfw" else None
        result = await run_in_threadpool(lambda: provider.end_session(req, confirmed=confirmed))
        if isinstance(result, ConfirmLogout):
            return render(request, "logout_confirm.html", {"client_name": result.client_name, "params": dict(req.payload.data), "action": provider.url(end_session_path)})
        ended = not request.session.get("unit_id")
        if ended and isinstance(upstream, dict) and upstream.get("id_token"):
            destination = None
            if result is not None and 300 <= result.status_code < 400:
                destination = result.headers.get("location")
            upstream_url = await upstream_logout_url(request, upstream["id_token"], destination)
            if upstream_url:
                log.info("continuing logout upstream", extra={"fields": {"has_destination": bool(destination)}})
                return RedirectResponse(upstream_url, status_code=303)
            log.warning("gdzwfw logout unavailable; provincial session left to its own timeout")
        if result is None:
            return render(request, "logged_out.html", {})
        return result

    async def upstream_logout_url(request: Request, id_token: str, destination: str | None) -> str | None:
        url = await rp.logout_url(id_token_hint=id_token, post_logout_redirect_uri=f"{issuer}/logged-out")
        if url is None:
            return None
        state = provider.config.tokens.token(16)
        request.session[AFTER_LOGOUT] = {"state": state, "to": destination or ""}
        return f"{url}&{httpx.QueryParams({'state': state})}"

    @router.get("/logged-out", include_in_schema=False)
    async def logged_out(request: Request, state: str = "") -> Response:
        pending = request.session.pop(AFTER_LOGOUT, None)
        if isinstance(pending, dict) and state and pending.get("state") == state and pending.get("to"):
            # Back to the ISSO client's registered post_logout_redirect_uri
            # (already checked by the provider when the logout began).
            return RedirectResponse(pending["to"], status_code=303)
        return render(request, "logged_out.html", {})

    router.add_api_route(
        "/backchannel-logout",
        logout_receiver(validator, lambda sid: end_isso_sessions(sid), source="gdzwfw"),
        methods=["POST"],
        include_in_schema=False,
    )

    def end_isso_sessions(upstream_sid: str) -> list[str]:
        with provider.db.session() as s:
            isso_sids = end_federated_logins(s, issuer=rp.issuer, upstream_sid=upstream_sid, now=provider.config.clock.now())
            bound = provider.bind(s)
            for isso_sid in isso_sids:
                # Revokes the session's tokens, prepares the clients' notices.
                bound.end_browser_session({"sid": isso_sid})
            s.commit()
        provider.config.notify_logout(bound.logout_notices)
        return isso_sids

    return router
