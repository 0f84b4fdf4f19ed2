"""Back-channel logout from hrss_isso (OIDC Back-Channel Logout 1.0).

The ISSO names its session (``sid``). The portal then

- marks that sid ended (``refund-ended:<sid>``): a browser session whose
  login carried it is cleared on its next request, and
- drops the introspection results it cached for bearer tokens issued under
  that sid (``refund-introspected:<sid>`` lists their cache keys), so a
  token the ISSO has just revoked is refused at once, not after the cache
  bound.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter

from shared.kvstore import KeyValueStore
from shared.oauth.backchannel import LogoutTokenValidator, logout_receiver
from shared.oauth.client import RelyingParty
from shared.randomness import hash_secret

__all__ = ["backchannel_router", "login_ended", "remember_introspected"]

log = logging.getLogger("refund.logout")
ENDED = "refund-ended:"
INTROSPECTED = "refund-introspected:"
# shared.oauth.introspection keeps its results under this key (see its forget()).
INTROSPECTION_CACHE = "introspect:"


def login_ended(kv: KeyValueStore, session: dict[str, Any]) -> bool:
    sid = session.get("isso_sid")
    return bool(sid) and kv.get(ENDED + str(sid)) is not None


def remember_introspected(kv: KeyValueStore, *, sid: str, token: str, ttl: int) -> None:
    key = INTROSPECTED + sid
    known = list(kv.get(key) or [])
    digest = hash_secret(token)
    if digest not in known:
        known.append(digest)
        kv.set(key, known[-50:], ttl)


def _end(kv: KeyValueStore, sid: str, ttl: int) -> int:
    kv.set(ENDED + sid, 1, ttl)
    digests = list(kv.pop(INTROSPECTED + sid) or [])
    for digest in digests:
        kv.delete(INTROSPECTION_CACHE + digest)
    return len(digests)


def backchannel_router(*, rp: RelyingParty, kv: KeyValueStore, clock, ttl: int) -> APIRouter:
    router = APIRouter()
    validator = LogoutTokenValidator(rp=rp, kv=kv, clock=clock)

    router.add_api_route(
        "/auth/backchannel-logout",
        logout_receiver(validator, lambda sid: _end(kv, sid, ttl), source="hrss_isso"),
        methods=["POST"],
        include_in_schema=False,
    )
    return router
