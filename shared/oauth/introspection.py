"""Resource-server side: validate bearer tokens by RFC 7662 introspection.

Results are cached in the shared store no longer than the token lives and no
longer than ``cache_seconds`` (the configured bound after which a revoked
token is refused). Only answers from the expected issuer count.

An active result naming the login (``sid``) is also listed under that sid,
so that when the login ends (a back-channel logout) :meth:`forget_session`
drops its tokens' results at once instead of after the bound.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from starlette.concurrency import run_in_threadpool

from shared.clock import Clock
from shared.kvstore import KeyValueStore
from shared.randomness import hash_secret

__all__ = ["TokenIntrospector", "IntrospectionUnavailable"]

log = logging.getLogger("oauth.introspection")
_CACHE = "introspect:"  # + the token's hash: one cached result
_SESSION = "introspect-sid:"  # + a login's sid, hashed: the cache keys of its tokens' results
_SESSION_KEEP = 50


class IntrospectionUnavailable(Exception):
    """The authorization server could not be asked (down, slow, error)."""


class TokenIntrospector:
    def __init__(
        self,
        *,
        endpoint: Callable[[], Awaitable[str]],
        issuer: str,
        client_id: str,
        client_secret: str,
        cache: KeyValueStore,
        clock: Clock,
        cache_seconds: int,
        http: httpx.AsyncClient,
    ) -> None:
        self._endpoint = endpoint
        self.issuer = issuer
        self._auth = (client_id, client_secret)
        self.cache = cache
        self.clock = clock
        self.cache_seconds = cache_seconds
        self.http = http

    async def active_claims(self, token: str) -> dict[str, Any] | None:
        """The token's claims if it is active and ours, else None."""
        key = _CACHE + hash_secret(token)
        now = self.clock.timestamp()
        cached = await self.cache.aget(key)
        if cached is not None:
            return cached if cached.get("active") and int(cached.get("exp", 0)) > now else None
        try:
            response = await self.http.post(
                await self._endpoint(), data={"token": token, "token_type_hint": "access_token"}, auth=self._auth
            )
        except httpx.HTTPError as exc:
            raise IntrospectionUnavailable(str(exc)) from exc
        if response.status_code != 200:
            raise IntrospectionUnavailable(f"introspection answered {response.status_code}")
        data = response.json()
        # Only access tokens authorise API calls; introspection also knows
        # refresh tokens, which must never work as bearer credentials.
        active = (
            bool(data.get("active"))
            and data.get("iss") == self.issuer
            and int(data.get("exp", 0)) > now
            and data.get("token_type", "Bearer").lower() != "refresh_token"
        )
        if not active:
            await run_in_threadpool(self.cache.set, key, {"active": False}, self.cache_seconds)
            return None
        ttl = max(min(self.cache_seconds, int(data["exp"]) - now), 1)
        await run_in_threadpool(self.cache.set, key, data, ttl)
        if data.get("sid"):
            await run_in_threadpool(self._list_under_session, str(data["sid"]), key, ttl)
        return data

    async def forget(self, token: str) -> None:
        await run_in_threadpool(self.cache.delete, _CACHE + hash_secret(token))

    def forget_session(self, sid: str) -> int:
        """Drop the cached results of the tokens issued under the login
        ``sid``, so that the next call with one asks the server again; how
        many results were listed for it (some may have expired already).
        Blocking, as the store is: async callers run it in a thread, as the
        back-channel logout receiver runs its handler."""
        keys = list(self.cache.pop(_session_key(sid)) or [])
        for key in keys:
            self.cache.delete(key)
        return len(keys)

    def _list_under_session(self, sid: str, key: str, ttl: int) -> None:
        # Rewritten on every caching, so the list outlives every result it
        # names. Read-modify-write: two results cached at the same moment can
        # lose one from the list, which then lasts only to the cache bound,
        # as without the list. Only the latest are kept (a login's refreshed
        # tokens; older results expire sooner anyway).
        listed = [k for k in (self.cache.get(_session_key(sid)) or []) if k != key]
        self.cache.set(_session_key(sid), [*listed, key][-_SESSION_KEEP:], max(ttl, self.cache_seconds))


def _session_key(sid: str) -> str:
    # Hashed: the sid is the server's, of any length, and store keys are bounded.
    return _SESSION + hash_secret(sid)
