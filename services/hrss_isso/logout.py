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

from services.hrss_isso.accounts.bindings import bindings_of_person
from services.hrss_isso.accounts.units import end_federated_logins
from shared.oauth.client import RelyingParty
from shared.oauth.provider.provider import Provider
from shared.randomness import TokenSource

__all__ = ["AFTER_LOGOUT", "upstream_logout_url", "end_person_logins", "end_isso_sessions"]

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


def end_isso_sessions(provider: Provider, *, issuer: str, upstream_sid: str) -> list[str]:
    """gdzwfw_idp (``issuer``) ended its session ``upstream_sid``: end the
    ISSO sessions made from it. Their ISSO sids."""
    # Marked ended first: from then on the browser sessions count as
    # logged out, even if ending their tokens below fails.
    with provider.db.transaction() as s:
        isso_sids = end_federated_logins(s, issuer=issuer, upstream_sid=upstream_sid, now=provider.config.clock.now())
    provider.end_sessions_by_sid(isso_sids)
    return isso_sids
