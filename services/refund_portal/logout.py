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

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from shared.kvstore import KeyValueStore
from shared.oauth.backchannel import LogoutTokenInvalid, LogoutTokenValidator
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

    @router.post("/auth/backchannel-logout", include_in_schema=False)
    async def backchannel_logout(request: Request) -> Response:
        headers = {"Cache-Control": "no-store"}
        form = await request.form()
        token = form.get("logout_token")
        if not isinstance(token, str) or not token:
            return JSONResponse({"error": "invalid_request"}, status_code=400, headers=headers)
        try:
            claims = await validator.validate(token)
        except LogoutTokenInvalid as exc:
            log.warning("back-channel logout refused", extra={"fields": {"reason": str(exc)[:200]}})
            return JSONResponse({"error": "invalid_request"}, status_code=400, headers=headers)
        sid = claims.get("sid")
        if not sid:
            log.info("back-channel logout without sid ignored")
            return Response(status_code=200, headers=headers)
        dropped = await run_in_threadpool(_end, kv, str(sid), ttl)
        log.info("back-channel logout from the ISSO", extra={"fields": {"cached_results_dropped": dropped}})
        return Response(status_code=200, headers=headers)

    return router
