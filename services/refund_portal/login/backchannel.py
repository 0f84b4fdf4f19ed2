"""Back-channel logout from hrss_isso (OIDC Back-Channel Logout 1.0).

The ISSO names its session (``sid``). The portal then

- marks that sid ended (``refund-ended:<sid>``): a browser session whose
  login carried it is cleared on its next request, and
- has the introspector drop the results it cached for bearer tokens issued
  under that sid (``TokenIntrospector.forget_session``), so a token the ISSO
  has just revoked is refused at once, not after the cache bound.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from fastapi import Request, Response

from shared.clock import Clock
from shared.kvstore import KeyValueStore
from shared.oauth.backchannel import LogoutTokenValidator, logout_receiver
from shared.oauth.client import RelyingParty
from shared.oauth.introspection import TokenIntrospector

__all__ = ["backchannel_receiver", "end_login", "login_ended"]

log = logging.getLogger("refund.logout")
ENDED = "refund-ended:"


def login_ended(kv: KeyValueStore, session: dict[str, Any]) -> bool:
    sid = session.get("isso_sid")
    return bool(sid) and kv.get(ENDED + str(sid)) is not None


def end_login(kv: KeyValueStore, introspector: TokenIntrospector, sid: str, *, ttl: int) -> int:
    """The ISSO ended its session ``sid``: so do the portal's logins under it."""
    kv.set(ENDED + sid, 1, ttl)
    return introspector.forget_session(sid)


def backchannel_receiver(
    *, rp: RelyingParty, kv: KeyValueStore, introspector: TokenIntrospector, clock: Clock, ttl: int
) -> Callable[[Request], Awaitable[Response]]:
    """The receiving end of the notices (built at start-up; the route in
    :mod:`services.refund_portal.login.routes` hands each request to it)."""
    validator = LogoutTokenValidator(rp=rp, kv=kv, clock=clock)
    return logout_receiver(validator, partial(end_login, kv, introspector, ttl=ttl), source="hrss_isso")
