"""Single logout at the ISSO (DESIGN.md § Protocol floor, issue 5).

- RP-initiated logout (``/isso/logout``) is the shared provider's end-session
  endpoint. When the login came from gdzwfw_idp, the ``continue_logout``
  hook (:func:`upstream_logout_url`) sends the browser on to RP-initiated
  logout there too (``id_token_hint`` = the upstream ID token,
  ``post_logout_redirect_uri`` = ``/isso/logged-out``); ``/isso/logged-out``
  then continues to where the ISSO's client asked to be sent, carried in the
  session under a one-time ``state``.
- Back-channel logout from gdzwfw_idp (``/isso/backchannel-logout``): the
  upstream ``sid`` names the ISSO sessions made from it (``federated_login``
  records both sids). Each is marked ended (``ended_at``:
  ``hooks.session_principal`` and the pages refuse it), then the provider
  ends them (``Provider.end_sessions_by_sid``): their tokens are revoked and
  the ISSO's own clients get their back-channel notices.
- A personal account's password reset (忘记密码) ends every login of that
  person (:func:`end_person_logins`): the browser sessions stop counting
  (``hooks.session_ended``), and the tokens issued while the person acted
  for a unit are revoked with notices to their clients.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from services.hrss_isso.accounts.bindings import bindings_of_person
from services.hrss_isso.accounts.units import end_federated_logins
from shared.kvstore import KeyValueStore
from shared.oauth.backchannel import LogoutTokenValidator, logout_receiver
from shared.oauth.client import RelyingParty
from shared.oauth.provider.provider import Provider
from shared.randomness import TokenSource
from shared.web.app import render

__all__ = ["logout_router", "upstream_logout_url", "end_person_logins"]

log = logging.getLogger("isso.logout")
AFTER_LOGOUT = "after_upstream_logout"


async def upstream_logout_url(
    rp: RelyingParty, tokens: TokenSource, *, issuer: str, session: dict[str, Any], ended: dict[str, Any], destination: str | None
) -> str | None:
    """RP-initiated logout at gdzwfw_idp after the ISSO's own ended, or None
    to finish at the ISSO (see ``ProviderHooks.continue_logout``)."""
    upstream = ended.get("upstream") if ended.get("idp") == "gdzwfw" else None
    # Only a login that really ended here, and came from the province, is
    # ended there too: a unit-account or handler login has no upstream session.
    if session.get("unit_id") or not isinstance(upstream, dict) or not upstream.get("id_token"):
        return None
    state = tokens.token(16)
    url = await rp.logout_url(id_token_hint=upstream["id_token"], post_logout_redirect_uri=f"{issuer}/logged-out", state=state)
    if url is None:
        log.warning("gdzwfw logout unavailable; provincial session left to its own timeout")
        return None
    session[AFTER_LOGOUT] = {"state": state, "to": destination or ""}
    log.info("continuing logout upstream", extra={"fields": {"has_destination": bool(destination)}})
    return url


def end_person_logins(provider: Provider, *, person_id: str) -> int:
    """Revoke what every login of this person holds: the tokens issued while
    it acted (``act``) for any unit it is or was bound to. The number of
    tokens revoked."""
    with provider.db.transaction() as s:
        units = [unit.id for _, unit in bindings_of_person(s, person_id=person_id)]
    return provider.end_logins_of(person_id, subjects=units)


def logout_router(*, provider: Provider, rp: RelyingParty, kv: KeyValueStore) -> APIRouter:
    router = APIRouter(prefix="/isso")
    validator = LogoutTokenValidator(rp=rp, kv=kv, clock=provider.config.clock)

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
        # Marked ended first: from then on the browser sessions count as
        # logged out, even if ending their tokens below fails.
        with provider.db.transaction() as s:
            isso_sids = end_federated_logins(s, issuer=rp.issuer, upstream_sid=upstream_sid, now=provider.config.clock.now())
        provider.end_sessions_by_sid(isso_sids)
        return isso_sids

    return router
