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
from typing import Any

from fastapi import APIRouter

from shared.kvstore import KeyValueStore
from shared.oauth.backchannel import LogoutTokenValidator, logout_receiver
from shared.oauth.client import RelyingParty
from shared.oauth.introspection import TokenIntrospector

__all__ = ["backchannel_router", "login_ended"]

log = logging.getLogger("refund.logout")
ENDED = "refund-ended:"


def login_ended(kv: KeyValueStore, session: dict[str, Any]) -> bool:
    sid = session.get("isso_sid")
    return bool(sid) and kv.get(ENDED + str(sid)) is not None


def _end(kv: KeyValueStore, introspector: TokenIntrospector, sid: str, ttl: int) -> int:
    kv.set(ENDED + sid, 1, ttl)
    return introspector.forget_session(sid)


def backchannel_router(*, rp: RelyingParty, kv: KeyValueStore, introspector: TokenIntrospector, clock, ttl: int) -> APIRouter:
    router = APIRouter()
    validator = LogoutTokenValidator(rp=rp, kv=kv, clock=clock)

    router.add_api_route(
        "/auth/backchannel-logout",
        logout_receiver(validator, lambda sid: _end(kv, introspector, sid, ttl), source="hrss_isso"),
        methods=["POST"],
        include_in_schema=False,
    )
    return router
